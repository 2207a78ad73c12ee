"""Making races happen on PostgreSQL on purpose, rather than hoping the scheduler interleaves two writers.

`key_held_open` inserts a payment row with a given (merchant, idempotency key) in a transaction that it keeps
open, so every writer that reaches that key waits there, holding the rows it has inserted so far; `writers_waiting`
returns once that many sessions wait on a lock. Leaving the block rolls the row back and lets them all go on at
once: two writers that inserted the same keys in opposite orders then deadlock, every time.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime

from tortoise import connections
from tortoise.transactions import in_transaction

from domain.models import Payment


class _RollBack(Exception):
    pass


@asynccontextmanager
async def key_held_open(merchant_id: int, idempotency_key: str) -> AsyncIterator[None]:
    held, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        with suppress(_RollBack):
            async with in_transaction():
                await Payment.create(
                    merchant_id=merchant_id,
                    idempotency_key=idempotency_key,
                    external_order_id=f"blocker-{secrets.token_hex(6)}",
                    request_hash="blocker",
                    currency="CNY",
                    goods_minor=100,
                    shipping_fee_minor=0,
                    total_minor=100,
                    channel="DEFAULT",
                    region="DEFAULT",
                    paid_at=datetime.now(UTC),
                )
                held.set()
                await release.wait()
                raise _RollBack

    holder = asyncio.create_task(hold())
    await held.wait()
    try:
        yield
    finally:
        release.set()
        await holder


async def writers_waiting(count: int, *, timeout_s: float = 10) -> None:
    """Returns once `count` sessions of this database wait on a lock (row or transaction id)."""
    async with asyncio.timeout(timeout_s):
        while True:
            rows = await connections.get("default").execute_query_dict(
                "SELECT count(*) AS waiting FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if int(rows[0]["waiting"]) >= count:
                return
            await asyncio.sleep(0.01)
