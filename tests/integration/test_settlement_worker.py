"""`splitledger release`, `settle` and `worker`, end to end: each runs in a subprocess on the test database.

The commands work on every party in the database, not on a test's own only. So each test makes its own
merchants and pays them in Singapore dollars, which no other test uses, and `settle` runs with `--currency SGD`;
`release` is given an instant in January 2025, before any other test's payment. `worker --once` does take
whatever else is due: that is its job. Assertions are about a test's own parties.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tortoise.transactions import in_transaction

from api.cli import ProgressPrinter
from domain.models import Allocation, Payout, Release, Settlement, SettlementLine, SettlementRun
from domain.parties import KycStatus, SettlementCycle
from domain.payments import LineItemInput
from domain.services import ledger, parties, payments, releases
from domain.services.parties import MerchantDraft, SettlementProfileDraft
from tests.conftest import operator_principal, payment_input, unique

ROOT = Path(__file__).resolve().parents[2]
JAN_2025 = datetime(2025, 1, 6, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, long before any other test's payment


@dataclass(frozen=True)
class Ran:
    status: int
    stdout: str
    stderr: str


def command_env(database_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SPLITLEDGER_")}
    env["SPLITLEDGER_DATABASE_URL"] = database_url
    return env


async def start_splitledger(database_url: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        *args,
        cwd=ROOT,
        env=command_env(database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finished(process: asyncio.subprocess.Process, *, timeout_s: float = 120) -> Ran:
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout_s)
    assert process.returncode is not None
    return Ran(process.returncode, stdout.decode(), stderr.decode())


async def splitledger(database_url: str, *args: str) -> Ran:
    """`splitledger ARGS...` with the test database configured, as an operator would run it."""
    return await finished(await start_splitledger(database_url, *args))


@asynccontextmanager
async def held_open(sql: str, *args: object) -> AsyncIterator[None]:
    """Runs `sql` in a transaction that stays open, with the locks it took, until the block ends."""
    taken, done = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with in_transaction() as connection:
            await connection.execute_query(sql, list(args))
            taken.set()
            await done.wait()

    holder = asyncio.create_task(hold())
    await taken.wait()
    try:
        yield
    finally:
        done.set()
        await holder


def party_locked(party_id: int):
    """Holds the party's row lock, as a worker busy with the party would. PostgreSQL only."""
    return held_open("SELECT id FROM parties WHERE id = $1 FOR NO KEY UPDATE", party_id)


def minor_to_text(amount_minor: int) -> str:
    return f"{amount_minor // 100}.{amount_minor % 100:02d}"


async def paid_merchant(
    runtime,
    platform_id: int,
    *,
    currency: str,
    amount_minor: int,
    paid_at: datetime,
    minimum_payout: str = "0",
    reserve_bps: int = 0,
    reserve_days: int = 0,
) -> int:
    """A verified merchant settled daily at T+0 with no hold, and one payment of `amount_minor` to it."""
    operator = operator_principal(platform_id)
    profile = SettlementProfileDraft(
        currency=currency,
        cycle=SettlementCycle.DAILY,
        anchor_day=0,
        delay_days=0,
        minimum_payout=minimum_payout,
        hold_days=0,
        reserve_bps=reserve_bps,
        reserve_days=reserve_days,
    )
    merchant = await parties.create_merchant(
        operator,
        runtime,
        MerchantDraft(name=unique("Worker Tea"), kyc_status=KycStatus.VERIFIED, settlement_profile=profile),
    )
    amount = minor_to_text(amount_minor)
    await payments.record_payment(
        operator,
        runtime,
        payment_input(
            merchant.id,
            currency=currency,
            total_amount=amount,
            line_items=[LineItemInput("worker-tea", "worker-tea", amount, 1)],
            shipping_fee="0",
            paid_at=paid_at,
        ),
    )
    return merchant.id


async def share_of(party_id: int) -> int:
    """What the party's payments gave it (whatever rules other tests left active)."""
    return sum(a.amount_minor for a in await Allocation.filter(party_id=party_id))


async def test_release_moves_the_shares_due_at_the_instant_given_and_prints_what_it_released(
    database_url, runtime, world
):
    merchant_id = await paid_merchant(runtime, world.platform_id, currency="SGD", amount_minor=12_345, paid_at=JAN_2025)

    ran = await splitledger(database_url, "release", "--as-of", (JAN_2025 + timedelta(hours=1)).isoformat())

    assert ran.status == 0, ran.stderr
    assert re.fullmatch(
        r"released [\d,]+ shares? as of 2025-01-06T11:00:00\+08:00 in [\d.]+ s \([\d,]+ part(y|ies) holding funds, "
        r"[\d,]+ entr(y|ies)\): (.*; )?SGD [\d.]+(; .*)?\n",
        ran.stdout,
    ), ran.stdout
    [release] = await Release.filter(party_id=merchant_id)
    assert release.amount_minor == await share_of(merchant_id)
    assert release.released_at > JAN_2025  # posted now, releasing what was due then


