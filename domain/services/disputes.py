"""Disputes (chargebacks): opening one holds the disputed amount of the merchant's money in DISPUTED; resolving it
gives the hold back (WON) or lets it leave through PSP clearing (LOST), shared out among the parties like a refund
when the platform setting `lost_dispute_bearer` says PROPORTIONAL. The rules are named in domain/disputes.py.

Only the platform opens and resolves disputes (they come from the payment provider), with `refunds:create`; a
merchant reads its own with `refunds:read` (auth/scoping.py).

Locks, as refunds take them: the payment row for the whole operation, so disputes and refunds of one payment run
one after the other and DISPUTABLE holds under concurrency; then the parties in the one global order
(domain/services/party_locks.py), like releases, so a release of the merchant's share and a dispute's hold never
both count the same escrow. The (payment, key) unique index makes a key's first request the only one.

A loss shared out is recorded as a refund of the disputed amount (reason "dispute lost", one reversal per party's
part, its entry the chargeback): every party gives back its proportion exactly as a refund takes it, later
refunds and releases see what it took, and verifyLedger checks it like any refund.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from auth.principal import Principal
from auth.scoping import readable, writable
from domain.disputes import (
    COUNTED_STATUSES,
    DisputeOutcome,
    DisputeStatus,
    Hold,
    LostDisputeBearer,
    bearer_for,
    check_disputable,
    disputable,
    escrow_held,
    hold_for,
    where_the_hold_goes,
)
from domain.errors import AlreadyExists, ErrorCode, FieldErrors, Forbidden, InvalidInput, NotFound
from domain.ledger import Bucket, JournalEntryDraft, hold_for_dispute, lose_dispute, party_account, release_dispute_hold
from domain.models import Allocation, Dispute, Payment, Refund, RefundReversal, Release
from domain.money import parse_amount
from domain.parties import PartyKind
from domain.refunds import RefundPlan, RefundRequest, plan_refund, refundable
from domain.services import auth_events, ledger, party_locks, platform_settings
from domain.services import refunds as refund_service
from domain.services.authorization import require
from domain.services.pagination import Page, PageRequest, fetch_page
from domain.services.runtime import Runtime

MAX_REASON_LENGTH = 400
MAX_KEY_LENGTH = 128
LOST_REFUND_REASON = "dispute lost"


class DisputeKeyConflict(AlreadyExists):
    def __init__(self) -> None:
        super().__init__(
            ErrorCode.IDEMPOTENCY_CONFLICT,
            "this idempotency key was already used for another dispute of this payment",
            field="idempotencyKey",
        )


class AlreadyResolved(InvalidInput):
    """The dispute was decided the other way: a decision is final."""

    def __init__(self, dispute: Dispute) -> None:
        super().__init__(
            ErrorCode.INVALID_INPUT,
            f"outcome: the dispute was already resolved {dispute.status}; a resolved dispute is final",
            field="outcome",
        )


@dataclass(frozen=True)
class DisputeDraft:
    payment_id: int
    amount: str | Decimal  # major units of the payment's currency
    reason: str
    evidence_due_at: datetime
    idempotency_key: str


@dataclass(frozen=True)
class Opened:
    dispute: Dispute
    replayed: bool


def _require_platform(principal: Principal, doing: str) -> None:
    require(principal, "refunds:create")
    if principal.party_kind is not PartyKind.PLATFORM:
        raise Forbidden(f"only the platform {doing} disputes: they come from the payment provider")


async def open_dispute(principal: Principal, runtime: Runtime, draft: DisputeDraft) -> Opened:
    """Holds the disputed amount of the payment's merchant (HOLD_FROM_ESCROW_FIRST); the same key with the same
    request returns the first dispute."""
    _require_platform(principal, "opens")
    payment = await readable(principal, Payment).get_or_none(id=draft.payment_id)
    if payment is None:
        raise NotFound("payment", field="paymentId")
    amount_minor, reason, key = _checked(payment, draft)
    digest = _request_hash(amount_minor, reason, draft.evidence_due_at)
    existing = await Dispute.get_or_none(payment_id=payment.id, idempotency_key=key)
    if existing is not None:
        return _replayed(existing, digest)
    try:
        async with in_transaction():
            await Payment.filter(id=payment.id).select_for_update().first()  # its disputes and refunds, one at a time
            existing = await Dispute.get_or_none(payment_id=payment.id, idempotency_key=key)
            if existing is not None:
                return _replayed(existing, digest)
            check_disputable(amount_minor, await _disputable(payment), payment.currency)
            await party_locks.claim([payment.merchant_id], skip_locked=False)
            hold = hold_for(amount_minor, await _escrow_held(payment))
            sources = {Bucket.PENDING: hold.from_escrow_minor, Bucket.AVAILABLE: hold.from_available_minor}
            taken = {bucket: minor for bucket, minor in sources.items() if minor}
            escrow = party_account(payment.merchant_id, payment.currency, Bucket.PENDING)
            now = runtime.now()
            [entry_id] = await ledger.post_entries(
                [
                    hold_for_dispute(
                        payment.merchant_id, payment.currency, taken, payment_id=payment.id, memo=f"dispute {key}"[:400]
                    )
                ],
                # Escrow never goes below zero: what the share still holds is there.
                at_least=[ledger.AtLeast(escrow, hold.from_escrow_minor)] if hold.from_escrow_minor else [],
                posted_at=now,
            )
            dispute = await Dispute.create(
                payment_id=payment.id,
                merchant_id=payment.merchant_id,
                idempotency_key=key,
                request_hash=digest,
                currency=payment.currency,
                amount_minor=amount_minor,
                from_escrow_minor=hold.from_escrow_minor,
                reason=reason,
                evidence_due_at=draft.evidence_due_at,
                opened_by_user_id=principal.user_id,
                opened_by_api_key_id=principal.api_key_id,
                opened_at=now,
                opened_entry_id=entry_id,
            )
            await auth_events.record(
                "dispute_opened",
                actor=principal,
                party_id=payment.merchant_id,
                detail=f"dispute {dispute.id} of payment {payment.id}: {amount_minor} minor units {payment.currency}",
            )
    except IntegrityError:
        # A concurrent request with the same key won: its dispute is the answer.
        winner = await Dispute.get(payment_id=payment.id, idempotency_key=key)
        return _replayed(winner, digest)
    return Opened(dispute, replayed=False)


def _replayed(existing: Dispute, digest: str) -> Opened:
    if existing.request_hash != digest:
        raise DisputeKeyConflict()
    return Opened(existing, replayed=True)


def _checked(payment: Payment, draft: DisputeDraft) -> tuple[int, str, str]:
    """Every field checked before anything is locked; all mistakes reported at once."""
    found = FieldErrors()
    amount = found.check(partial(parse_amount, draft.amount, payment.currency, field="amount"))
    if amount is not None and amount.amount_minor == 0:
        found.errors.append(
            InvalidInput(ErrorCode.INVALID_AMOUNT, "amount: a dispute is more than zero", field="amount")
        )
    reason = " ".join(draft.reason.split())
    if not 1 <= len(reason) <= MAX_REASON_LENGTH:
        found.errors.append(
            InvalidInput(ErrorCode.INVALID_INPUT, f"reason must be 1 to {MAX_REASON_LENGTH} characters", field="reason")
        )
    due = draft.evidence_due_at
    if due.tzinfo is None:
        found.errors.append(
            InvalidInput(
                ErrorCode.INVALID_INPUT,
                "evidenceDueAt needs a time zone offset, e.g. 2026-12-01T23:59:59+08:00",
                field="evidenceDueAt",
            )
        )
    elif due <= payment.paid_at:
        found.errors.append(
            InvalidInput(
                ErrorCode.INVALID_INPUT,
                f"evidenceDueAt {due.isoformat()} is not after the payment was paid ({payment.paid_at.isoformat()})",
                field="evidenceDueAt",
            )
        )
    key = draft.idempotency_key.strip()
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        found.errors.append(
            InvalidInput(
                ErrorCode.INVALID_INPUT,
                f"idempotencyKey must be 1 to {MAX_KEY_LENGTH} characters",
                field="idempotencyKey",
            )
        )
    found.raise_any()
    assert amount is not None  # raise_any() raised otherwise
    return amount.amount_minor, reason, key


def _request_hash(amount_minor: int, reason: str, evidence_due_at: datetime) -> str:
    canonical = json.dumps(
        {"amount": amount_minor, "reason": reason, "evidence_due_at": evidence_due_at.timestamp()}, sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _disputable(payment: Payment) -> int:
    """DISPUTABLE, read under the payment's lock. A loss shared out is both a lost dispute and a refund: once."""
    disputes = await Dispute.filter(payment_id=payment.id).values("amount_minor", "status", "refund_id")
    of_disputes = {row["refund_id"] for row in disputes if row["refund_id"] is not None}
    refunds = await Refund.filter(payment_id=payment.id).values("id", "amount_minor")
    return disputable(
        payment.total_minor,
        sum(int(row["amount_minor"]) for row in refunds if row["id"] not in of_disputes),
        sum(int(row["amount_minor"]) for row in disputes if row["status"] in COUNTED_STATUSES),
    )


