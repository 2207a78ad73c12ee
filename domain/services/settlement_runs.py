"""Settlement runs: for each party and currency that is due, one statement per period, its lines, its ledger
entries (reserve released, reserve held, AVAILABLE -> SETTLING) and a payout awaiting approval.

Which period a run settles for a party, what its window takes and what the statement holds are decided in
domain/settlement.py; here they become a few set-based statements per chunk of parties. Exactly once: the
statement's unique (party, currency, period) and every AVAILABLE posting's unique statement line; parties are
claimed with row locks (domain/services/party_locks.py), so several workers share a run and a run killed halfway
leaves whole chunks behind, which the next run completes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from auth.principal import Principal
from domain.errors import InvalidInput
from domain.ledger import Bucket, EntryKind, JournalEntryDraft, hold_reserve, release_reserve, settle
from domain.models import LedgerAccount, Payout, Settlement, SettlementLine, SettlementRun
from domain.money import normalize_currency
from domain.parties import KycStatus, PartyKind, SettlementCycle
from domain.services import dialect, ledger, party_locks
from domain.services.authorization import require
from domain.services.releases import check_as_of
from domain.services.runtime import Runtime
from domain.settlement import (
    LineKind,
    SettlementError,
    StatementFigures,
    carried_forward_kind,
    compute_statement,
    line_kind_for,
    local_date,
    period_date,
    reserve_release_date,
    window_end,
)

CHUNK_PARTIES = 500

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Terms:
    """One party's settlement terms as this run applies them."""

    party_id: int
    settles: bool  # False: a merchant whose KYC is not VERIFIED is never settled into a payout
    period: date
    window_end: datetime
    profile_currency: str
    minimum_payout_minor: int  # in the profile's currency; other currencies have no minimum
    reserve_bps: int
    reserve_days: int


@dataclass
class ChunkResult:
    statements: int = 0
    payouts: int = 0
    totals: dict[str, dict[str, int]] | None = None  # currency -> statements, net_minor, payout_minor, payouts

    def add(self, other: ChunkResult) -> None:
        self.statements += other.statements
        self.payouts += other.payouts
        totals = self.totals if self.totals is not None else {}
        for code, figures in (other.totals or {}).items():
            into = totals.setdefault(code, dict.fromkeys(figures, 0))
            for key, value in figures.items():
                into[key] += value
        self.totals = totals


async def run_settlement(
    principal: Principal,
    runtime: Runtime,
    cutoff: datetime,
    *,
    currency: str | None = None,
    chunk_parties: int = CHUNK_PARTIES,
    progress: Progress | None = None,
    only_party_ids: Collection[int] | None = None,
) -> SettlementRun:
    """Settles every party and currency due at `cutoff` (at most now), of `only_party_ids` when given; returns
    the run with its counts."""
    require(principal, "settlements:run")
    now = runtime.now()
    check_as_of(cutoff, now, field="cutoff")
    if currency is not None:
        currency = await _currency_in_use(currency)
    started = time.perf_counter()
    run = await SettlementRun.create(
        cutoff=cutoff,
        currency=currency,
        started_by_user_id=principal.user_id,
        started_by_api_key_id=principal.api_key_id,
        started_at=now,
    )
    terms = await _terms_of_parties_with_money_out(cutoff, runtime, currency)
    if only_party_ids is not None:
        terms = {party_id: term for party_id, term in terms.items() if party_id in set(only_party_ids)}
    unverified = [party_id for party_id, term in terms.items() if not term.settles]
    due = sorted(party_id for party_id, term in terms.items() if term.settles)
    overall = ChunkResult(totals={})

    async def settle_chunk(claimed: list[int]) -> None:
        overall.add(await _settle_chunk(principal, run.id, [terms[p] for p in claimed], now, currency))

    await party_locks.in_chunks(due, chunk_parties, settle_chunk, progress)
    totals = overall.totals or {}
    run.parties_considered = len(terms)
    run.statements_created = overall.statements
    run.payouts_created = overall.payouts
    run.skipped_unverified = len(unverified)
    run.totals = json.dumps(totals, sort_keys=True)
    run.status = "COMPLETED"
    run.finished_at = runtime.now()
    run.duration_ms = int((time.perf_counter() - started) * 1000)
    await run.save()
    return run


