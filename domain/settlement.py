"""When held money is released, which period a settlement run closes, and what a statement holds. Pure.

Every rule of the business about money going out lives here, named:
- a share is released when the order's delivery is confirmed or the party's hold period ends, whichever comes
  first; a merchant's shares wait `RISK_HOLD_EXTENSION_DAYS` longer by its risk level, and a merchant whose KYC
  is not VERIFIED is not released at all (its shares stay held until it is);
- a party settles on its cycle's days in the platform's settlement time zone: DAILY every day, WEEKLY on its
  weekday, MONTHLY on its day, the 29th-31st falling back to a shorter month's last day; a run settles, for each
  party, the latest cycle day on or before the cut-off, once (the period's date is the statement's key);
- T+N: the statement of cycle day D takes what reached AVAILABLE on local days up to D - N (and never anything
  after the run's cut-off);
- the rolling reserve is a percentage of the period's releases, rounded down, held for `reserve_days` days;
- the payout is the whole net when it reaches the minimum; otherwise the net (or the debt) is carried forward.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.ledger import EntryKind, LedgerInvariantViolation
from domain.parties import KycStatus, PartyKind, RiskLevel, SettlementCycle

BASIS_POINTS = 10_000
RESOLUTION = timedelta(microseconds=1)  # of the stored timestamps, on PostgreSQL and SQLite alike

# A riskier merchant waits longer for its money, after delivery or hold alike. Its other parties do not.
RISK_HOLD_EXTENSION_DAYS: dict[RiskLevel, int] = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 2, RiskLevel.HIGH: 7}


class ReleaseReason(enum.StrEnum):
    """Why a share left escrow. Stored in releases.reason: add, never rename."""

    DELIVERY_CONFIRMED = "DELIVERY_CONFIRMED"
    HOLD_PERIOD_ENDED = "HOLD_PERIOD_ENDED"


class SettlementError(LedgerInvariantViolation):
    """A statement's arithmetic broke one of its own postconditions: a bug, never a user's mistake."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise SettlementError(message)


# --- release ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReleasePolicy:
    """How long one party's shares wait in escrow."""

    hold_days: int
    extension_days: int = 0  # added after either trigger: a merchant's risk level
    releasable: bool = True  # False: a merchant whose KYC is not VERIFIED


def release_policy(
    kind: PartyKind, hold_days: int, kyc_status: KycStatus | None = None, risk_level: RiskLevel | None = None
) -> ReleasePolicy:
    if kind is not PartyKind.MERCHANT:
        return ReleasePolicy(hold_days)
    return ReleasePolicy(
        hold_days,
        extension_days=RISK_HOLD_EXTENSION_DAYS[risk_level or RiskLevel.LOW],
        releasable=kyc_status is KycStatus.VERIFIED,
    )


def release_due_at(paid_at: datetime, confirmed_at: datetime | None, policy: ReleasePolicy) -> datetime | None:
    """When a share becomes AVAILABLE: the earlier of the delivery confirmation and the end of the hold, plus the
    risk extension; None while it may not be released at all."""
    if not policy.releasable:
        return None
    due = paid_at + timedelta(days=policy.hold_days)
    if confirmed_at is not None:
        due = min(due, confirmed_at)
    return due + timedelta(days=policy.extension_days)


@dataclass(frozen=True, slots=True)
class ReleaseThresholds:
    """`release_due_at(...) <= as_of` as two comparisons a database can make over many rows: a share is due when
    its payment was paid at or before `paid_by`, or its delivery was confirmed at or before `confirmed_by`."""

    paid_by: datetime
    confirmed_by: datetime


def release_thresholds(policy: ReleasePolicy, as_of: datetime) -> ReleaseThresholds | None:
    if not policy.releasable:
        return None
    extension = timedelta(days=policy.extension_days)
    return ReleaseThresholds(as_of - extension - timedelta(days=policy.hold_days), as_of - extension)


# --- calendar ---------------------------------------------------------------------------------------------


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    _require(instant.tzinfo is not None, "instants carry a time zone")
    return instant.astimezone(zone).date()


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The instant a local day begins, in UTC."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def cycle_day_in_month(year: int, month: int, anchor_day: int) -> date:
    """A MONTHLY party's day in a month: its anchor, or the month's last day when the month is shorter."""
    return date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


def period_date(cycle: SettlementCycle, anchor_day: int, on: date) -> date:
    """The latest cycle day on or before `on`: the period a run on that local day settles."""
    if cycle is SettlementCycle.DAILY:
        return on
    if cycle is SettlementCycle.WEEKLY:
        _require(1 <= anchor_day <= 7, f"a weekly anchor is 1 (Monday)..7, got {anchor_day}")
        return on - timedelta(days=(on.isoweekday() - anchor_day) % 7)
    _require(1 <= anchor_day <= 31, f"a monthly anchor is 1..31, got {anchor_day}")
    this_month = cycle_day_in_month(on.year, on.month, anchor_day)
    if this_month <= on:
        return this_month
    year, month = (on.year - 1, 12) if on.month == 1 else (on.year, on.month - 1)
    return cycle_day_in_month(year, month, anchor_day)


def settled_through(period: date, delay_days: int) -> date:
    """T+N: the last local day whose releases the statement of cycle day `period` takes."""
    _require(delay_days >= 0, "delay days are zero or more")
    return period - timedelta(days=delay_days)


def window_end(period: date, delay_days: int, zone: ZoneInfo, cutoff: datetime) -> datetime:
    """The instant before which a statement takes postings (exclusive): the end of the T+N day, and never past
    the cut-off, which itself is included (timestamps have microsecond resolution)."""
    end_of_day = start_of_day(settled_through(period, delay_days) + timedelta(days=1), zone)
    return min(end_of_day, cutoff + RESOLUTION)


