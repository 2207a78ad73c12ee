"""Releasing held funds: every share that is due moves PENDING -> AVAILABLE, once, with set-based SQL.

A share is one party's allocations in one payment. When it is due is decided in domain/settlement.py
(`release_due_at`); here the rule becomes two comparisons per party (`release_thresholds`) that the database makes
over all of the party's allocations at once. Each release writes a `releases` row per share (when and why) and
one journal entry per party and currency (PENDING -> AVAILABLE, by the `release` builder). The unique (payment,
party) index and the party locks make it happen once, however many workers run it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from auth.principal import Principal
from domain.errors import InvalidInput
from domain.ledger import Bucket, party_account, release
from domain.parties import KycStatus, PartyKind, RiskLevel
from domain.payments import EARLIEST_PAID_AT
from domain.services import dialect, ledger, party_locks
from domain.services.authorization import require
from domain.services.runtime import Runtime
from domain.settlement import ReleasePolicy, ReleaseReason, release_policy, release_thresholds

CHUNK_PARTIES = 500  # parties per transaction: a crash loses at most one chunk's work, which the next run redoes

Progress = Callable[[int, int], None]


@dataclass
class ReleaseOutcome:
    as_of: datetime
    parties_considered: int = 0
    shares_released: int = 0
    entries_posted: int = 0
    totals_minor: dict[str, int] = field(default_factory=dict)  # currency -> amount released
    duration_ms: int = 0

    def add(self, other: ReleaseOutcome) -> None:
        self.shares_released += other.shares_released
        self.entries_posted += other.entries_posted
        for currency, amount in other.totals_minor.items():
            self.totals_minor[currency] = self.totals_minor.get(currency, 0) + amount


def check_as_of(as_of: datetime, now: datetime, *, field: str = "asOf") -> None:
    if as_of.tzinfo is None:
        raise InvalidInput(
            "INVALID_CUTOFF", f"{field} needs a time zone offset, e.g. 2026-11-22T02:00:00+08:00", field=field
        )
    if as_of < EARLIEST_PAID_AT:
        raise InvalidInput(
            "INVALID_CUTOFF",
            f"{field} {as_of.isoformat()} is before {EARLIEST_PAID_AT.date().isoformat()}, before any payment",
            field=field,
        )
    if as_of > now:
        raise InvalidInput(
            "INVALID_CUTOFF",
            f"{field} {as_of.isoformat()} is in the future: money is released (and settled) only up to now, "
            f"{now.isoformat()}",
            field=field,
        )


async def release_held_funds(
    principal: Principal,
    runtime: Runtime,
    as_of: datetime,
    *,
    chunk_parties: int = CHUNK_PARTIES,
    progress: Progress | None = None,
    only_party_ids: Collection[int] | None = None,
) -> ReleaseOutcome:
    """Releases every share due at `as_of` (at most now), of `only_party_ids` when given. Parties another worker
    holds are passed over on the first pass and waited for on a second, so one call leaves nothing due behind."""
    require(principal, "settlements:run")
    started = time.perf_counter()
    now = runtime.now()
    check_as_of(as_of, now)
    policies = await _policies_of_parties_holding_funds()
    if only_party_ids is not None:
        policies = {party_id: policy for party_id, policy in policies.items() if party_id in set(only_party_ids)}
    outcome = ReleaseOutcome(as_of=as_of, parties_considered=len(policies))

    async def release_chunk(claimed: list[int]) -> None:
        outcome.add(await release_due_shares(claimed, policies, as_of, now))

    await party_locks.in_chunks(policies, chunk_parties, release_chunk, progress)
    outcome.duration_ms = int((time.perf_counter() - started) * 1000)
    return outcome


async def _policies_of_parties_holding_funds() -> dict[int, ReleasePolicy]:
    rows = await dialect.rows(
        "SELECT p.id, p.kind, p.hold_days, p.kyc_status, p.risk_level FROM parties p WHERE EXISTS ("
        "SELECT 1 FROM ledger_accounts a WHERE a.party_id = p.id AND a.bucket = $1 AND a.balance_minor <> 0)",
        Bucket.PENDING.value,
    )
    return {int(row["id"]): policy_of(row) for row in rows}


def policy_of(row: dict) -> ReleasePolicy:
    return release_policy(
        PartyKind(row["kind"]),
        int(row["hold_days"]),
        KycStatus(row["kyc_status"]) if row["kyc_status"] else None,
        RiskLevel(row["risk_level"]) if row["risk_level"] else None,
    )


async def policies_of(party_ids: Iterable[int]) -> dict[int, ReleasePolicy]:
    ids = sorted(set(party_ids))
    rows = await dialect.rows(
        "SELECT p.id, p.kind, p.hold_days, p.kyc_status, p.risk_level FROM parties p JOIN "  # noqa: S608 - no input in it
        + dialect.json_table("$1", "t", [("id", "bigint")])
        + " ON t.id = p.id",
        dialect.dumps([{"id": party_id} for party_id in ids]),
    )
    return {int(row["id"]): policy_of(row) for row in rows}


_THRESHOLDS = [("party_id", "bigint"), ("paid_by", "timestamptz"), ("confirmed_by", "timestamptz")]
_ENTRY_IDS = [("party_id", "bigint"), ("currency", "text"), ("entry_id", "bigint")]

# One row per due share, with the release entry of its party and currency. The thresholds say when a share is
# due (domain.settlement.release_thresholds); the anti-join makes a share released once.
_INSERT_RELEASES = """
INSERT INTO releases (payment_id, party_id, currency, amount_minor, reason, released_at, entry_id)
SELECT a.payment_id, a.party_id, a.currency, SUM(a.amount_minor) - {refunded},
  CASE WHEN d.confirmed_at IS NOT NULL AND d.confirmed_at <= t.confirmed_by THEN '{delivered}' ELSE '{held}' END,
  $3, m.entry_id