async def _currency_in_use(currency: str) -> str:
    code = normalize_currency(currency)
    if not await LedgerAccount.filter(currency=code, party_id__isnull=False).exists():
        codes = await LedgerAccount.filter(party_id__isnull=False).distinct().values_list("currency", flat=True)
        in_use = sorted({str(code) for code in codes})
        raise InvalidInput(
            "UNUSED_CURRENCY",
            f"no party holds money in {code}; currencies in use: {', '.join(in_use) or 'none yet'}",
            field="currency",
        )
    return code


async def _terms_of_parties_with_money_out(
    cutoff: datetime, runtime: Runtime, currency: str | None
) -> dict[int, Terms]:
    rows = await dialect.rows(
        "SELECT p.id, p.kind, p.kyc_status, p.settlement_currency, p.settlement_cycle, p.settlement_anchor_day, "
        "p.settlement_delay_days, p.minimum_payout_minor, p.reserve_bps, p.reserve_days FROM parties p "
        "WHERE EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.party_id = p.id AND a.bucket IN ($1, $2) "
        "AND ($3 = '' OR a.currency = $4))",
        Bucket.AVAILABLE.value,
        Bucket.RESERVE.value,
        currency or "",
        currency or "",
    )
    today = local_date(cutoff, runtime.settlement_zone)
    terms = {}
    for row in rows:
        period = period_date(SettlementCycle(row["settlement_cycle"]), int(row["settlement_anchor_day"]), today)
        delay = int(row["settlement_delay_days"])
        terms[int(row["id"])] = Terms(
            party_id=int(row["id"]),
            settles=row["kind"] != PartyKind.MERCHANT or row["kyc_status"] == KycStatus.VERIFIED,
            period=period,
            window_end=window_end(period, delay, runtime.settlement_zone, cutoff),
            profile_currency=row["settlement_currency"],
            minimum_payout_minor=int(row["minimum_payout_minor"]),
            reserve_bps=int(row["reserve_bps"]),
            reserve_days=int(row["reserve_days"]),
        )
    return terms


_TERMS = [("party_id", "bigint"), ("period", "date"), ("window_end", "timestamptz")]

# The AVAILABLE postings a statement takes: before its window's end, and in no statement yet.
_UNSETTLED = """
FROM {terms}
JOIN ledger_accounts a ON a.party_id = t.party_id AND a.bucket = 'AVAILABLE' AND ($2 = '' OR a.currency = $3)
JOIN postings p ON p.account_id = a.id
JOIN journal_entries e ON e.id = p.entry_id
WHERE p.created_at < t.window_end AND NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.posting_id = p.id)
"""


def _line_kind_case() -> str:
    """domain.settlement.line_kind_for as SQL, so the database names each line as the pure core would."""
    whens = " ".join(f"WHEN '{kind.value}' THEN '{line_kind_for(kind).value}'" for kind in EntryKind)
    return f"CASE e.kind {whens} ELSE '{LineKind.ADJUSTMENT.value}' END"