def reserve_release_date(period: date, reserve_days: int) -> date:
    """A reserve held by the statement of `period` comes back in the first statement on or after this day."""
    return period + timedelta(days=reserve_days)


# --- statements -------------------------------------------------------------------------------------------


class LineKind(enum.StrEnum):
    """What a statement line is. Stored in settlement_lines.kind: add, never rename."""

    BALANCE_CARRIED_FORWARD = "BALANCE_CARRIED_FORWARD"  # a net below the minimum, from the last statement
    DEBT_CARRIED_FORWARD = "DEBT_CARRIED_FORWARD"  # a negative balance, from the last statement
    RELEASE = "RELEASE"  # shares released from escrow
    REFUND_REVERSAL = "REFUND_REVERSAL"  # shares taken back for a refund after release
    ADJUSTMENT = "ADJUSTMENT"  # corrections: reversing entries, write-offs
    PAYOUT_RETURNED = "PAYOUT_RETURNED"  # a failed payout's money, back to AVAILABLE
    RESERVE_HELD = "RESERVE_HELD"
    RESERVE_RELEASED = "RESERVE_RELEASED"
    PAYOUT = "PAYOUT"  # the statement's own payout: AVAILABLE -> SETTLING
    DISPUTE_HELD = "DISPUTE_HELD"  # a chargeback's hold taken from AVAILABLE
    DISPUTE_RELEASED = "DISPUTE_RELEASED"  # a hold back to AVAILABLE: the dispute won, or what a lost one leaves
    DISPUTE_LOST = "DISPUTE_LOST"  # a lost chargeback's part taken from a party's AVAILABLE (shared losses)


# A ledger entry that moved a party's AVAILABLE money becomes a statement line of this kind.
_LINE_KIND_OF_ENTRY: dict[EntryKind, LineKind] = {
    EntryKind.RELEASE: LineKind.RELEASE,
    EntryKind.SETTLE: LineKind.PAYOUT,
    EntryKind.REVERSAL: LineKind.ADJUSTMENT,
    EntryKind.PAYOUT_FAILED: LineKind.PAYOUT_RETURNED,
    EntryKind.REFUND: LineKind.REFUND_REVERSAL,
    EntryKind.RESERVE_HELD: LineKind.RESERVE_HELD,
    EntryKind.RESERVE_RELEASED: LineKind.RESERVE_RELEASED,
    # The DISPUTED bucket itself is never on a statement: only what a dispute moves in or out of AVAILABLE.
    EntryKind.DISPUTE_OPENED: LineKind.DISPUTE_HELD,
    EntryKind.DISPUTE_RELEASED: LineKind.DISPUTE_RELEASED,
    EntryKind.DISPUTE_LOST: LineKind.DISPUTE_LOST,
}


def line_kind_for(entry_kind: EntryKind | str) -> LineKind:
    """Entries of kinds this table does not know (refunds, adjustments to come) are ADJUSTMENTs until named."""
    return _LINE_KIND_OF_ENTRY.get(EntryKind(entry_kind), LineKind.ADJUSTMENT)


def carried_forward_kind(opening_minor: int) -> LineKind:
    return LineKind.DEBT_CARRIED_FORWARD if opening_minor < 0 else LineKind.BALANCE_CARRIED_FORWARD


@dataclass(frozen=True, slots=True)
class StatementFigures:
    """One party's statement in one currency. closing = opening + movements + reserve released - reserve held
    - payout, and the payout is zero or at least the minimum."""

    opening_minor: int  # the last statement's closing balance: a debt when negative
    movements_minor: int  # the AVAILABLE postings the statement takes (releases, refunds, returns, adjustments)
    released_minor: int  # of which releases: the base of the reserve
    reserve_held_minor: int
    reserve_released_minor: int
    net_minor: int
    payout_minor: int
    closing_minor: int


def compute_statement(
    *,
    opening_minor: int,
    movements_by_kind: Mapping[LineKind, int],
    reserve_due_minor: int,
    reserve_bps: int,
    minimum_payout_minor: int,
) -> StatementFigures:
    """The named steps of a statement: take the period's movements and the reserves that fall due, hold the
    reserve on the period's releases (never more than is there), pay the net if it reaches the minimum."""
    _require(0 <= reserve_bps <= BASIS_POINTS, f"a reserve rate is 0..{BASIS_POINTS} bps, got {reserve_bps}")
    _require(reserve_due_minor >= 0 and minimum_payout_minor >= 0, "reserves due and minimums are not negative")
    movements = sum(movements_by_kind.values())
    released = max(0, movements_by_kind.get(LineKind.RELEASE, 0))
    before_reserve = opening_minor + movements + reserve_due_minor
    reserve_held = min(released * reserve_bps // BASIS_POINTS, max(0, before_reserve))
    net = before_reserve - reserve_held
    payout = net if net > 0 and net >= minimum_payout_minor else 0
    figures = StatementFigures(
        opening_minor=opening_minor,
        movements_minor=movements,
        released_minor=released,
        reserve_held_minor=reserve_held,
        reserve_released_minor=reserve_due_minor,
        net_minor=net,
        payout_minor=payout,
        closing_minor=net - payout,
    )
    _require(
        figures.closing_minor == opening_minor + movements + reserve_due_minor - reserve_held - payout,
        "a statement's closing balance is its opening plus what moved",
    )
    _require(payout == 0 or payout >= minimum_payout_minor, "a payout reaches the minimum")
    _require(payout >= 0 and reserve_held >= 0, "payouts and reserves are not negative")
    _require(reserve_held * BASIS_POINTS <= released * reserve_bps, "the reserve is at most its rate of releases")
    return figures
