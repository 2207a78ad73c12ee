"""Refunding payments: what each party gives back (domain/refunds.py), where its money comes from, one entry.

Where a party's part comes from (WHERE_REFUNDS_TAKE_FROM): a share still held in escrow gives back from PENDING;
a released share from AVAILABLE, and past it AVAILABLE goes negative: a debt its next statements deduct (a
REFUND_REVERSAL line, then DEBT_CARRIED_FORWARD until paid). A release after a refund releases what the refund
left (domain/services/releases.py). The rolling reserve is not drawn on directly: each reserve hold comes back
whole on its day (a statement line names the hold it returns), and a refund taking part of it first would make
that return pay out money already given back. The reserve covers a debt when it comes back into AVAILABLE, on
the statement that nets them.

Exactly once and never more than captured: the payment row is locked for the whole refund, so concurrent
refunds of one payment run one after the other and each sees what the others reversed; the (payment, key)
unique index makes a key's first request the only one. The parties are then locked in the one global order
(domain/services/party_locks.py), like releases and settlement runs, so a refund and a release of the same share
never both count it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from auth.principal import Principal
from auth.scoping import readable, writable
from domain.errors import AlreadyExists, FieldErrors, InvalidInput, NotFound
from domain.ledger import Bucket, refund
from domain.models import Allocation, Payment, PaymentLine, Refund, RefundReversal, Release
from domain.money import Money, parse_amount
from domain.refunds import (
    ItemRefund,
    LineShares,
    PartShare,
    Refundable,
    RefundBasis,
    RefundPlan,
    RefundRequest,
    ShareKey,
    plan_refund,
    refundable,
)
from domain.services import auth_events, dialect, ledger, party_locks, releases
from domain.services.authorization import require
from domain.services.pagination import Page, PageRequest, fetch_page
from domain.services.runtime import Runtime

MAX_REASON_LENGTH = 400
MAX_KEY_LENGTH = 128


class RefundKeyConflict(AlreadyExists):
    def __init__(self) -> None:
        super().__init__(
            "IDEMPOTENCY_CONFLICT",
            "this idempotency key was already used for another refund of this payment",
            field="idempotencyKey",
        )


@dataclass(frozen=True)
class RefundDraft:
    payment_id: int
    idempotency_key: str
    reason: str
    amount: str | None = None  # major units of the payment's currency
    items: Sequence[tuple[int, str | None]] = ()  # (payment line id, amount or None for all that is left)
    include_shipping: bool = False


@dataclass(frozen=True)
class Created:
    refund: Refund
    replayed: bool


async def create_refund(principal: Principal, runtime: Runtime, draft: RefundDraft) -> Created:
    """Refunds a payment the caller may refund (auth/scoping.py: the platform any, a merchant its own)."""
    require(principal, "refunds:create")
    payment = await writable(principal, Payment).get_or_none(id=draft.payment_id)
    if payment is None:
        raise NotFound("payment", field="paymentId")
    request, key, reason = await _checked(payment, draft)
    digest = _request_hash(request, reason)
    existing = await Refund.get_or_none(payment_id=payment.id, idempotency_key=key)
    if existing is not None:
        return _replayed(existing, digest)
    try:
        async with in_transaction():
            await Payment.filter(id=payment.id).select_for_update().first()  # refunds of a payment, one at a time
            existing = await Refund.get_or_none(payment_id=payment.id, idempotency_key=key)
            if existing is not None:
                return _replayed(existing, digest)
            lines, reversed_so_far, allocation_ids = await _shares_of(payment.id)
            plan = plan_refund(lines, reversed_so_far, request, currency=payment.currency)
            await _within_what_disputes_leave(payment, plan.refunded_minor)
            by_party: dict[int, int] = {}
            for reversal in plan.reversals:
                by_party[reversal.party_id] = by_party.get(reversal.party_id, 0) + reversal.amount_minor
            await party_locks.claim(by_party, skip_locked=False)
            taken = await _where_from(payment, by_party)
            now = runtime.now()
            [entry_id] = await ledger.post_entries(
                [refund(payment.currency, taken, payment_id=payment.id, memo=f"refund {key}"[:400])], posted_at=now
            )
            created = await Refund.create(
                payment_id=payment.id,
                merchant_id=payment.merchant_id,
                idempotency_key=key,
                request_hash=digest,
                currency=payment.currency,
                amount_minor=plan.refunded_minor,
                include_shipping=request.include_shipping,
                reason=reason,
                created_by_user_id=principal.user_id,
                created_by_api_key_id=principal.api_key_id,
                journal_entry_id=entry_id,
                created_at=now,
            )
            await RefundReversal.bulk_create(_reversal_rows(created, payment, plan, allocation_ids))
            await auth_events.record(
                "refund_created",
                actor=principal,
                party_id=payment.merchant_id,
                detail=f"refund {created.id} of payment {payment.id}: "
                f"{Money(plan.refunded_minor, payment.currency).format()} {payment.currency}",
            )
    except IntegrityError:
        # A concurrent request with the same key won: its refund is the answer.
        winner = await Refund.get(payment_id=payment.id, idempotency_key=key)
        return _replayed(winner, digest)
    return Created(created, replayed=False)


async def _within_what_disputes_leave(payment: Payment, refund_minor: int) -> None:
    """NOT_TWICE: money under an open dispute, or lost to a chargeback, cannot also be refunded: the buyer would
    get it back twice. (A loss shared out among the parties was written as a refund already: counted once.)"""
    rows = await dialect.rows(
        "SELECT COALESCE((SELECT SUM(d.amount_minor) FROM disputes d WHERE d.payment_id = $1 AND d.status IN "
        "('OPEN', 'LOST')), 0) AS disputed, COALESCE((SELECT SUM(f.amount_minor) FROM refunds f WHERE "
        "f.payment_id = $2 AND f.id NOT IN (SELECT d.refund_id FROM disputes d WHERE d.payment_id = $3 AND "
        "d.refund_id IS NOT NULL)), 0) AS refunded",
        payment.id,
        payment.id,
        payment.id,
    )
    disputed, refunded_minor = int(rows[0]["disputed"]), int(rows[0]["refunded"])
    left = payment.total_minor - refunded_minor - disputed
    if refund_minor > left:
        raise InvalidInput(
            "INVALID_AMOUNT",
            f"only {Money(max(left, 0), payment.currency).format()} {payment.currency} can be refunded: "
            f"{Money(disputed, payment.currency).format()} is under dispute or lost to a chargeback",
            field="amount",
        )


def _replayed(existing: Refund, digest: str) -> Created:
    if existing.request_hash != digest:
        raise RefundKeyConflict()
    return Created(existing, replayed=True)


async def _checked(payment: Payment, draft: RefundDraft) -> tuple[RefundRequest, str, str]:
    """Every field checked before anything is locked; all mistakes reported at once."""
    found = FieldErrors()
    key = draft.idempotency_key.strip()
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        found.errors.append(
            InvalidInput(
                "INVALID_INPUT", f"idempotencyKey must be 1 to {MAX_KEY_LENGTH} characters", field="idempotencyKey"
            )
        )
    reason = " ".join(draft.reason.split())
    if not 1 <= len(reason) <= MAX_REASON_LENGTH:
        found.errors.append(
            InvalidInput("INVALID_INPUT", f"reason must be 1 to {MAX_REASON_LENGTH} characters", field="reason")
        )

    def minor_of(text: str, field: str) -> int:
        return parse_amount(text, payment.currency, field=field).amount_minor

    amount = None
    if draft.amount is not None:
        amount = found.check(partial(minor_of, draft.amount, "amount"))
    positions = dict(await PaymentLine.filter(payment_id=payment.id).values_list("id", "position"))
    items = []
    for index, (line_id, item_amount) in enumerate(draft.items):
        if line_id not in positions:
            found.errors.append(
                InvalidInput(
                    "INVALID_INPUT", "this is not a line item of the payment", field=f"items[{index}].lineItemId"
                )
            )
            continue
        minor = None
        if item_amount is not None:
            minor = found.check(partial(minor_of, item_amount, f"items[{index}].amount"))
        items.append(ItemRefund(int(positions[line_id]), minor))
    found.raise_any()
    return RefundRequest(amount, tuple(items), draft.include_shipping), key, reason


def _request_hash(request: RefundRequest, reason: str) -> str:
    canonical = json.dumps(
        {
            "amount": request.amount_minor,
            "items": [[item.position, item.amount_minor] for item in request.items],
            "shipping": request.include_shipping,
            "reason": reason,
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _shares_of(payment_id: int) -> tuple[list[LineShares], dict[ShareKey, int], dict[tuple[int, int, str], int]]:
    """The payment's split as domain/refunds.py reads it, what earlier refunds reversed, and the allocation of
    each (line, party, role)."""
    lines = await PaymentLine.filter(payment_id=payment_id).order_by("position")
    allocations = await Allocation.filter(payment_id=payment_id).order_by("id")
    by_line: dict[int, list[PartShare]] = {}
    allocation_ids = {}
    for row in allocations:
        by_line.setdefault(row.line_position, []).append(
            PartShare(row.party_id, row.role, row.goods_minor, row.shipping_minor)
        )
        allocation_ids[(row.line_position, row.party_id, row.role)] = row.id
    shares = [
        LineShares(line.position, line.amount_minor, line.shipping_minor, tuple(by_line.get(line.position, ())))
        for line in lines
    ]
    reversed_so_far: dict[ShareKey, int] = {}
    for reversal in await RefundReversal.filter(payment_id=payment_id):
        key = (reversal.line_position, RefundBasis(reversal.basis), reversal.party_id, reversal.role)
        reversed_so_far[key] = reversed_so_far.get(key, 0) + reversal.amount_minor
    return shares, reversed_so_far, allocation_ids


async def _where_from(payment: Payment, by_party: dict[int, int]) -> dict[tuple[int, Bucket], int]:
    """WHERE_REFUNDS_TAKE_FROM, per party, with its accounts locked by the caller's party lock."""
    released = set(
        await Release.filter(payment_id=payment.id, party_id__in=list(by_party)).values_list("party_id", flat=True)
    )
    taken: dict[tuple[int, Bucket], int] = {}
    for party_id, amount in sorted(by_party.items()):
        if party_id not in released:
            # Its share is still held: from what escrow holds of it (disputes may hold part of it), the rest
            # as a debt.
            in_escrow = await _escrow_left(payment.id, party_id)
            from_escrow = min(amount, in_escrow)
            if from_escrow:
                taken[(party_id, Bucket.PENDING)] = from_escrow
            if amount - from_escrow:
                taken[(party_id, Bucket.AVAILABLE)] = amount - from_escrow
            continue
        # What AVAILABLE holds, and past it a debt (AVAILABLE negative) that the next statements deduct.
        taken[(party_id, Bucket.AVAILABLE)] = amount
    return taken


