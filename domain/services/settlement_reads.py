"""Reading money going out: statements and their lines, runs, a party's shares by state, balances at an instant,
and a statement as CSV. Every read starts from auth/scoping.py: a party sees its own rows, never another's."""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from auth.principal import Principal
from auth.scoping import readable
from domain.errors import InvalidInput, NotFound
from domain.models import Delivery, Party, Payment, Payout, Release, Settlement, SettlementLine, SettlementRun
from domain.money import Money, normalize_currency
from domain.services import dialect
from domain.services.authorization import require
from domain.services.pagination import Page, PageRequest, fetch_page
from domain.services.runtime import Runtime
from domain.settlement import LineKind

MAX_SHARES_RANGE_DAYS = 366


class ShareState(enum.StrEnum):
    """Where one party's share of one payment stands, from escrow to its bank."""

    HELD = "HELD"  # in escrow (PENDING)
    AVAILABLE = "AVAILABLE"  # released, in no statement yet (or back from a failed payout)
    IN_SETTLEMENT = "IN_SETTLEMENT"  # in a statement whose payout is not paid yet (or carried forward)
    PAID = "PAID"  # in a statement whose payout the bank confirmed
    REFUNDED = "REFUNDED"  # given back for refunds (counted once per payment refunded, whatever its state)


async def list_settlements(
    principal: Principal,
    runtime: Runtime,
    page: PageRequest,
    *,
    party_id: int | None = None,
    currency: str | None = None,
    run_id: int | None = None,
) -> Page[Settlement]:
    require(principal, "settlements:read")
    query = readable(principal, Settlement)
    if party_id is not None:
        query = query.filter(party_id=party_id)
    if currency is not None:
        query = query.filter(currency=normalize_currency(currency))
    if run_id is not None:
        query = query.filter(run_id=run_id)
    return await fetch_page(query, page.checked(runtime.max_page_size))


async def settlements_by_ids(principal: Principal, ids: Sequence[int]) -> dict[int, Settlement]:
    require(principal, "settlements:read")
    return {row.id: row for row in await readable(principal, Settlement).filter(id__in=list(ids))}


async def get_settlement(principal: Principal, settlement_id: int, *, field: str = "id") -> Settlement:
    found = (await settlements_by_ids(principal, [settlement_id])).get(settlement_id)
    if found is None:
        raise NotFound("settlement", field=field)
    return found


async def lines_of(
    principal: Principal, runtime: Runtime, settlement_id: int, page: PageRequest
) -> Page[SettlementLine]:
    require(principal, "settlements:read")
    query = readable(principal, SettlementLine).filter(settlement_id=settlement_id)
    return await fetch_page(query, page.checked(runtime.max_page_size))


async def payouts_of_settlements(principal: Principal, settlement_ids: Sequence[int]) -> dict[int, Payout]:
    """For data loaders: each statement's payout, when the caller may read payouts."""
    if not principal.has("payouts:read"):
        return {}
    rows = await readable(principal, Payout).filter(settlement_id__in=list(settlement_ids))
    return {row.settlement_id: row for row in rows}


async def list_runs(principal: Principal, runtime: Runtime, page: PageRequest) -> Page[SettlementRun]:
    require(principal, "settlements:run")
    return await fetch_page(readable(principal, SettlementRun), page.checked(runtime.max_page_size))


async def runs_by_ids(principal: Principal, ids: Sequence[int]) -> dict[int, SettlementRun]:
    if not principal.has("settlements:run"):
        return {}
    return {row.id: row for row in await readable(principal, SettlementRun).filter(id__in=list(ids))}


async def releases_of(principal: Principal, payment_ids: Sequence[int]) -> dict[int, list[Release]]:
    """For data loaders: each payment's releases that the caller may read (a party: its own)."""
    grouped: dict[int, list[Release]] = {payment_id: [] for payment_id in payment_ids}
    for row in await readable(principal, Release).filter(payment_id__in=list(payment_ids)).order_by("id"):
        grouped[row.payment_id].append(row)
    return grouped


async def deliveries_of(principal: Principal, payment_ids: Sequence[int]) -> dict[int, list[Delivery]]:
    """For data loaders: each payment's delivery confirmation, when the caller may read it."""
    grouped: dict[int, list[Delivery]] = {payment_id: [] for payment_id in payment_ids}
    for row in await readable(principal, Delivery).filter(payment_id__in=list(payment_ids)):
        grouped[row.payment_id].append(row)
    return grouped


# --- shares by state --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SharesByState:
    state: ShareState
    currency: str
    count: int
    amount_minor: int


# One row per share (the party's allocations in one payment paid in the range), with how far it has got: its
# release, the statement line that took the release's AVAILABLE posting, and that statement's payout.
_SHARES = """
SELECT s.currency,
  CASE WHEN r.id IS NULL THEN 'HELD'
       WHEN l.id IS NULL OR pay.status = 'FAILED' THEN 'AVAILABLE'
       WHEN pay.status = 'PAID' THEN 'PAID'
       ELSE 'IN_SETTLEMENT' END AS state,
  COUNT(*) AS shares, SUM(s.amount) AS amount
FROM (
  SELECT a.payment_id, a.currency, SUM(a.amount_minor) - COALESCE((SELECT SUM(rr.amount_minor)
    FROM refund_reversals rr WHERE rr.payment_id = a.payment_id AND rr.party_id = a.party_id), 0) AS amount
  FROM allocations a JOIN payments p ON p.id = a.payment_id
  WHERE a.party_id = $1 AND p.paid_at >= $2 AND p.paid_at < $3
  GROUP BY a.payment_id, a.party_id, a.currency
) s
LEFT JOIN releases r ON r.payment_id = s.payment_id AND r.party_id = $4
LEFT JOIN postings po ON po.entry_id = r.entry_id AND po.party_id = $5 AND po.amount_minor < 0
LEFT JOIN settlement_lines l ON l.posting_id = po.id
LEFT JOIN payouts pay ON pay.settlement_id = l.settlement_id
WHERE s.amount > 0
GROUP BY s.currency, state
ORDER BY s.currency, state
"""

