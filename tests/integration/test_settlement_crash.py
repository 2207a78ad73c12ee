"""Settlement under several workers and after a crash, with `splitledger settle` in subprocesses on PostgreSQL.

Two runs at once write every statement once; a run killed with SIGKILL halfway, then run again, leaves the
statements and the ledger a clean run leaves. Each test pays its own merchants in a currency no other test uses
and settles that currency only, so other tests' money stays where it is.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from domain.models import Payout, Settlement, SettlementLine, SettlementRun
from domain.services import ledger, releases
from tests.conftest import operator_principal
from tests.integration.races import writers_waiting
from tests.integration.test_settlement_worker import (
    finished,
    held_open,
    paid_merchant,
    party_locked,
    start_splitledger,
)

pytestmark = pytest.mark.postgres_only


def amount_of(index: int) -> int:
    """Different figures for every merchant: 50.00, 51.37, 52.74, ..."""
    return 5_000 + 137 * index


def terms_of(index: int) -> dict:
    """Every fourth merchant has a minimum payout of 100.00 (the smaller nets are carried forward), every fifth
    holds a 10 % rolling reserve."""
    return {
        "minimum_payout": "100.00" if index % 4 == 0 else "0",
        "reserve_bps": 1_000 if index % 5 == 0 else 0,
        "reserve_days": 30 if index % 5 == 0 else 0,
    }


async def released_merchants(runtime, world, currency: str, count: int) -> list[int]:
    """`count` merchants (ascending ids), each paid amount_of(i) ten minutes ago and released: AVAILABLE money."""
    paid_at = datetime.now(UTC) - timedelta(minutes=10)
    ids = []
    for index in range(count):
        ids.append(
            await paid_merchant(
                runtime,
                world.platform_id,
                currency=currency,
                amount_minor=amount_of(index),
                paid_at=paid_at,
                **terms_of(index),
            )
        )
    operator = operator_principal(world.platform_id)
    outcome = await releases.release_held_funds(operator, runtime, datetime.now(UTC), only_party_ids=ids)
    assert outcome.shares_released == count
    return ids


async def statements_of(party_ids: list[int]) -> list[Settlement]:
    return await Settlement.filter(party_id__in=party_ids).order_by("party_id", "id")


async def test_two_runs_at_once_write_each_statement_once(database_url, runtime, world):
    ids = await released_merchants(runtime, world, "HKD", 60)

    # Both runs wait to record themselves until we let them go together; then they share the parties, passing
    # over the first one, which we hold; then both wait for it. So the two overlap and contend for one party.
    runs: list[asyncio.subprocess.Process] = []
    try:
        async with party_locked(ids[0]):
            async with held_open("LOCK TABLE settlement_runs IN SHARE MODE"):
                for _ in range(2):
                    runs.append(
                        await start_splitledger(database_url, "settle", "--currency", "HKD", "--chunk-parties", "5")
                    )
                await writers_waiting(2, timeout_s=120)
            await runs_recorded("HKD", 2)
            await writers_waiting(2, timeout_s=120)
    except BaseException:
        for run in runs:
            run.kill()
        raise
    results = [await finished(run) for run in runs]

    assert [r.status for r in results] == [0, 0], [r.stderr for r in results]
    statements = await statements_of(ids)
    assert [s.party_id for s in statements] == ids  # one statement each, none twice
    assert {s.currency for s in statements} == {"HKD"}
    first, second = await SettlementRun.filter(currency="HKD").order_by("id")
    assert (first.status, second.status) == ("COMPLETED", "COMPLETED")
    assert first.started_at < second.finished_at and second.started_at < first.finished_at
    assert first.statements_created + second.statements_created == len(ids)
    lines = await SettlementLine.filter(party_id__in=ids).values_list("posting_id", flat=True)
    postings = [posting for posting in lines if posting is not None]
    assert len(postings) == len(set(postings))  # no AVAILABLE posting is in two lines
    assert await Payout.filter(party_id__in=ids).count() == sum(1 for s in statements if s.payout_minor > 0)
    assert (await ledger.verify_ledger(operator_principal(world.platform_id))).ok


async def test_a_run_killed_halfway_then_run_again_leaves_what_a_clean_run_leaves(database_url, runtime, world):
    count = 120
    crashed = await released_merchants(runtime, world, "NZD", count)

    # The last party is held, so the run cannot finish before it is killed: it is still settling the others,
    # or waiting for that one, with statements written for a part of them.
    async with party_locked(crashed[-1]):
        run = await start_splitledger(database_url, "settle", "--currency", "NZD", "--chunk-parties", "1")
        try:
            await statements_written(crashed, count // 3)
        finally:
            run.kill()  # SIGKILL: no chance to clean up
            await run.wait()
    written_before_the_crash = await Settlement.filter(party_id__in=crashed).count()
    assert 0 < written_before_the_crash < count

    rerun = await finished(await start_splitledger(database_url, "settle", "--currency", "NZD"))
    assert rerun.status == 0, rerun.stderr

    # The same merchants' figures again, settled in one go by the same command.
    clean = await released_merchants(runtime, world, "NZD", count)
    one_go = await finished(
        await start_splitledger(database_url, "settle", "--currency", "NZD", "--chunk-parties", "1")
    )
    assert one_go.status == 0, one_go.stderr

    assert await figures_of(crashed) == await figures_of(clean)
    assert (
        await SettlementLine.filter(party_id__in=crashed).count()
        == await SettlementLine.filter(party_id__in=clean).count()
    )
    assert await Payout.filter(party_id__in=crashed).count() == await Payout.filter(party_id__in=clean).count()
    killed, completed, in_one_go = await SettlementRun.filter(currency="NZD").order_by("id")
    assert (killed.status, killed.finished_at) == ("RUNNING", None)
    assert (completed.status, completed.statements_created) == ("COMPLETED", count - written_before_the_crash)
    assert (in_one_go.status, in_one_go.statements_created) == ("COMPLETED", count)
    assert (await ledger.verify_ledger(operator_principal(world.platform_id))).ok


async def runs_recorded(currency: str, count: int, *, timeout_s: float = 120) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            if await SettlementRun.filter(currency=currency).count() >= count:
                return
            await asyncio.sleep(0.02)


async def statements_written(party_ids: list[int], at_least: int, *, timeout_s: float = 120) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            if await Settlement.filter(party_id__in=party_ids).count() >= at_least:
                return
            await asyncio.sleep(0.02)


async def figures_of(party_ids: list[int]) -> list[list[tuple[object, ...]]]:
    """Per party (in id order): each statement's figures and its lines' kinds and amounts."""
    figures = []
    for party_id in party_ids:
        per_party = []
        for s in await Settlement.filter(party_id=party_id).order_by("id"):
            lines = await SettlementLine.filter(settlement_id=s.id).order_by("kind", "amount_minor")
            per_party.append(
                (
                    s.opening_minor,
                    s.released_minor,
                    s.reserve_held_minor,
                    s.net_minor,
                    s.payout_minor,
                    s.closing_minor,
                    *((line.kind, line.amount_minor) for line in lines),
                )
            )
        figures.append(per_party)
    return figures
