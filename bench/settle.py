"""Benchmark: releasing and settling 1,000,000 allocations across 10,000 parties on PostgreSQL (issue 9).

Run: python bench/settle.py [--parties 10000 --allocations 1000000] or --small for a quick try.
Target (issue 9): the settlement run of 1,000,000 released allocations across 10,000 parties in under 60 s, and
under 300 MB peak RSS for the process. `release_held_funds` over the same allocations is reported too.

Creates a fresh database (dropped afterwards, also on failure), runs the migrations, and generates the data with
set-based SQL in one transaction, not through the services: a tenth of the parties are couriers, the rest
merchants (KYC verified, daily settlement, T+0, no hold, no minimum, no reserve, so everything is due); each
payment has three line items for its merchant and a shipping fee for its courier (four allocations, two shares),
one capture entry crediting both PENDING accounts and debiting PSP clearing, and every cached balance equal to
its postings. Then VACUUM ANALYZE, and ANALYZE again after the release, as autovacuum would have done on a live
database (--stale-statistics settles without the second).

Measured, each with wall time, the time spent waiting for PostgreSQL (and the statements sent), and the process's
peak resident set during the phase: `release_held_funds` over all allocations, then `run_settlement` in one run.
Beside each, measured in the same run just before it (the machines are shared and noisy), a floor: the same
work as one bare set-based statement. Then verify_ledger must be clean. --profile adds cProfile's top functions
per phase, --explain EXPLAIN (ANALYZE, BUFFERS) of the main statements for the first chunk of parties.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import functools
import io
import os
import pstats
import resource
import secrets
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from api.app import runtime_from
from api.db import run_migrations, tortoise_config
from api.settings import Settings
from auth.principal import Principal
from auth.roles import ROLE_PERMISSIONS
from domain.ledger import Bucket, EntryKind
from domain.parties import PartyKind
from domain.services import dialect, ledger, parties, releases, settlement_runs
from domain.services.runtime import Runtime
from domain.settlement import ReleaseReason, local_date, release_thresholds, window_end

SETTLE_TARGET_SECONDS = 60
PEAK_RSS_TARGET_MB = 300
ALLOCATIONS_PER_PAYMENT = 4  # three line items for the merchant, the shipping fee for the courier
SHARES_PER_PAYMENT = 2  # one share per party in the payment
SPREAD_SECONDS = 30 * 86_400  # payments were paid over the 30 days before the run

T = TypeVar("T")


# --- measuring --------------------------------------------------------------------------------------------


class SqlClock:
    """Time spent waiting for PostgreSQL and statements sent, by every asyncpg connection of the process (the
    services' pool included): asyncpg's Connection methods are wrapped once, at the class."""

    METHODS = ("fetch", "fetchrow", "fetchval", "execute", "executemany")

    def __init__(self) -> None:
        self.seconds = 0.0
        self.statements = 0
        self.by_statement: dict[str, list[float]] = {}  # the statement's opening words -> [seconds, count]

    def install(self) -> None:
        for name in self.METHODS:
            setattr(asyncpg.Connection, name, self._timed(getattr(asyncpg.Connection, name)))

    def _timed(self, method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        @functools.wraps(method)
        async def timed(connection: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> T:
            started = time.perf_counter()
            try:
                return await method(connection, query, *args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                self.seconds += elapsed
                self.statements += 1
                figures = self.by_statement.setdefault(" ".join(query.split())[:90], [0.0, 0])
                figures[0] += elapsed
                figures[1] += 1

        return timed


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Linux: the peak resident set starts again from the current one (ru_maxrss follows), so each phase has its
    own peak."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    sql_seconds: float = 0.0
    statements: int = 0
    peak_rss_mb: float = 0.0  # the highest resident set during the phase (since the start, if it cannot reset)
    rss_growth_mb: float = 0.0
    top_statements: list[tuple[str, float, int]] = field(default_factory=list)

    @property
    def python_seconds(self) -> float:
        return self.seconds - self.sql_seconds


class Meter:
    def __init__(self, clock: SqlClock) -> None:
        self.clock = clock
        self.process_peak_mb = peak_rss_mb()
        self.phases: list[Phase] = []

    @contextmanager
    def phase(self, name: str) -> Iterator[Phase]:
        self.process_peak_mb = max(self.process_peak_mb, peak_rss_mb())
        reset_peak_rss()
        phase = Phase(name)
        rss_before = rss_mb()
        sql_before, statements_before = self.clock.seconds, self.clock.statements
        by_statement_before = {key: list(value) for key, value in self.clock.by_statement.items()}
        started = time.perf_counter()
        yield phase
        phase.seconds = time.perf_counter() - started
        phase.sql_seconds = self.clock.seconds - sql_before
        phase.statements = self.clock.statements - statements_before
        phase.peak_rss_mb = peak_rss_mb()
        phase.rss_growth_mb = rss_mb() - rss_before
        self.process_peak_mb = max(self.process_peak_mb, phase.peak_rss_mb)
        spent = [
            (key, seconds - by_statement_before.get(key, [0.0, 0])[0], count - by_statement_before.get(key, [0, 0])[1])
            for key, (seconds, count) in self.clock.by_statement.items()
        ]
        phase.top_statements = sorted((row for row in spent if row[2]), key=lambda row: -row[1])[:5]
        self.phases.append(phase)


class ChunkTimes:
    """The services' progress callback: one call per chunk of parties."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.seconds: list[float] = []

    def __call__(self, _done: int, _total: int) -> None:
        now = time.perf_counter()
        self.seconds.append(now - self.last)
        self.last = now

    def summary(self) -> str:
        if not self.seconds:
            return "no chunk"
        return (
            f"{len(self.seconds)} chunks, median {statistics.median(self.seconds):.2f} s, "
            f"slowest {max(self.seconds):.2f} s"
        )


async def profiled(enabled: bool, call: Awaitable[T]) -> tuple[T, str]:
    """Awaits `call`, under cProfile when enabled; returns its result and the top of the profile by own time
    (`select.epoll.poll` is the event loop waiting for PostgreSQL)."""
    if not enabled:
        return await call, ""
    profile = cProfile.Profile()
    profile.enable()
    try:
        result = await call
    finally:
        profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(15)
    text = out.getvalue()
    return result, text[text.find("   ncalls") :].rstrip()


def print_phase(phase: Phase, detail: str) -> None:
    print(
        f"  wall {phase.seconds:.2f} s: PostgreSQL {phase.sql_seconds:.2f} s in {phase.statements:,} statements "
        f"(BEGIN/COMMIT included), Python {phase.python_seconds:.2f} s; {detail}"
    )
    print(f"  peak RSS during the phase {phase.peak_rss_mb:.0f} MB, RSS growth {phase.rss_growth_mb:+.1f} MB")
    print("  statements by time spent:")
    for text, seconds, count in phase.top_statements:
        print(f"    {seconds:7.2f} s {count:6,}x  {text}")


# --- the database -----------------------------------------------------------------------------------------


async def create_database(server_url: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    """A database with a fresh name on the server, and how to drop it."""
    server = urlunsplit(urlsplit(server_url.replace("postgres://", "postgresql://", 1)))
    name = f"splitledger_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()

    async def drop() -> None:
        connection = await asyncpg.connect(server)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}")), drop


def code_version() -> str:
    """The commit measured, and whether the checkout differs from it: several people work in it at once."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False).stdout.rstrip()

    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    if not changed:
        return f"git {git('rev-parse', '--short', 'HEAD')}"
    return f"git {git('rev-parse', '--short', 'HEAD')} with uncommitted changes in {', '.join(changed)}"


def asyncpg_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


# --- the data ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Size:
    parties: int
    allocations: int

    @property
    def couriers(self) -> int:
        return max(1, self.parties // 10)

    @property
    def merchants(self) -> int:
        return self.parties - self.couriers

    @property
    def payments(self) -> int:
        return self.allocations // ALLOCATIONS_PER_PAYMENT

    @property
    def shares(self) -> int:
        return self.payments * SHARES_PER_PAYMENT


@dataclass(frozen=True)
class Bases:
    """The largest id of each table before the data: the generated rows take the ids after it, so each row's id
    follows from its position and rows refer to each other by arithmetic."""

    parties: int
    accounts: int
    payments: int
    entries: int
    postings: int
    allocations: int

    @property
    def psp_account(self) -> int:
        return self.accounts + 1


# Payment k (1..payments): three line items of 5.00-204.99 and a shipping fee of 6.00-10.00, paid at some second
# of the 30 days before the run; merchants and couriers in turn. Integers only: the text is ours, not input.
def line_amount(k: str, j: str) -> str:
    return f"(500 + ({k} * 7919 + {j} * 104729) % 20000)"


def shipping_amount(k: str) -> str:
    return f"(600 + {k} % 5 * 100)"


def paid_at(k: str) -> str:
    return f"($1::timestamptz - make_interval(secs => 1 + ({k} * 7) % {SPREAD_SECONDS}))"


async def generate(db: asyncpg.Connection, size: Size, as_of: datetime, rule_version_id: int) -> Bases:
    """Parties, accounts, payments, capture entries, postings, allocations and balances, in one transaction."""
    tables = ("parties", "ledger_accounts", "payments", "journal_entries", "postings", "allocations")
    tops = [await db.fetchval(f"SELECT COALESCE(MAX(id), 0) FROM {table}") for table in tables]
    bases = Bases(*tops)
    merchants, couriers, count = size.merchants, size.couriers, size.payments
    merchant = f"{bases.parties} + 1 + (k - 1) % {merchants}"
    courier = f"{bases.parties} + {merchants} + 1 + (k - 1) % {couriers}"
    goods = " + ".join(line_amount("k", str(j)) for j in range(3))
    async with db.transaction():
        await db.execute(
            "INSERT INTO parties (id, kind, name, name_key, is_active, tier, kyc_status, risk_level, "
            "settlement_currency, settlement_cycle, settlement_anchor_day, settlement_delay_days, "
            "minimum_payout_minor, hold_days, reserve_bps, reserve_days, created_at, updated_at) "
            f"SELECT {bases.parties} + i, CASE WHEN i <= {merchants} THEN 'MERCHANT' ELSE 'LOGISTICS' END, "
            "'Bench party ' || i, 'bench party ' || i, true, "
            f"CASE WHEN i <= {merchants} THEN 'STANDARD' END, CASE WHEN i <= {merchants} THEN 'VERIFIED' END, "
            f"CASE WHEN i <= {merchants} THEN 'LOW' END, 'CNY', 'DAILY', 0, 0, 0, 0, 0, 0, "
            "$1::timestamptz, $1::timestamptz "
            f"FROM generate_series(1, {size.parties}) AS i",
            as_of,
        )
        await db.execute(
            "INSERT INTO ledger_accounts (id, key, party_id, system, currency, bucket, balance_minor, created_at) "
            f"SELECT {bases.accounts} + 1, 'system:PSP_CLEARING:CNY', NULL, 'PSP_CLEARING', 'CNY', NULL, 0, "
            "$1::timestamptz "
            f"UNION ALL SELECT {bases.psp_account} + i, 'party:' || ({bases.parties} + i) || ':CNY:PENDING', "
            f"{bases.parties} + i, NULL, 'CNY', 'PENDING', 0, $1::timestamptz "
            f"FROM generate_series(1, {size.parties}) AS i",
            as_of,
        )
        await db.execute(
            "INSERT INTO payments (id, merchant_id, logistics_party_id, external_order_id, idempotency_key, "
            "request_hash, currency, goods_minor, shipping_fee_minor, total_minor, channel, region, status, paid_at, "
            "created_at, journal_entry_id) "
            f"SELECT {bases.payments} + k, {merchant}, {courier}, 'bench-order-' || k, 'bench-key-' || k, "
            f"md5(k::text) || md5(k::text), 'CNY', {goods}, {shipping_amount('k')}, {goods} + {shipping_amount('k')}, "
            f"'APP', 'CN', 'CAPTURED', {paid_at('k')}, {paid_at('k')}, {bases.entries} + k "
            f"FROM generate_series(1, {count}) AS k",
            as_of,
        )
        await db.execute(
            "INSERT INTO journal_entries (id, kind, payment_id, memo, created_at) "
            f"SELECT journal_entry_id, '{EntryKind.CAPTURE.value}', id, NULL, paid_at FROM payments "
            f"WHERE id > {bases.payments}"
        )
        # The capture entry of each payment: PSP clearing debited by the total, each party's PENDING account
        # credited by its share (domain.ledger.capture). A party's account id is its position after the PSP's.
        account = f"{bases.psp_account} - {bases.parties}"
        await db.execute(
            "INSERT INTO postings (id, entry_id, account_id, party_id, currency, amount_minor, created_at) "
            f"SELECT {bases.postings} + (pay.id - {bases.payments} - 1) * 3 + s.n + 1, pay.journal_entry_id, "
            f"CASE s.n WHEN 0 THEN {bases.psp_account} WHEN 1 THEN {account} + pay.merchant_id "
            f"ELSE {account} + pay.logistics_party_id END, "
            "CASE s.n WHEN 0 THEN NULL WHEN 1 THEN pay.merchant_id ELSE pay.logistics_party_id END, 'CNY', "
            "CASE s.n WHEN 0 THEN pay.total_minor WHEN 1 THEN -pay.goods_minor ELSE -pay.shipping_fee_minor END, "
            f"pay.paid_at FROM payments pay CROSS JOIN (VALUES (0), (1), (2)) AS s(n) WHERE pay.id > {bases.payments} "
            "ORDER BY pay.id, s.n"
        )
        await db.execute(
            "INSERT INTO allocations (id, payment_id, line_position, party_id, role, currency, amount_minor, "
            "goods_minor, shipping_minor, rule_version_id) "
            f"SELECT {bases.allocations} + (k - 1) * 4 + j + 1, {bases.payments} + k, "
            "CASE WHEN j < 3 THEN j ELSE 0 END, "
            f"CASE WHEN j < 3 THEN {merchant} ELSE {courier} END, "
            "CASE WHEN j < 3 THEN 'MERCHANT' ELSE 'LOGISTICS' END, 'CNY', "
            f"CASE WHEN j < 3 THEN {line_amount('k', 'j')} ELSE {shipping_amount('k')} END, "
            f"CASE WHEN j < 3 THEN {line_amount('k', 'j')} ELSE 0 END, "
            f"CASE WHEN j < 3 THEN 0 ELSE {shipping_amount('k')} END, {rule_version_id} "
            f"FROM generate_series(1, {count}) AS k CROSS JOIN generate_series(0, 3) AS j ORDER BY k, j"
        )
        await db.execute(
            "UPDATE ledger_accounts a SET balance_minor = s.total FROM (SELECT account_id, SUM(amount_minor) AS total "
            "FROM postings GROUP BY account_id) s WHERE a.id = s.account_id"
        )
        for table in tables:
            await db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    return bases


async def rule_version_of_default_rule(db: asyncpg.Connection) -> int:
    """The default rule's version (migration 0006 creates it): every allocation names a rule version."""
    return await db.fetchval(
        "SELECT v.id FROM split_rule_versions v JOIN split_rules r ON r.id = v.rule_id WHERE r.is_default "
        "ORDER BY v.id LIMIT 1"
    )


# --- floors -----------------------------------------------------------------------------------------------


async def release_floor(db: asyncpg.Connection, as_of: datetime) -> tuple[float, int]:
    """The release's shape as one bare statement: every due share grouped from its allocations and its payment,
    inserted into a copy of `releases` with the same indexes. Seconds and rows."""
    await db.execute("CREATE TABLE bench_floor_releases (LIKE releases INCLUDING INDEXES)")
    try:
        started = time.perf_counter()
        status = await db.execute(
            "INSERT INTO bench_floor_releases (id, payment_id, party_id, currency, amount_minor, reason, "
            "released_at, entry_id) "
            "SELECT row_number() OVER (), a.payment_id, a.party_id, a.currency, SUM(a.amount_minor), $2::text, "
            "$1::timestamptz, 0 "
            "FROM allocations a JOIN payments p ON p.id = a.payment_id WHERE p.paid_at <= $1 "
            "GROUP BY a.payment_id, a.party_id, a.currency HAVING SUM(a.amount_minor) > 0",
            as_of,
            ReleaseReason.HOLD_PERIOD_ENDED.value,
        )
        return time.perf_counter() - started, int(status.split()[-1])
    finally:
        await db.execute("DROP TABLE bench_floor_releases")


async def settle_floors(db: asyncpg.Connection, cutoff: datetime) -> tuple[float, int, float, int]:
    """What every statement has to read, as one bare statement over all parties: the AVAILABLE postings by party,
    currency and entry kind; and a full COUNT/SUM scan of the postings. Seconds and rows of each."""
    started = time.perf_counter()
    grouped = await db.fetch(
        "SELECT a.party_id, p.currency, e.kind, SUM(p.amount_minor) FROM ledger_accounts a "
        "JOIN postings p ON p.account_id = a.id JOIN journal_entries e ON e.id = p.entry_id "
        "WHERE a.bucket = $1 AND p.created_at <= $2 GROUP BY a.party_id, p.currency, e.kind",
        Bucket.AVAILABLE.value,
        cutoff,
    )
    grouped_seconds = time.perf_counter() - started
    started = time.perf_counter()
    scanned = await db.fetchrow("SELECT COUNT(*), SUM(amount_minor) FROM postings")
    return grouped_seconds, len(grouped), time.perf_counter() - started, int(scanned[0])


# --- EXPLAIN ----------------------------------------------------------------------------------------------


async def explain(db: asyncpg.Connection, title: str, sql: str, *args: Any, lines: int = 60) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) inside a transaction that is rolled back: an INSERT leaves nothing behind."""
    transaction = db.transaction()
    await transaction.start()
    try:
        plan = await db.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
    finally:
        await transaction.rollback()
    print(f"  EXPLAIN (ANALYZE, BUFFERS) {title}:")
    for row in plan[:lines]:
        print(f"    {row[0]}")
    if len(plan) > lines:
        print(f"    ... {len(plan) - lines} more lines")


async def explain_release(db: asyncpg.Connection, party_ids: list[int], as_of: datetime, now: datetime) -> None:
    """The release's main statement (domain/services/releases.py, used as is) for one chunk of parties."""
    policies = await releases.policies_of(party_ids)
    thresholds = []
    for party_id in party_ids:
        due = release_thresholds(policies[party_id], as_of)
        if due is not None:
            thresholds.append(
                {
                    "party_id": party_id,
                    "paid_by": dialect.json_instant(due.paid_by),
                    "confirmed_by": dialect.json_instant(due.confirmed_by),
                }
            )
    mapping = [{"party_id": party_id, "currency": "CNY", "entry_id": n} for n, party_id in enumerate(party_ids, 1)]
    sql = releases._INSERT_RELEASES.format(
        delivered=ReleaseReason.DELIVERY_CONFIRMED.value,
        held=ReleaseReason.HOLD_PERIOD_ENDED.value,
        thresholds=dialect.json_table("$1", "t", releases._THRESHOLDS),
        entry_ids=dialect.json_table("$2", "m", releases._ENTRY_IDS),
    )
    args = (dialect.dumps(thresholds), dialect.dumps(mapping), now, 0, 0)
    await explain(db, f"of the release INSERT for {len(party_ids)} parties", sql, *args)