# What refunds took back of the party's shares of the payments paid in the range.
_REFUNDED = """
SELECT rr.currency, COUNT(DISTINCT rr.payment_id) AS shares, SUM(rr.amount_minor) AS amount
FROM refund_reversals rr JOIN payments p ON p.id = rr.payment_id
WHERE rr.party_id = $1 AND p.paid_at >= $2 AND p.paid_at < $3
GROUP BY rr.currency
ORDER BY rr.currency
"""


async def my_shares(principal: Principal, start: datetime, end: datetime) -> list[SharesByState]:
    """The caller's own shares of payments paid in [start, end), by state and currency: counts and totals, net of
    refunds, and what refunds took back (REFUNDED)."""
    require(principal, "payments:read")
    for name, value in (("from", start), ("to", end)):
        if value.tzinfo is None:
            raise InvalidInput("INVALID_INPUT", f"{name} needs a time zone offset", field=name)
    if not start < end or (end - start).days > MAX_SHARES_RANGE_DAYS:
        raise InvalidInput(
            "INVALID_INPUT",
            f"from must be before to, at most {MAX_SHARES_RANGE_DAYS} days apart",
            field="to",
        )
    party_id = principal.party_id
    # The caller's own party, through scoping like every read: an API key or a user of a party sees its own.
    if party_id is None or not await readable(principal, Party).filter(id=party_id).exists():
        raise NotFound("party")
    since, until = dialect.instant(start), dialect.instant(end)
    rows = await dialect.rows(_SHARES, party_id, since, until, party_id, party_id)
    refunded = await dialect.rows(_REFUNDED, party_id, since, until)
    return [
        SharesByState(ShareState(row["state"]), row["currency"], int(row["shares"]), int(row["amount"])) for row in rows
    ] + [
        SharesByState(ShareState.REFUNDED, row["currency"], int(row["shares"]), int(row["amount"])) for row in refunded
    ]


# --- balances at an instant -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BalanceAt:
    party_id: int
    currency: str
    bucket: str
    amount_minor: int  # what the party is owed there
    as_of: datetime


async def balances_at(principal: Principal, party_id: int, as_of: datetime) -> list[BalanceAt]:
    """A party's balances as they were at `as_of`, summed from the postings up to that instant."""
    require(principal, "ledger:read")
    if as_of.tzinfo is None:
        raise InvalidInput("INVALID_INPUT", "asOf needs a time zone offset", field="asOf")
    if not await readable(principal, Party).filter(id=party_id).exists():
        raise NotFound("party", field="partyId")
    rows = await dialect.rows(
        "SELECT a.currency, a.bucket, SUM(p.amount_minor) AS total FROM postings p "
        "JOIN ledger_accounts a ON a.id = p.account_id WHERE p.party_id = $1 AND p.created_at <= $2 "
        "GROUP BY a.currency, a.bucket ORDER BY a.currency, a.bucket",
        party_id,
        dialect.instant(as_of),
    )
    return [BalanceAt(party_id, row["currency"], row["bucket"], -int(row["total"]), as_of) for row in rows]


# --- a statement as CSV -----------------------------------------------------------------------------------

STATEMENT_CSV_COLUMNS = (
    "statement_id",
    "party",
    "currency",
    "period",
    "line_id",
    "kind",
    "external_order_id",
    "released_at",
    "amount",
)


async def statement_csv(principal: Principal, settlement: Settlement) -> str:
    """The statement, one row per line; a RELEASE line is one row per payment it released (with the order
    reference), then the closing balance. Amounts in major units, as the party sees them."""
    party = await Party.get(id=settlement.party_id)
    lines = await readable(principal, SettlementLine).filter(settlement_id=settlement.id).order_by("id")
    release_entries = [line.entry_id for line in lines if line.kind == LineKind.RELEASE and line.entry_id]
    released = (
        await readable(principal, Release)
        .filter(entry_id__in=release_entries, party_id=settlement.party_id)
        .order_by("payment_id")
    )
    orders = dict(await Payment.filter(id__in=[r.payment_id for r in released]).values_list("id", "external_order_id"))
    by_entry: dict[int, list[Release]] = {}
    for row in released:
        by_entry.setdefault(row.entry_id, []).append(row)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(STATEMENT_CSV_COLUMNS)
    head = [f"Settlement:{settlement.id}", party.name, settlement.currency, _iso(settlement.period_date)]

    def amount(minor: int) -> str:
        return Money(minor, settlement.currency).format()

    for line in lines:
        shares = by_entry.get(line.entry_id or 0, []) if line.kind == LineKind.RELEASE else []
        if not shares:
            writer.writerow([*head, line.id, line.kind, "", "", amount(line.amount_minor)])
        for share in shares:
            writer.writerow(
                [
                    *head,
                    line.id,
                    line.kind,
                    orders.get(share.payment_id, ""),
                    share.released_at.isoformat(),
                    amount(share.amount_minor),
                ]
            )
    writer.writerow([*head, "", "CLOSING_BALANCE", "", "", amount(settlement.closing_minor)])
    return out.getvalue()


def _iso(value: date | str) -> str:
    return value if isinstance(value, str) else value.isoformat()