async def _escrow_held(payment: Payment) -> int:
    """What the merchant's share of the payment still holds in escrow, read under the party lock."""
    merchant = payment.merchant_id
    released = await Release.filter(payment_id=payment.id, party_id=merchant).exists()
    shares = await Allocation.filter(payment_id=payment.id, party_id=merchant).values("amount_minor")
    reversals = await RefundReversal.filter(payment_id=payment.id, party_id=merchant).values("amount_minor")
    holds = await Dispute.filter(payment_id=payment.id).values("from_escrow_minor", "escrow_cleared_minor")
    return escrow_held(
        sum(int(row["amount_minor"]) for row in shares),
        sum(int(row["amount_minor"]) for row in reversals),
        sum(int(row["from_escrow_minor"]) - int(row["escrow_cleared_minor"]) for row in holds),
        released=released,
    )


# --- resolving ----------------------------------------------------------------------------------------------


async def resolve_dispute(
    principal: Principal, runtime: Runtime, dispute_id: int, outcome: DisputeOutcome | str
) -> Dispute:
    """Decides an open dispute. The same outcome again returns it unchanged; the other one is AlreadyResolved."""
    _require_platform(principal, "resolves")
    decided = DisputeOutcome(outcome)
    found = await writable(principal, Dispute).get_or_none(id=dispute_id)
    if found is None:
        raise NotFound("dispute", field="disputeId")
    if found.status != DisputeStatus.OPEN:
        return _decided_already(found, decided)
    async with in_transaction():
        payment = await Payment.filter(id=found.payment_id).select_for_update().get()
        dispute = await Dispute.get(id=dispute_id)  # as it is now that its payment is ours
        if dispute.status != DisputeStatus.OPEN:
            return _decided_already(dispute, decided)
        await _resolve_open(principal, runtime, payment, dispute, decided)
        await auth_events.record(
            "dispute_resolved",
            actor=principal,
            party_id=payment.merchant_id,
            detail=f"dispute {dispute.id} of payment {payment.id}: {decided.value}",
        )
    return await Dispute.get(id=dispute_id)


