"""Claiming parties for work that must happen once per party: releases and settlement runs.

On PostgreSQL a worker locks the party rows it works on (FOR NO KEY UPDATE, which does not block the key-share
locks that inserting a payment or an allocation takes on its party). With `skip_locked`, rows another worker
holds are passed over, so several workers share a run without waiting on each other; the same lock taken
without `skip_locked` waits, which is what a single confirmation does. Every piece of work re-reads what is
already done after taking the lock, in a new statement: a worker that waited sees the other's commit.
SQLite runs one transaction at a time, so there the claim is the list itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from tortoise.transactions import in_transaction

from domain.services import dialect


async def claim(party_ids: Iterable[int], *, skip_locked: bool) -> list[int]:
    """Locks the parties (ascending id: the one order every claimant uses) until the transaction ends; returns
    the ones claimed. Call inside a transaction."""
    ids = sorted(set(party_ids))
    if not ids or not dialect.is_postgres():
        return ids
    rows = await dialect.rows(
        "SELECT id FROM parties WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE"  # noqa: S608 - no input in it
        + (" SKIP LOCKED" if skip_locked else ""),
        ids,
    )
    return [int(row["id"]) for row in rows]


def chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


async def in_chunks(
    party_ids: Iterable[int],
    size: int,
    work: Callable[[list[int]], Awaitable[None]],
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Runs `work` over the parties in chunks of `size`, each chunk one transaction with its parties claimed.
    Parties another worker holds are passed over first, then waited for: one call leaves none behind, and a
    crash loses at most the chunk in hand. `progress(done, total)` follows each chunk."""
    ids = sorted(set(party_ids))
    done = 0

    async def run(chunk: list[int], *, skip_locked: bool) -> list[int]:
        nonlocal done
        async with in_transaction():
            claimed = await claim(chunk, skip_locked=skip_locked)
            await work(claimed)
        done += len(claimed)
        if progress:
            progress(done, len(ids))
        return sorted(set(chunk) - set(claimed))

    waiting: list[int] = []
    for chunk in chunks(ids, size):
        waiting += await run(chunk, skip_locked=True)
    for chunk in chunks(waiting, size):
        await run(chunk, skip_locked=False)