async def test_settle_writes_the_statement_and_payout_of_what_was_released_and_a_rerun_writes_nothing(
    database_url, runtime, world
):
    merchant_id = await paid_merchant(runtime, world.platform_id, currency="SGD", amount_minor=20_000, paid_at=JAN_2025)
    await releases.release_held_funds(
        operator_principal(world.platform_id), runtime, JAN_2025 + timedelta(hours=1), only_party_ids=[merchant_id]
    )
    share = await share_of(merchant_id)

    ran = await splitledger(database_url, "settle", "--currency", "SGD")

    assert ran.status == 0, ran.stderr
    summary = re.fullmatch(
        r"settlement run (\d+) \(cut-off [^ ]+, SGD only\): ([\d,]+) statements?, ([\d,]+) payouts? in [\d.]+ s "
        r"\(.*\); SGD: [\d,]+ statements?, net [\d.]+, .*\n",
        ran.stdout,
    )
    assert summary, ran.stdout
    run = await SettlementRun.get(id=int(summary[1]))
    assert (run.status, run.currency, run.started_by_user_id, run.started_by_api_key_id) == (
        "COMPLETED",
        "SGD",
        None,
        None,
    )
    assert run.statements_created == int(summary[2].replace(",", "")) >= 1
    [statement] = await Settlement.filter(party_id=merchant_id)
    assert (statement.run_id, statement.currency, statement.net_minor, statement.payout_minor) == (
        run.id,
        "SGD",
        share,
        share,
    )
    lines = await SettlementLine.filter(settlement_id=statement.id).order_by("id")
    assert [(line.kind, line.amount_minor) for line in lines] == [("RELEASE", share), ("PAYOUT", -share)]
    [payout] = await Payout.filter(settlement_id=statement.id)
    assert (payout.amount_minor, payout.started_by_user_id) == (share, None)  # the system, not a person, started it

    again = await splitledger(database_url, "settle", "--currency", "SGD")

    assert again.status == 0, again.stderr
    assert ": 0 statements, 0 payouts in " in again.stdout
    assert await Settlement.filter(party_id=merchant_id).count() == 1


def test_progress_is_printed_as_parties_done_of_all_with_a_rate():
    printed = io.StringIO()
    progress = ProgressPrinter(printed, every_s=0)

    progress(1_500, 10_000)

    assert re.fullmatch(r"parties 1,500/10,000, [\d,]+ parties/s\n", printed.getvalue()), printed.getvalue()


def test_a_short_run_prints_no_progress():
    printed = io.StringIO()
    progress = ProgressPrinter(printed)

    progress(500, 1_000)
    progress(1_000, 1_000)

    assert printed.getvalue() == ""


FUTURE = (datetime.now(UTC) + timedelta(days=3)).isoformat()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["settle", "--cutoff", FUTURE], "--cutoff " + FUTURE[:10]),
        (["settle", "--cutoff", "2026-11-01T02:00:00"], "--cutoff needs a time zone offset"),
        (["settle", "--currency", "XYZ"], "--currency: unknown currency 'XYZ'"),
        (["settle", "--currency", "ISK"], "--currency: no party holds money in ISK"),
        (["release", "--as-of", FUTURE], "--as-of " + FUTURE[:10]),
        (["release", "--as-of", "yesterday"], "argument --as-of: 'yesterday' is not an ISO 8601 instant"),
        (["worker", "--settle-at", "25:00"], "argument --settle-at: '25:00' is not a time of day"),
    ],
)
async def test_bad_input_exits_with_status_2_naming_the_option_and_writes_nothing(database_url, args, said):
    runs, released = await SettlementRun.all().count(), await Release.all().count()

    ran = await splitledger(database_url, *args)

    assert ran.status == 2
    assert said in ran.stderr, ran.stderr
    assert ran.stdout == ""
    assert (await SettlementRun.all().count(), await Release.all().count()) == (runs, released)


async def test_worker_once_releases_then_settles_and_logs_both(database_url, runtime, world):
    merchant_id = await paid_merchant(
        runtime,
        world.platform_id,
        currency="SGD",
        amount_minor=31_400,
        paid_at=datetime.now(UTC) - timedelta(minutes=10),
    )

    ran = await splitledger(database_url, "worker", "--once")

    assert ran.status == 0, ran.stderr
    release_log = ran.stderr.index('"message": "release: released ')
    settlement_log = ran.stderr.index('"message": "settlement: settlement run ')
    assert release_log < settlement_log
    share = await share_of(merchant_id)
    [release] = await Release.filter(party_id=merchant_id)
    [statement] = await Settlement.filter(party_id=merchant_id)
    assert release.amount_minor == statement.net_minor == statement.payout_minor == share
    assert (await ledger.verify_ledger(operator_principal(world.platform_id))).ok


@pytest.mark.postgres_only
async def test_a_stopped_worker_finishes_the_job_in_progress_before_it_exits(database_url, runtime, world):
    from tests.integration.races import writers_waiting

    merchant_id = await paid_merchant(
        runtime,
        world.platform_id,
        currency="SGD",
        amount_minor=5_000,
        paid_at=datetime.now(UTC) - timedelta(minutes=10),
    )
    async with party_locked(merchant_id):
        worker = await start_splitledger(database_url, "worker", "--release-every", "3600")
        try:
            await writers_waiting(1, timeout_s=60)  # its first release waits for our party
            worker.send_signal(signal.SIGTERM)
            with suppress(TimeoutError):
                await asyncio.wait_for(worker.wait(), 1)
            assert worker.returncode is None, "the worker left its release unfinished"
        except BaseException:
            worker.kill()
            raise

    ran = await finished(worker)

    assert ran.status == 0, ran.stderr
    assert ran.stderr.index('"message": "stopping once') < ran.stderr.index('"message": "release: released ')
    assert '"message": "worker stopped"' in ran.stderr
    assert await Release.filter(party_id=merchant_id).count() == 1