def _decided_already(dispute: Dispute, outcome: DisputeOutcome) -> Dispute:
    if dispute.status != outcome.value:
        raise AlreadyResolved(dispute)
    return dispute


async def _resolve_open(
    principal: Principal, runtime: Runtime, payment: Payment, dispute: Dispute, outcome: DisputeOutcome
) -> None:
    merchant, currency, amount = payment.merchant_id, payment.currency, dispute.amount_minor
    bearer: LostDisputeBearer | None = None
    plan: RefundPlan | None = None
    others: dict[int, int] = {}  # party -> its part of a shared loss
    allocation_ids: dict[tuple[int, int, str], int] = {}
    if outcome is DisputeOutcome.LOST:
        lines, reversed_so_far, allocation_ids = await refund_service._shares_of(payment.id)
        setting = (await platform_settings.current()).lost_dispute_bearer
        bearer = bearer_for(setting, amount, refundable(lines, reversed_so_far).total_minor)
        if bearer is LostDisputeBearer.PROPORTIONAL:
            # A refund of the disputed amount, goods and shipping fee alike: each party gives back its proportion.
            plan = plan_refund(lines, reversed_so_far, RefundRequest(amount, include_shipping=True), currency=currency)
            for reversal in plan.reversals:
                others[reversal.party_id] = others.get(reversal.party_id, 0) + reversal.amount_minor
    merchant_reversed = others.pop(merchant, 0)
    # LOST_DISPUTE_BEARER: the whole hold when the merchant bears the loss alone, its part when it is shared out.
    lost = 0 if bearer is None else merchant_reversed if plan is not None else amount
    await party_locks.claim([merchant, *others], skip_locked=False)
    where = where_the_hold_goes(
        Hold(dispute.from_escrow_minor, amount - dispute.from_escrow_minor),
        share_released=await Release.filter(payment_id=payment.id, party_id=merchant).exists(),
        lost_minor=lost,
        merchant_reversed_minor=merchant_reversed,
    )
    memo = f"dispute {dispute.id} {outcome.value.lower()}"
    drafts: list[JournalEntryDraft] = []
    back = {Bucket.PENDING: where.to_escrow_minor, Bucket.AVAILABLE: where.to_available_minor}
    returned = {bucket: minor for bucket, minor in back.items() if minor}
    if returned:
        drafts.append(release_dispute_hold(merchant, currency, returned, payment_id=payment.id, memo=memo))
    if bearer is not None:
        taken = await refund_service._where_from(payment, others) if others else {}
        drafts.append(lose_dispute(currency, merchant, where.lost_minor, taken, payment_id=payment.id, memo=memo))
    now = runtime.now()
    entry_ids = await ledger.post_entries(
        drafts,
        # The hold is there: a DISPUTED account never goes below zero.
        at_least=[ledger.AtLeast(party_account(merchant, currency, Bucket.DISPUTED), amount)],
        posted_at=now,
    )
    released_entry_id = entry_ids[0] if returned else None
    lost_entry_id = entry_ids[-1] if bearer is not None else None
    refund_id = None
    if plan is not None and lost_entry_id is not None:
        refund_id = await _record_shared_loss(principal, payment, dispute, plan, allocation_ids, lost_entry_id, now)
    updated = await Dispute.filter(id=dispute.id, status=DisputeStatus.OPEN.value).update(
        status=outcome.value,
        lost_bearer=None if bearer is None else bearer.value,
        escrow_cleared_minor=where.escrow_cleared_minor,
        resolved_by_user_id=principal.user_id,
        resolved_by_api_key_id=principal.api_key_id,
        resolved_at=now,
        released_entry_id=released_entry_id,
        lost_entry_id=lost_entry_id,
        refund_id=refund_id,
    )
    if updated != 1:
        raise RuntimeError(f"dispute {dispute.id} changed under its payment's lock")