FROM allocations a
JOIN {thresholds} ON t.party_id = a.party_id
JOIN {entry_ids} ON m.party_id = a.party_id AND m.currency = a.currency
JOIN payments p ON p.id = a.payment_id
LEFT JOIN deliveries d ON d.payment_id = a.payment_id
WHERE (p.paid_at <= t.paid_by OR (d.confirmed_at IS NOT NULL AND d.confirmed_at <= t.confirmed_by))
  AND ($4 = 0 OR a.payment_id = $5)
  AND NOT EXISTS (SELECT 1 FROM releases r WHERE r.payment_id = a.payment_id AND r.party_id = a.party_id)
GROUP BY a.payment_id, a.party_id, a.currency, d.confirmed_at, t.confirmed_by, m.entry_id
HAVING SUM(a.amount_minor) - {refunded} > 0
"""

# What refunds took back of a share while it was held (every refund before its release), and what disputes hold
# of it: released is the rest.
REFUNDED_WHILE_HELD = (
    "(COALESCE((SELECT SUM(rr.amount_minor) FROM refund_reversals rr "
    "WHERE rr.payment_id = a.payment_id AND rr.party_id = a.party_id), 0) + "
    # ESCROW_WITHHELD: what open disputes took of the merchant's held share, and did not give back to escrow.
    "COALESCE((SELECT SUM(d.from_escrow_minor - d.escrow_cleared_minor) FROM disputes d "
    "WHERE d.payment_id = a.payment_id AND d.merchant_id = a.party_id), 0))"
)


async def release_due_shares(
    party_ids: list[int],
    policies: dict[int, ReleasePolicy],
    as_of: datetime,
    now: datetime,
    *,
    payment_id: int | None = None,
) -> ReleaseOutcome:
    """Releases the due shares of `party_ids` (locked by the caller), of one payment when `payment_id` is given.
    Call inside a transaction."""
    outcome = ReleaseOutcome(as_of=as_of)
    thresholds = []
    for party_id in party_ids:
        due = release_thresholds(policies[party_id], as_of)
        if due is not None:  # a merchant whose KYC is not VERIFIED keeps its shares held
            thresholds.append(
                {
                    "party_id": party_id,
                    "paid_by": dialect.json_instant(due.paid_by),
                    "confirmed_by": dialect.json_instant(due.confirmed_by),
                }
            )
    if not thresholds:
        return outcome
    accounts = await dialect.rows(
        "SELECT a.party_id, a.currency FROM ledger_accounts a JOIN "  # noqa: S608 - no input in it
        + dialect.json_table("$1", "t", [("party_id", "bigint")])
        + " ON t.party_id = a.party_id WHERE a.bucket = $2 AND a.balance_minor <> 0 ORDER BY a.party_id, a.currency",
        dialect.dumps([{"party_id": row["party_id"]} for row in thresholds]),
        Bucket.PENDING.value,
    )
    if not accounts:
        return outcome
    entry_ids = await dialect.next_ids("journal_entries", len(accounts))
    mapping = [
        {"party_id": int(row["party_id"]), "currency": row["currency"], "entry_id": entry_id}
        for row, entry_id in zip(accounts, entry_ids, strict=True)
    ]
    sql = _INSERT_RELEASES.format(
        delivered=ReleaseReason.DELIVERY_CONFIRMED.value,
        held=ReleaseReason.HOLD_PERIOD_ENDED.value,
        thresholds=dialect.json_table("$1", "t", _THRESHOLDS),
        entry_ids=dialect.json_table("$2", "m", _ENTRY_IDS),
        refunded=REFUNDED_WHILE_HELD,
    )
    await dialect.rows(
        sql,
        dialect.dumps(thresholds),
        dialect.dumps(mapping),
        dialect.instant(now),
        0 if payment_id is None else 1,
        payment_id or 0,
    )
    released = await dialect.rows(
        "SELECT r.entry_id, r.party_id, r.currency, SUM(r.amount_minor) AS amount, COUNT(*) AS shares "
        "FROM releases r JOIN "
        + dialect.json_table("$1", "m", [("entry_id", "bigint")])
        + " ON m.entry_id = r.entry_id GROUP BY r.entry_id, r.party_id, r.currency ORDER BY r.entry_id",
        dialect.dumps([{"entry_id": row["entry_id"]} for row in mapping]),
    )
    if not released:
        return outcome
    drafts = [
        release(int(row["party_id"]), row["currency"], int(row["amount"]), memo=f"released {int(row['shares'])} shares")
        for row in released
    ]
    await ledger.post_entries(
        drafts,
        entry_ids=[int(row["entry_id"]) for row in released],
        # Released money was held: a PENDING account never goes below zero (refunds take their part first).
        at_least=[
            ledger.AtLeast(party_account(int(row["party_id"]), row["currency"], Bucket.PENDING), int(row["amount"]))
            for row in released
        ],
        posted_at=now,
    )
    outcome.entries_posted = len(drafts)
    for row in released:
        outcome.shares_released += int(row["shares"])
        outcome.totals_minor[row["currency"]] = outcome.totals_minor.get(row["currency"], 0) + int(row["amount"])
    return outcome
