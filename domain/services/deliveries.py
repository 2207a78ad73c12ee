"""Confirming a delivery: by the platform, or by the logistics partner that carried the order, once per payment.

The confirmation releases at once every share of the payment that is then due (domain.settlement: a delivery
confirmed now releases the shares of parties without a risk extension; a riskier merchant's share waits its
extra days, and a merchant whose KYC is not VERIFIED keeps its share held). Confirming again returns the first
confirmation and releases nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from auth.principal import Principal
from auth.scoping import readable
from domain.errors import InvalidInput, NotFound
from domain.models import Allocation, Delivery, Payment, Release
from domain.services import party_locks, releases
from domain.services.authorization import require
from domain.services.runtime import Runtime

MAX_EVIDENCE_LENGTH = 1000


@dataclass(frozen=True)
class Confirmed:
    delivery: Delivery
    releases: list[Release]  # the payment's releases so far that the caller may read (a partner: its own)
    replayed: bool


async def confirm_delivery(
    principal: Principal, runtime: Runtime, payment_id: int, delivered_at: datetime, evidence: str | None = None
) -> Confirmed:
    require(principal, "deliveries:confirm")
    # A caller confirms the payments it may read (auth/scoping.py): the platform any payment, a logistics partner
    # the payments it carried; only platform and logistics roles hold deliveries:confirm. Any other payment is
    # not found, exactly like one that does not exist.
    payment = await readable(principal, Payment).get_or_none(id=payment_id)
    if payment is None:
        raise NotFound("payment", field="paymentId")
    existing = await Delivery.get_or_none(payment_id=payment.id)
    if existing is not None:
        return await _confirmed(principal, existing, replayed=True)
    now = runtime.now()
    evidence = _checked(payment, delivered_at, evidence, now)
    try:
        async with in_transaction():
            shares = await Allocation.filter(payment_id=payment.id).only("party_id")
            claimed = await party_locks.claim({share.party_id for share in shares}, skip_locked=False)
            delivery = await Delivery.create(
                payment_id=payment.id,
                delivered_at=delivered_at,
                confirmed_at=now,
                confirmed_by_party_id=principal.party_id,
                confirmed_by_user_id=principal.user_id,
                confirmed_by_api_key_id=principal.api_key_id,
                evidence=evidence,
            )
            policies = await releases.policies_of(claimed)
            await releases.release_due_shares(claimed, policies, now, now, payment_id=payment.id)
    except IntegrityError:
        # A concurrent confirmation of the same payment won (the unique payment index): its answer is ours.
        winner = await Delivery.get(payment_id=payment.id)
        return await _confirmed(principal, winner, replayed=True)
    return await _confirmed(principal, delivery, replayed=False)


def _checked(payment: Payment, delivered_at: datetime, evidence: str | None, now: datetime) -> str | None:
    if delivered_at.tzinfo is None:
        raise InvalidInput(
            "INVALID_DELIVERY",
            "deliveredAt needs a time zone offset, e.g. 2026-11-22T15:04:05+08:00",
            field="deliveredAt",
        )
    if delivered_at > now:
        raise InvalidInput(
            "INVALID_DELIVERY",
            f"deliveredAt {delivered_at.isoformat()} is in the future; a delivery is confirmed after it happened",
            field="deliveredAt",
        )
    if delivered_at < payment.paid_at:
        raise InvalidInput(
            "INVALID_DELIVERY",
            f"deliveredAt {delivered_at.isoformat()} is before the payment was made ({payment.paid_at.isoformat()})",
            field="deliveredAt",
        )
    if evidence is not None:
        evidence = evidence.strip() or None
    if evidence is not None and len(evidence) > MAX_EVIDENCE_LENGTH:
        raise InvalidInput(
            "INVALID_DELIVERY",
            f"evidence is {len(evidence)} characters; at most {MAX_EVIDENCE_LENGTH} are allowed",
            field="evidence",
        )
    return evidence


async def _confirmed(principal: Principal, delivery: Delivery, *, replayed: bool) -> Confirmed:
    released = await readable(principal, Release).filter(payment_id=delivery.payment_id).order_by("party_id")
    return Confirmed(delivery, list(released), replayed)