async def _escrow_left(payment_id: int, party_id: int) -> int:
    """What PENDING holds of a party's unreleased share of a payment: what its release would release."""
    rows = await dialect.rows(
        f"SELECT SUM(a.amount_minor) - {releases.REFUNDED_WHILE_HELD} AS held FROM allocations a "  # noqa: S608
        "WHERE a.payment_id = $1 AND a.party_id = $2 GROUP BY a.payment_id, a.party_id",
        payment_id,
        party_id,
    )
    return max(int(rows[0]["held"]), 0) if rows else 0


def _reversal_rows(
    created: Refund, payment: Payment, plan: RefundPlan, allocation_ids: dict[tuple[int, int, str], int]
) -> list[RefundReversal]:
    return [
        RefundReversal(
            refund_id=created.id,
            payment_id=payment.id,
            allocation_id=allocation_ids[(reversal.position, reversal.party_id, reversal.role)],
            line_position=reversal.position,
            basis=reversal.basis.value,
            party_id=reversal.party_id,
            role=reversal.role,
            currency=payment.currency,
            amount_minor=reversal.amount_minor,
        )
        for reversal in plan.reversals
    ]


# --- reads ------------------------------------------------------------------------------------------------


async def list_refunds(
    principal: Principal, runtime: Runtime, page: PageRequest, *, payment_id: int | None = None
) -> Page[Refund]:
    require(principal, "refunds:read")
    query = readable(principal, Refund)
    if payment_id is not None:
        query = query.filter(payment_id=payment_id)
    return await fetch_page(query, page.checked(runtime.max_page_size))


