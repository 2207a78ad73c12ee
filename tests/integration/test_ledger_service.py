"""The ledger service on a real database: posting under ordered locks, and the locked balance check."""

from __future__ import annotations

import asyncio
import logging
from contextlib import contextmanager

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from auth.principal import Principal
from domain.errors import ErrorCode
from domain.ledger import (
    AccountKey,
    Bucket,
    EntryKind,
    JournalEntryDraft,
    SystemAccount,
    UnbalancedEntry,
    capture,
    release,
    settle,
)
from domain.models import JournalEntry
from domain.services import ledger


def is_postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


def available(party_id: int) -> AccountKey:
    return AccountKey("CNY", party_id, Bucket.AVAILABLE)


async def held(operator: Principal, party_id: int) -> dict[str, int]:
    return {b.bucket: b.amount_minor for b in await ledger.balances(operator, party_id)}


async def post(*entries: JournalEntryDraft, **options) -> list[int]:
    async with in_transaction():
        return await ledger.post_entries(list(entries), **options)


@contextmanager
def statements(caplog: pytest.LogCaptureFixture):
    """Counts the SQL statements run inside the block (tortoise logs each one at DEBUG)."""
    counted: list[int] = []
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        yield counted
    counted.append(sum(1 for record in caplog.records if record.name == "tortoise.db_client"))


# --- posting --------------------------------------------------------------------------------------------------


async def test_posting_several_entries_at_once_moves_each_balance_by_its_net_change(operator, make_merchant):
    merchant = await make_merchant()
    ids = await post(
        capture("CNY", 10_000, {merchant.id: 10_000}, memo="bulk"),
        release(merchant.id, "CNY", 4_000),
        settle(merchant.id, "CNY", 1_000),
    )
    assert len(ids) == 3 and ids == sorted(ids)
    kinds = [row.kind for row in await JournalEntry.filter(id__in=ids).order_by("id")]
    assert kinds == [EntryKind.CAPTURE.value, EntryKind.RELEASE.value, EntryKind.SETTLE.value]
    assert await held(operator, merchant.id) == {"PENDING": 6_000, "AVAILABLE": 3_000, "SETTLING": 1_000}
    check = await ledger.verify_ledger(operator)
    assert check.ok, check


async def test_an_entry_tampered_with_after_it_was_built_is_never_posted(make_merchant):
    merchant = await make_merchant()
    entry = capture("CNY", 500, {merchant.id: 500}, memo="to be tampered with")
    object.__setattr__(entry, "postings", entry.postings[:1])  # what a frozen dataclass cannot stop
    with pytest.raises(UnbalancedEntry):
        await post(entry)
    assert not await JournalEntry.filter(memo="to be tampered with").exists()


@pytest.mark.postgres_only
async def test_entries_posted_with_pre_allocated_ids_keep_them(make_merchant):
    merchant = await make_merchant()
    async with in_transaction():
        ids = await ledger.next_ids("journal_entries", 2)
        posted = await ledger.post_entries(
            [capture("CNY", 300, {merchant.id: 300}), release(merchant.id, "CNY", 300)], entry_ids=ids
        )
    assert posted == ids
    assert await JournalEntry.filter(id__in=ids).count() == 2


@pytest.mark.postgres_only
async def test_posting_many_entries_takes_no_more_statements_than_posting_one(make_merchant, caplog):
    merchant = await make_merchant()
    await post(capture("CNY", 100_000, {merchant.id: 100_000}), release(merchant.id, "CNY", 1))  # both accounts
    with statements(caplog) as one:
        await post(release(merchant.id, "CNY", 1))
    with statements(caplog) as many:
        await post(*(release(merchant.id, "CNY", 1) for _ in range(40)))
    assert one == many