async def _settle_chunk(
    principal: Principal, run_id: int, terms: list[Terms], now: datetime, currency: str | None
) -> ChunkResult:
    if not terms:
        return ChunkResult()
    by_party = {term.party_id: term for term in terms}
    table = dialect.dumps(
        [
            {"party_id": t.party_id, "period": t.period.isoformat(), "window_end": dialect.json_instant(t.window_end)}
            for t in terms
        ]
    )
    tt = dialect.json_table("$1", "t", _TERMS)
    cur = currency or ""
    movements = await dialect.rows(
        "SELECT p.party_id, p.currency, e.kind, SUM(p.amount_minor) AS amount"
        + _UNSETTLED.format(terms=tt)
        + " GROUP BY p.party_id, p.currency, e.kind",
        table,
        cur,
        cur,
    )
    reserves = await dialect.rows(
        f"SELECT l.id, l.party_id, l.currency, l.amount_minor FROM settlement_lines l JOIN {tt} "  # noqa: S608
        "ON t.party_id = l.party_id WHERE l.kind = $2 AND l.reserve_release_on <= t.period AND ($3 = '' OR "
        "l.currency = $4) AND NOT EXISTS (SELECT 1 FROM settlement_lines r WHERE r.reserve_line_id = l.id) "
        "ORDER BY l.id",
        table,
        LineKind.RESERVE_HELD.value,
        cur,
        cur,
    )
    latest = await dialect.rows(
        f"SELECT s.party_id, s.currency, s.period_date, s.closing_minor FROM settlements s JOIN {tt} "  # noqa: S608
        "ON t.party_id = s.party_id WHERE NOT EXISTS (SELECT 1 FROM settlements later WHERE "
        "later.party_id = s.party_id AND later.currency = s.currency AND later.period_date > s.period_date)",
        table,
    )
    last = {(int(r["party_id"]), r["currency"]): r for r in latest}
    moved: dict[tuple[int, str], dict[LineKind, int]] = {}
    for row in movements:
        kinds = moved.setdefault((int(row["party_id"]), row["currency"]), {})
        kind = line_kind_for(row["kind"])
        kinds[kind] = kinds.get(kind, 0) - int(row["amount"])  # a credit is money owed to the party
    due_reserves: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for row in reserves:
        due_reserves.setdefault((int(row["party_id"]), row["currency"]), []).append(row)

    figures: dict[tuple[int, str], StatementFigures] = {}
    for key in sorted(set(moved) | set(due_reserves)):
        party_id, code = key
        term = by_party[party_id]
        previous = last.get(key)
        if previous is not None and _as_date(previous["period_date"]) >= term.period:
            continue  # this period (or a later one) is settled already
        figures[key] = compute_statement(
            opening_minor=int(previous["closing_minor"]) if previous else 0,
            movements_by_kind=moved.get(key, {}),
            reserve_due_minor=sum(-int(r["amount_minor"]) for r in due_reserves.get(key, [])),
            reserve_bps=term.reserve_bps,
            minimum_payout_minor=term.minimum_payout_minor if code == term.profile_currency else 0,
        )
    if not figures:
        return ChunkResult()
    keys = sorted(figures)
    settlement_ids = dict(zip(keys, await dialect.next_ids("settlements", len(keys)), strict=True))
    await Settlement.bulk_create(
        [
            Settlement(
                id=settlement_ids[key],
                run_id=run_id,
                party_id=key[0],
                currency=key[1],
                period_date=by_party[key[0]].period,
                window_end=by_party[key[0]].window_end,
                created_at=now,
                **_columns(figures[key]),
            )
            for key in keys
        ]
    )
    await _movement_lines(keys, settlement_ids, by_party, figures, cur)
    own_lines = await _post_own_entries(keys, settlement_ids, by_party, figures, due_reserves, now)
    carried = [
        SettlementLine(
            settlement_id=settlement_ids[key],
            party_id=key[0],
            currency=key[1],
            kind=carried_forward_kind(figures[key].opening_minor).value,
            amount_minor=figures[key].opening_minor,
        )
        for key in keys
        if figures[key].opening_minor
    ]
    await SettlementLine.bulk_create(carried + own_lines)
    payouts = [
        Payout(
            settlement_id=settlement_ids[key],
            party_id=key[0],
            currency=key[1],
            amount_minor=figures[key].payout_minor,
            started_by_user_id=principal.user_id,
            created_at=now,
        )
        for key in keys
        if figures[key].payout_minor > 0
    ]
    await Payout.bulk_create(payouts)
    totals: dict[str, dict[str, int]] = {}
    for (_, code), fig in figures.items():
        into = totals.setdefault(code, {"statements": 0, "net_minor": 0, "payout_minor": 0, "payouts": 0})
        into["statements"] += 1
        into["net_minor"] += fig.net_minor
        into["payout_minor"] += fig.payout_minor
        into["payouts"] += 1 if fig.payout_minor > 0 else 0
    return ChunkResult(statements=len(keys), payouts=len(payouts), totals=totals)


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _columns(figures: StatementFigures) -> dict[str, int]:
    return {
        "opening_minor": figures.opening_minor,
        "movements_minor": figures.movements_minor,
        "released_minor": figures.released_minor,
        "reserve_held_minor": figures.reserve_held_minor,
        "reserve_released_minor": figures.reserve_released_minor,
        "net_minor": figures.net_minor,
        "payout_minor": figures.payout_minor,
        "closing_minor": figures.closing_minor,
    }