async def explain_settlement(db: asyncpg.Connection, party_ids: list[int], runtime: Runtime, cutoff: datetime) -> None:
    """The settlement's reads of the AVAILABLE postings (domain/services/settlement_runs.py, used as is) for one
    chunk of parties, and the lookup of new postings by entry that `_post_own_entries` makes."""
    period = local_date(cutoff, runtime.settlement_zone)
    end = dialect.json_instant(window_end(period, 0, runtime.settlement_zone, cutoff))
    terms = dialect.dumps([{"party_id": p, "period": period.isoformat(), "window_end": end} for p in party_ids])
    tt = dialect.json_table("$1", "t", settlement_runs._TERMS)
    movements = (
        "SELECT p.party_id, p.currency, e.kind, SUM(p.amount_minor) AS amount"
        + settlement_runs._UNSETTLED.format(terms=tt)
        + " GROUP BY p.party_id, p.currency, e.kind"
    )
    await explain(db, f"of the settlement's movements for {len(party_ids)} parties", movements, terms, "", "")
    entry_ids = await db.fetch(
        "SELECT DISTINCT entry_id FROM releases WHERE party_id = ANY($1::bigint[])", sorted(party_ids)
    )
    lookup = (
        "SELECT p.id, p.entry_id FROM postings p JOIN ledger_accounts a ON a.id = p.account_id JOIN "
        + dialect.json_table("$1", "t", [("entry_id", "bigint")])
        + " ON t.entry_id = p.entry_id WHERE a.bucket = $2"
    )
    await explain(
        db,
        f"of the postings-by-entry lookup for {len(entry_ids)} entries (release entries stand in for settle entries)",
        lookup,
        dialect.dumps([{"entry_id": int(row["entry_id"])} for row in entry_ids]),
        Bucket.AVAILABLE.value,
    )