@pytest.mark.postgres_only
async def test_concurrent_posters_on_shared_accounts_all_commit(operator, make_merchant):
    """Every poster locks balance rows in ascending id order, after or before inserting its postings (which take
    key-share locks on the accounts): with a plain FOR UPDATE these two kinds of poster deadlocked."""
    merchants = [(await make_merchant()).id for _ in range(3)]

    async def one(index: int) -> None:
        order = merchants[index % 3 :] + merchants[: index % 3]
        entry = capture("CNY", 600, dict(zip(order, (100, 200, 300), strict=True)), memo=f"shared {index}")
        requirement = [ledger.AtLeast(AccountKey("CNY", system=SystemAccount.PSP_CLEARING), 0)] if index % 2 else []
        await post(entry, at_least=requirement)

    await asyncio.gather(*(one(index) for index in range(30)))
    assert sum([(await held(operator, merchant))["PENDING"] for merchant in merchants]) == 30 * 600
    assert (await ledger.verify_ledger(operator)).ok


# --- the locked check ---------------------------------------------------------------------------------------


async def test_a_bucket_that_holds_less_than_asked_refuses_with_insufficient_funds(operator, make_merchant):
    merchant = await make_merchant()
    await post(capture("CNY", 1_000, {merchant.id: 1_000}), release(merchant.id, "CNY", 1_000))
    async with in_transaction():
        assert await ledger.require_at_least(available(merchant.id), 1_000) == 1_000
    with pytest.raises(ledger.InsufficientFunds) as caught:
        async with in_transaction():
            await ledger.require_at_least(available(merchant.id), 1_001)
    assert caught.value.code == ErrorCode.INSUFFICIENT_FUNDS
    assert "1000" in caught.value.message and "1001" in caught.value.message
    with pytest.raises(ledger.InsufficientFunds):
        async with in_transaction():
            await ledger.require_at_least(AccountKey("CNY", merchant.id, Bucket.SETTLING), 1)  # no account yet


async def test_posting_with_a_condition_that_fails_writes_nothing(operator, make_merchant):
    merchant = await make_merchant()
    await post(capture("CNY", 1_000, {merchant.id: 1_000}), release(merchant.id, "CNY", 1_000))
    entries_before = await JournalEntry.all().count()
    async with in_transaction():
        with pytest.raises(ledger.InsufficientFunds):
            await ledger.post_entries(
                [settle(merchant.id, "CNY", 1_500)], at_least=[ledger.AtLeast(available(merchant.id), 1_500)]
            )
        # The caller caught it and its transaction goes on: nothing of the refused entry is there to commit.
        await ledger.post_entries(
            [settle(merchant.id, "CNY", 400)], at_least=[ledger.AtLeast(available(merchant.id), 400)]
        )
    assert await JournalEntry.all().count() == entries_before + 1
    assert await held(operator, merchant.id) == {"PENDING": 0, "AVAILABLE": 600, "SETTLING": 400}


@pytest.mark.postgres_only
@pytest.mark.parametrize("how", ["require_at_least", "post_entries(at_least=)"])
async def test_of_concurrent_moves_of_more_than_half_a_balance_exactly_one_succeeds(operator, make_merchant, how):
    merchant = await make_merchant()
    await post(capture("CNY", 1_000, {merchant.id: 1_000}), release(merchant.id, "CNY", 1_000))

    async def move_600() -> str:
        try:
            async with in_transaction():
                if how == "require_at_least":
                    await ledger.require_at_least(available(merchant.id), 600)
                    await asyncio.sleep(0.05)  # without the row lock, every task would have passed by now
                    await ledger.post_entries([settle(merchant.id, "CNY", 600)])
                else:
                    await ledger.post_entries(
                        [settle(merchant.id, "CNY", 600)], at_least=[ledger.AtLeast(available(merchant.id), 600)]
                    )
        except ledger.InsufficientFunds:
            return "refused"
        return "moved"

    outcomes = await asyncio.gather(*(move_600() for _ in range(8)))
    assert sorted(outcomes) == ["moved"] + ["refused"] * 7
    assert await held(operator, merchant.id) == {"PENDING": 0, "AVAILABLE": 400, "SETTLING": 600}