async def _movement_lines(
    keys: list[tuple[int, str]],
    settlement_ids: dict[tuple[int, str], int],
    by_party: dict[int, Terms],
    figures: dict[tuple[int, str], StatementFigures],
    cur: str,
) -> None:
    """One line per AVAILABLE posting the statements take, written by the database; then checked against the
    figures computed from the same postings, so a line can never be missing or counted twice."""
    mapping = dialect.dumps(
        [
            {
                "party_id": key[0],
                "currency": key[1],
                "settlement_id": settlement_ids[key],
                "window_end": dialect.json_instant(by_party[key[0]].window_end),
            }
            for key in keys
        ]
    )
    tt = dialect.json_table(
        "$1",
        "t",
        [("party_id", "bigint"), ("currency", "text"), ("settlement_id", "bigint"), ("window_end", "timestamptz")],
    )
    await dialect.rows(
        "INSERT INTO settlement_lines (settlement_id, party_id, currency, kind, amount_minor, posting_id, entry_id) "
        f"SELECT t.settlement_id, p.party_id, p.currency, {_line_kind_case()}, -p.amount_minor, p.id, p.entry_id"
        + _UNSETTLED.format(terms=tt)
        + " AND a.currency = t.currency",
        mapping,
        cur,
        cur,
    )
    written = await dialect.rows(
        "SELECT l.settlement_id, SUM(l.amount_minor) AS amount FROM settlement_lines l JOIN "  # noqa: S608
        + dialect.json_table("$1", "t", [("settlement_id", "bigint")])
        + " ON t.settlement_id = l.settlement_id WHERE l.posting_id IS NOT NULL GROUP BY l.settlement_id",
        mapping,
    )
    lines = {int(row["settlement_id"]): int(row["amount"]) for row in written}
    for key in keys:
        if lines.get(settlement_ids[key], 0) != figures[key].movements_minor:
            raise SettlementError(
                f"statement {settlement_ids[key]} took {lines.get(settlement_ids[key], 0)} in lines but its "
                f"figures say {figures[key].movements_minor}: postings changed under the party lock"
            )


async def _post_own_entries(
    keys: list[tuple[int, str]],
    settlement_ids: dict[tuple[int, str], int],
    by_party: dict[int, Terms],
    figures: dict[tuple[int, str], StatementFigures],
    due_reserves: dict[tuple[int, str], list[dict[str, Any]]],
    now: datetime,
) -> list[SettlementLine]:
    """The statement's own movements: each reserve that falls due comes back, the new reserve is held, the
    payout moves to SETTLING. Each becomes a line that names its AVAILABLE posting."""
    drafts: list[JournalEntryDraft] = []
    lines: list[SettlementLine] = []
    for key in keys:
        party_id, code = key
        fig = figures[key]
        memo = f"statement {settlement_ids[key]}"
        for held in due_reserves.get(key, []):
            drafts.append(release_reserve(party_id, code, -int(held["amount_minor"]), memo=memo))
            lines.append(_line(settlement_ids[key], key, LineKind.RESERVE_RELEASED, -int(held["amount_minor"])))
            lines[-1].reserve_line_id = int(held["id"])
        if fig.reserve_held_minor:
            drafts.append(hold_reserve(party_id, code, fig.reserve_held_minor, memo=memo))
            lines.append(_line(settlement_ids[key], key, LineKind.RESERVE_HELD, -fig.reserve_held_minor))
            lines[-1].reserve_release_on = reserve_release_date(
                by_party[party_id].period, by_party[party_id].reserve_days
            )
        if fig.payout_minor:
            drafts.append(settle(party_id, code, fig.payout_minor, memo=memo))
            lines.append(_line(settlement_ids[key], key, LineKind.PAYOUT, -fig.payout_minor))
    if not drafts:
        return lines
    entry_ids = await dialect.next_ids("journal_entries", len(drafts))
    await ledger.post_entries(drafts, entry_ids=entry_ids, posted_at=now)
    postings = await dialect.rows(
        "SELECT p.id, p.entry_id FROM postings p JOIN ledger_accounts a ON a.id = p.account_id JOIN "  # noqa: S608
        + dialect.json_table("$1", "t", [("entry_id", "bigint")])
        + " ON t.entry_id = p.entry_id WHERE a.bucket = $2",
        dialect.dumps([{"entry_id": entry_id} for entry_id in entry_ids]),
        Bucket.AVAILABLE.value,
    )
    available_posting = {int(row["entry_id"]): int(row["id"]) for row in postings}
    for line, entry_id in zip(lines, entry_ids, strict=True):
        line.entry_id = entry_id
        line.posting_id = available_posting[entry_id]
    return lines


def _line(settlement_id: int, key: tuple[int, str], kind: LineKind, amount_minor: int) -> SettlementLine:
    return SettlementLine(
        settlement_id=settlement_id, party_id=key[0], currency=key[1], kind=kind.value, amount_minor=amount_minor
    )
