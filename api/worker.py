"""The settlement worker: releases held funds every few minutes and settles once a day, on APScheduler.

The scheduler only says when. That each share is released once and each statement written once, however many
workers run, rests on the services: on PostgreSQL they claim parties with row locks (FOR NO KEY UPDATE SKIP
LOCKED) and the unique keys refuse a second release, statement or line. So several machines may run
`splitledger worker` against one PostgreSQL database; SQLite has no row locks, and takes one worker. The jobs
are periodic and need triggers, not a queue, which is why this is APScheduler in the process rather than a job
queue such as procrastinate (whose queue lives in PostgreSQL, while the embedded default is SQLite).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from tortoise.context import TortoiseContext

from api.db import tortoise_config
from api.settings import Settings
from auth.principal import Principal
from domain.models import SettlementRun
from domain.money import Money
from domain.parties import PartyKind
from domain.services import releases, settlement_runs
from domain.services.runtime import Runtime

logger = logging.getLogger("splitledger.worker")

Progress = Callable[[int, int], None]


class SystemPrincipal(Principal):
    """The platform itself, acting from `splitledger release`, `settle` and `worker`: no user, no API key, no
    login. Whoever can start these commands holds the database URL, which already allows more than any login.
    Runs and payouts it starts name no user (`started_by_user_id` is None)."""

    @property
    def is_authenticated(self) -> bool:
        return True


# Only what releasing and settling need: this principal never serves a request.
SYSTEM = SystemPrincipal(
    user_id=None,
    party_id=None,
    party_kind=PartyKind.PLATFORM,
    role="platform_finance",
    permissions=frozenset({"settlements:run"}),
)


async def release(
    runtime: Runtime,
    as_of: datetime | None = None,
    *,
    chunk_parties: int | None = None,
    progress: Progress | None = None,
) -> releases.ReleaseOutcome:
    """Releases every share due at `as_of` (now when None)."""
    return await releases.release_held_funds(
        SYSTEM,
        runtime,
        as_of or runtime.now(),
        chunk_parties=chunk_parties or releases.CHUNK_PARTIES,
        progress=progress,
    )


async def settle(
    runtime: Runtime,
    cutoff: datetime | None = None,
    *,
    currency: str | None = None,
    chunk_parties: int | None = None,
    progress: Progress | None = None,
) -> SettlementRun:
    """Settles every party and currency due at `cutoff` (now when None), in `currency` only when given."""
    return await settlement_runs.run_settlement(
        SYSTEM,
        runtime,
        cutoff or runtime.now(),
        currency=currency,
        chunk_parties=chunk_parties or settlement_runs.CHUNK_PARTIES,
        progress=progress,
    )


def release_summary(outcome: releases.ReleaseOutcome, zone: ZoneInfo) -> str:
    totals = "; ".join(_money(amount, code) for code, amount in sorted(outcome.totals_minor.items()))
    return (
        f"released {_count(outcome.shares_released, 'share')} as of {_instant(outcome.as_of, zone)} "
        f"in {outcome.duration_ms / 1000:.2f} s ({_count(outcome.parties_considered, 'party', 'parties')} "
        f"holding funds, {_count(outcome.entries_posted, 'entry', 'entries')})" + (f": {totals}" if totals else "")
    )


def settlement_summary(run: SettlementRun, zone: ZoneInfo) -> str:
    per_currency = []
    for code, figures in sorted(json.loads(run.totals).items()):
        payouts = figures.get("payouts", 0)
        per_currency.append(
            f"{code}: {_count(figures['statements'], 'statement')}, net {_amount(figures['net_minor'], code)}, "
            + (f"{_count(payouts, 'payout')} {_amount(figures['payout_minor'], code)}" if payouts else "no payout")
        )
    return (
        f"settlement run {run.id} (cut-off {_instant(run.cutoff, zone)}"
        + (f", {run.currency} only" if run.currency else "")
        + f"): {_count(run.statements_created, 'statement')}, {_count(run.payouts_created, 'payout')} "
        f"in {(run.duration_ms or 0) / 1000:.2f} s ({_count(run.parties_considered, 'party', 'parties')} "
        f"considered, {_count(run.skipped_unverified, 'unverified merchant')} skipped)"
        + (f"; {'; '.join(per_currency)}" if per_currency else "")
    )


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number:,} {one if number == 1 else many or one + 's'}"


def _money(amount_minor: int, currency: str) -> str:
    return f"{currency} {_amount(amount_minor, currency)}"


def _amount(amount_minor: int, currency: str) -> str:
    return Money(amount_minor, currency).format()


def _instant(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Schedule:
    release_every_s: int
    settle_at: time  # local time in `zone`
    zone: ZoneInfo  # the settlement time zone (Settings.settlement_time_zone)


class Worker:
    """Runs the two jobs, one at a time, until told to stop; a stop lets the job in progress finish."""

    def __init__(self, runtime: Runtime, schedule: Schedule) -> None:
        self._runtime = runtime
        self._schedule = schedule
        # One job at a time in a process: release and settlement meeting at the settlement time queue up rather
        # than compete for the same parties (SQLite's single connection would serialise them anyway).
        self._one_job_at_a_time = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._current: asyncio.Task[object] | None = None
        self.failures = 0

    async def release_job(self) -> None:
        await self._run("release", self._release)

    async def settle_job(self) -> None:
        await self._run("settlement", self._settle)

    async def _release(self) -> str:
        return release_summary(await release(self._runtime), self._schedule.zone)

    async def _settle(self) -> str:
        return settlement_summary(await settle(self._runtime), self._schedule.zone)

    async def _run(self, name: str, job: Callable[[], Awaitable[str]]) -> None:
        async with self._one_job_at_a_time:
            if self._stopping.is_set():
                return
            self._current = asyncio.current_task()
            try:
                summary = await job()
            except asyncio.CancelledError:
                logger.warning("%s abandoned; the chunk of parties it was on is rolled back", name)
                raise
            except Exception:
                # The next run redoes what this one did not finish: every chunk is its own transaction.
                self.failures += 1
                logger.exception("%s failed", name)
            else:
                logger.info("%s: %s", name, summary)
            finally:
                self._current = None

    def stop(self) -> None:
        """The first call lets the job in progress finish; a second abandons it (its open chunk rolls back)."""
        if not self._stopping.is_set():
            logger.info("stopping once the job in progress (if any) has finished; signal again to abandon it")
            self._stopping.set()
        elif self._current is not None:
            self._current.cancel()

    async def run_once(self) -> bool:
        """Release, then settlement; True when both succeeded."""
        with _stop_on_signals(self):
            await self.release_job()
            await self.settle_job()
        return self.failures == 0

    async def run_until_stopped(self) -> None:
        schedule = self._schedule
        scheduler = AsyncIOScheduler(timezone=schedule.zone)
        scheduler.add_job(
            self.release_job,
            IntervalTrigger(seconds=schedule.release_every_s, timezone=schedule.zone),
            id="release",
            name="release held funds",
            next_run_time=datetime.now(schedule.zone),  # a (re)started worker releases at once
            max_instances=1,
            coalesce=True,
            misfire_grace_time=schedule.release_every_s,
        )
        scheduler.add_job(
            self.settle_job,
            CronTrigger(hour=schedule.settle_at.hour, minute=schedule.settle_at.minute, timezone=schedule.zone),
            id="settle",
            name="run settlement",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,  # a settlement late by less than an hour still runs
        )
        with _stop_on_signals(self):
            scheduler.start()
            settle_next = scheduler.get_job("settle").next_run_time
            logger.info(
                "worker started: release every %d s, settlement daily at %s %s (next %s)",
                schedule.release_every_s,
                schedule.settle_at.strftime("%H:%M"),
                schedule.zone.key,
                settle_next.isoformat(timespec="seconds"),
            )
            await self._stopping.wait()
            scheduler.pause()
            async with self._one_job_at_a_time:  # the job in progress finishes; queued ones see the stop and return
                pass
            scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the loop's next turn
        logger.info("worker stopped")


@contextmanager
def _stop_on_signals(worker: Worker) -> Iterator[None]:
    """SIGTERM and SIGINT call worker.stop() instead of interrupting whatever runs."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    try:
        yield
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def run_worker(settings: Settings, schedule: Schedule, *, once: bool) -> bool:
    """Opens the database once and runs the worker; True unless a job failed (for --once)."""
    from api.app import runtime_from

    runtime = runtime_from(settings)
    if not logger.isEnabledFor(logging.DEBUG):
        # Its INFO lines ("Running job ...") repeat ours; its warnings (a run missed or skipped) stay.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    async with TortoiseContext() as context:
        # Global fallback: the scheduler starts each job in a task of its own.
        await context.init(config=tortoise_config(settings.database_url), _enable_global_fallback=True)
        worker = Worker(runtime, schedule)
        if once:
            return await worker.run_once()
        await worker.run_until_stopped()
        return True