# --- the run ----------------------------------------------------------------------------------------------


def operator_principal(platform_id: int) -> Principal:
    """A platform admin acting from code: the services still check its permissions."""
    return Principal(
        user_id=0,
        party_id=platform_id,
        party_kind=PartyKind.PLATFORM,
        role="platform_admin",
        permissions=ROLE_PERMISSIONS["platform_admin"],
        mfa_passed=True,
    )


def verdict(value: float, target: float) -> str:
    return "met" if value < target else "MISSED"


async def run(args: argparse.Namespace, size: Size) -> None:
    from tortoise.context import TortoiseContext

    clock = SqlClock()
    clock.install()
    meter = Meter(clock)
    started = time.perf_counter()
    url, drop = await create_database(args.database_url)
    db: asyncpg.Connection | None = None
    try:
        await run_migrations(url)
        print(f"code: {code_version()}")
        print(f"database: {urlsplit(url).path[1:]} (created and migrated in {time.perf_counter() - started:.1f} s)")
        as_of = datetime.now(UTC).replace(microsecond=0)
        runtime = dataclasses.replace(runtime_from(Settings(database_url=url)), clock=lambda: as_of)
        db = await asyncpg.connect(asyncpg_url(url))
        async with TortoiseContext() as context:
            await context.init(config=tortoise_config(url))
            platform = await parties.ensure_platform_party()
            operator = operator_principal(platform.id)

            with meter.phase("generate") as phase:
                bases = await generate(db, size, as_of, await rule_version_of_default_rule(db))
            started = time.perf_counter()
            await db.execute("VACUUM ANALYZE")
            vacuum_seconds = time.perf_counter() - started
            postings = await db.fetchval("SELECT COUNT(*) FROM postings")
            print(
                f"data: {size.parties:,} parties ({size.merchants:,} merchants, {size.couriers:,} couriers), "
                f"{size.payments:,} payments, {size.allocations:,} allocations ({size.shares:,} shares), "
                f"{size.payments:,} capture entries, {postings:,} postings"
            )
            print(
                f"  generated with set-based SQL in {phase.seconds:.1f} s "
                f"({size.allocations / phase.seconds:,.0f} allocations/s), "
                f"then VACUUM ANALYZE in {vacuum_seconds:.1f} s"
            )

            party_ids = list(range(bases.parties + 1, bases.parties + size.parties + 1))
            first_chunk = party_ids[: args.chunk_parties]

            # Release.
            floor_seconds, floor_rows = await release_floor(db, as_of)
            if args.explain:
                await explain_release(db, first_chunk, as_of, as_of)
            chunks = ChunkTimes()
            with meter.phase("release") as release_phase:
                released, profile = await profiled(
                    args.profile,
                    releases.release_held_funds(
                        operator, runtime, as_of, chunk_parties=args.chunk_parties, progress=chunks
                    ),
                )
            if released.shares_released != size.shares or released.parties_considered != size.parties:
                raise SystemExit(f"release_held_funds released {released}; expected {size.shares} shares")
            print(
                f"release_held_funds: {size.allocations:,} allocations, {released.shares_released:,} shares of "
                f"{released.parties_considered:,} parties, {released.entries_posted:,} entries posted"
            )
            print_phase(
                release_phase,
                f"{size.allocations / release_phase.seconds:,.0f} allocations/s, "
                f"{released.shares_released / release_phase.seconds:,.0f} shares/s",
            )
            print(f"  per chunk of {args.chunk_parties} parties: {chunks.summary()}")
            print(
                f"  floor, same run: one INSERT ... SELECT ... GROUP BY of the same allocations into a copy of "
                f"releases: {floor_seconds:.2f} s for {floor_rows:,} shares "
                f"({size.allocations / floor_seconds:,.0f} allocations/s)"
            )
            print(f"  release / floor: {release_phase.seconds / floor_seconds:.1f}")
            if profile:
                print("  cProfile, top by own time:\n" + "\n".join("    " + line for line in profile.splitlines()))

            # Settlement. On a live ledger the AVAILABLE accounts exist from earlier days and autovacuum has counted
            # them; here the release has just created all of them, and with the statistics of before it the planner
            # takes 1 account for 10,000 and joins them in a nested loop (--stale-statistics shows it).
            if not args.stale_statistics:
                started = time.perf_counter()
                await db.execute("ANALYZE")
                print(f"ANALYZE after the release, as autovacuum would have: {time.perf_counter() - started:.1f} s")
            grouped_seconds, grouped_rows, scan_seconds, scanned = await settle_floors(db, as_of)
            if args.explain:
                await explain_settlement(db, first_chunk, runtime, as_of)
            chunks = ChunkTimes()
            with meter.phase("settle") as settle_phase:
                settlement_run, profile = await profiled(
                    args.profile,
                    settlement_runs.run_settlement(
                        operator, runtime, as_of, chunk_parties=args.chunk_parties, progress=chunks
                    ),
                )
            lines = await db.fetchval(
                "SELECT COUNT(*) FROM settlement_lines l JOIN settlements s ON s.id = l.settlement_id "
                "WHERE s.run_id = $1",
                settlement_run.id,
            )
            entries = await db.fetchval("SELECT COUNT(*) FROM journal_entries WHERE kind = $1", EntryKind.SETTLE.value)
            if settlement_run.statements_created != size.parties:
                raise SystemExit(f"run_settlement wrote {settlement_run.statements_created} statements")
            print(
                f"run_settlement: {settlement_run.parties_considered:,} parties in one run: "
                f"{settlement_run.statements_created:,} statements, {lines:,} statement lines, "
                f"{settlement_run.payouts_created:,} payouts, {entries:,} settle entries"
            )
            print_phase(
                settle_phase,
                f"{settlement_run.parties_considered / settle_phase.seconds:,.0f} parties/s, "
                f"{(settlement_run.statements_created + lines) / settle_phase.seconds:,.0f} statements and lines/s",
            )
            print(f"  per chunk of {args.chunk_parties} parties: {chunks.summary()}")
            print(
                f"  floor, same run: one GROUP BY of the AVAILABLE postings of all parties (what the statements read): "
                f"{grouped_seconds:.2f} s for {grouped_rows:,} rows; COUNT/SUM over all {scanned:,} postings: "
                f"{scan_seconds:.2f} s"
            )
            print(f"  settle / floor (GROUP BY): {settle_phase.seconds / grouped_seconds:.1f}")
            if profile:
                print("  cProfile, top by own time:\n" + "\n".join("    " + line for line in profile.splitlines()))

            with meter.phase("verify") as verify_phase:
                check = await ledger.verify_ledger(operator)
            print(
                f"verify_ledger: {'clean' if check.ok else 'NOT CLEAN'} in {verify_phase.seconds:.1f} s: "
                f"{check.entries_checked:,} entries, {check.accounts_checked:,} accounts, "
                f"{check.payments_checked:,} payments"
            )
            if not check.ok:
                raise SystemExit(f"the ledger is not clean: {check}")

        peak = meter.process_peak_mb
        print(f"targets (issue 9), for {size.allocations:,} allocations across {size.parties:,} parties:")
        print(
            f"  run_settlement under {SETTLE_TARGET_SECONDS} s: {settle_phase.seconds:.1f} s, "
            f"{verdict(settle_phase.seconds, SETTLE_TARGET_SECONDS)}"
        )
        print(
            f"  release_held_funds (no target of its own; the same {SETTLE_TARGET_SECONDS} s for reference): "
            f"{release_phase.seconds:.1f} s, {verdict(release_phase.seconds, SETTLE_TARGET_SECONDS)}"
        )
        print(
            f"  peak RSS under {PEAK_RSS_TARGET_MB} MB: {peak:.0f} MB for the whole process "
            f"(release {release_phase.peak_rss_mb:.0f} MB, settle {settle_phase.peak_rss_mb:.0f} MB), "
            f"{verdict(peak, PEAK_RSS_TARGET_MB)}"
        )
        if max(settle_phase.seconds, release_phase.seconds) >= SETTLE_TARGET_SECONDS and not args.profile:
            print("  a time target is missed: run again with --profile --explain to see what dominates")
    finally:
        if db is not None:
            await db.close()
        await drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SPLITLEDGER_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL server URL; the benchmark creates a database of its own there and drops it",
    )
    parser.add_argument("--parties", type=int, default=10_000)
    parser.add_argument("--allocations", type=int, default=1_000_000)
    parser.add_argument("--small", action="store_true", help="200 parties and 20,000 allocations, a quick try")
    parser.add_argument("--chunk-parties", type=int, default=releases.CHUNK_PARTIES)
    parser.add_argument("--profile", action="store_true", help="cProfile each service call")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN (ANALYZE, BUFFERS) the main statements")
    parser.add_argument(
        "--stale-statistics", action="store_true", help="settle without the ANALYZE that follows the release"
    )
    args = parser.parse_args()
    size = Size(200, 20_000) if args.small else Size(args.parties, args.allocations)
    if size.parties < 2 or size.allocations % ALLOCATIONS_PER_PAYMENT or size.payments < size.merchants:
        parser.error(
            f"--allocations must be a multiple of {ALLOCATIONS_PER_PAYMENT} (three line items and a shipping fee per "
            f"payment), with at least one payment per merchant (nine tenths of --parties, at least 2)"
        )
    asyncio.run(run(args, size))


if __name__ == "__main__":
    main()