async def _record_shared_loss(
    principal: Principal,
    payment: Payment,
    dispute: Dispute,
    plan: RefundPlan,
    allocation_ids: dict[tuple[int, int, str], int],
    entry_id: int,
    now: datetime,
) -> int:
    """The refund that a shared loss is: what each party gave back, for releases, refunds and verifyLedger."""
    created = await Refund.create(
        payment_id=payment.id,
        merchant_id=payment.merchant_id,
        idempotency_key=f"dispute:{dispute.id}",
        request_hash=hashlib.sha256(f"dispute:{dispute.id}:{dispute.amount_minor}".encode()).hexdigest(),
        currency=payment.currency,
        amount_minor=dispute.amount_minor,
        include_shipping=True,
        reason=LOST_REFUND_REASON,
        created_by_user_id=principal.user_id,
        created_by_api_key_id=principal.api_key_id,
        journal_entry_id=entry_id,
        created_at=now,
    )
    await RefundReversal.bulk_create(refund_service._reversal_rows(created, payment, plan, allocation_ids))
    return created.id


# --- reads ------------------------------------------------------------------------------------------------


async def list_disputes(
    principal: Principal,
    runtime: Runtime,
    page: PageRequest,
    *,
    payment_id: int | None = None,
    status: DisputeStatus | str | None = None,
) -> Page[Dispute]:
    """Disputes in the caller's scope (every one for the platform, its own for a merchant), newest first."""
    require(principal, "refunds:read")
    query = readable(principal, Dispute)
    if payment_id is not None:
        query = query.filter(payment_id=payment_id)
    if status is not None:
        query = query.filter(status=DisputeStatus(status).value)
    return await fetch_page(query, page.checked(runtime.max_page_size))


async def disputes_by_ids(principal: Principal, ids: Sequence[int]) -> dict[int, Dispute]:
    """For node lookups: the disputes among `ids` in the caller's scope."""
    require(principal, "refunds:read")
    return {row.id: row for row in await readable(principal, Dispute).filter(id__in=list(ids))}


async def disputes_of(principal: Principal, payment_ids: Sequence[int]) -> dict[int, list[Dispute]]:
    """For data loaders: each payment's disputes the caller may see, oldest first; none without `refunds:read`
    (a payment's readers are not all disputes' readers), as Payment.refunds."""
    grouped: dict[int, list[Dispute]] = {payment_id: [] for payment_id in payment_ids}
    if not principal.has("refunds:read"):
        return grouped
    for row in await readable(principal, Dispute).filter(payment_id__in=list(payment_ids)).order_by("id"):
        grouped[row.payment_id].append(row)
    return grouped