async def refunds_by_ids(principal: Principal, ids: Sequence[int]) -> dict[int, Refund]:
    require(principal, "refunds:read")
    return {row.id: row for row in await readable(principal, Refund).filter(id__in=list(ids))}


async def refunds_of_payments(principal: Principal, payment_ids: Sequence[int]) -> dict[int, list[Refund]]:
    """For data loaders: each payment's refunds the caller may read, newest first; none without `refunds:read`
    (a payment's readers are not all refunds' readers)."""
    grouped: dict[int, list[Refund]] = {payment_id: [] for payment_id in payment_ids}
    if not principal.has("refunds:read"):
        return grouped
    for row in await readable(principal, Refund).filter(payment_id__in=list(payment_ids)).order_by("-id"):
        grouped[row.payment_id].append(row)
    return grouped


async def reversals_of(principal: Principal, refund_ids: Sequence[int]) -> dict[int, list[RefundReversal]]:
    """For data loaders: each refund's reversals the caller may see (a party: its own)."""
    grouped: dict[int, list[RefundReversal]] = {refund_id: [] for refund_id in refund_ids}
    for row in await readable(principal, RefundReversal).filter(refund_id__in=list(refund_ids)).order_by("id"):
        grouped[row.refund_id].append(row)
    return grouped


async def refundable_of(principal: Principal, payment_id: int) -> Refundable:
    """What is still refundable of a payment the caller may read."""
    require(principal, "payments:read")
    if not await readable(principal, Payment).filter(id=payment_id).exists():
        raise NotFound("payment", field="paymentId")
    lines, reversed_so_far, _ = await _shares_of(payment_id)
    return refundable(lines, reversed_so_far)
