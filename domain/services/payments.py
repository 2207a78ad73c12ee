"""Recording payments: check, split by the rules in effect, and have the store write allocations and one entry.

Idempotent: the same key with the same request returns the first result; with a different request it is an
IdempotencyConflict. The unique index on (merchant, idempotency key) decides races: of many concurrent requests
with one key exactly one inserts, the others read what it wrote. A deadlock or serialization failure is a race
lost like any other: nothing was written, and the careful one-payment-at-a-time path sorts out who won.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auth.principal import Principal
from auth.scoping import writable
from domain.errors import AlreadyExists, DomainError, InvalidInput, NotFound
from domain.models import Party, Payment
from domain.parties import KycStatus, PartyKind
from domain.payments import (
    MAX_BATCH,
    NormalizedPayment,
    PaymentInput,
    normalize_payment,
    payment_facts,
)
from domain.services import auth_events, parties, payment_store, rules
from domain.services.authorization import require
from domain.services.runtime import Runtime
from domain.splitting import PaymentFacts, Split, compute_split

# The careful path tries a payment again after a deadlock or serialization failure (the database rolled it
# back), at most this many times in all; past that the conflict is not transient and is raised.
MAX_WRITE_ATTEMPTS = 3

__all__ = [
    "IdempotencyConflict",
    "Recorded",
    "record_payment",
    "record_payments",
]


class IdempotencyConflict(AlreadyExists):
    def __init__(self) -> None:
        super().__init__(
            "IDEMPOTENCY_CONFLICT",
            "this idempotency key was already used with a different request",
            field="idempotencyKey",
        )


@dataclass(frozen=True)
class Recorded:
    payment: Payment
    replayed: bool


async def record_payment(
    principal: Principal,
    runtime: Runtime,
    data: PaymentInput,
    *,
    catalogue: rules.RuleCatalogue | None = None,
    platform_id: int | None = None,
) -> Recorded:
    """One payment, in its own transaction: the careful path, which any race leaves correct."""
    require(principal, "payments:write")
    payment = normalize_payment(data)
    existing = await _existing(payment)
    if existing is not None:
        return existing
    platform_id = platform_id or (await parties.ensure_platform_party()).id
    facts = await _facts(principal, payment, platform_id)
    catalogue = catalogue or await rules.load_catalogue()
    split = compute_split(facts, catalogue.book_at(payment.paid_at))
    return await _add_or_replay(payment, split)


async def _add_or_replay(payment: NormalizedPayment, split: Split) -> Recorded:
    """Writes a new payment; after a lost race, answers with what the winner wrote, or writes it again when the
    database only rolled this write back to break a deadlock."""
    attempt = 1
    while True:
        try:
            return Recorded(await payment_store.add(payment, split), replayed=False)
        except payment_store.LostRace as race:
            # Either the same key (then it is a replay or a conflict), or the same external order, or a deadlock
            # or serialization failure that rolled this write back while the other writer went on.
            existing = await _existing(payment)
            if existing is not None:
                return existing
            if isinstance(race, payment_store.KeyTaken):
                raise _duplicate_order(payment) from None
            if attempt >= MAX_WRITE_ATTEMPTS:
                raise
            attempt += 1


async def record_payments(
    principal: Principal, runtime: Runtime, inputs: Sequence[PaymentInput]
) -> list[Recorded | DomainError]:
    """Up to 500 payments; each succeeds or fails on its own and is reported in order.

    The new payments of a batch are checked together and written together (one transaction; on PostgreSQL a
    handful of multi-row statements). If that meets a concurrent writer (a unique index refuses, or the
    database breaks a deadlock), nothing of it was kept and the batch is redone one payment at a time, which is
    idempotent.
    """
    require(principal, "payments:write")
    if len(inputs) > MAX_BATCH:
        raise InvalidInput(
            "BATCH_TOO_LARGE", f"at most {MAX_BATCH} payments per batch, got {len(inputs)}", field="inputs"
        )
    catalogue = await rules.load_catalogue()
    platform_id = (await parties.ensure_platform_party()).id
    if len(inputs) > 1:
        try:
            return await _batch_recorded(principal, await _record_together(principal, inputs, catalogue, platform_id))
        except payment_store.LostRace:
            pass  # a concurrent writer got in the way: the careful path below sorts out who wins
    results: list[Recorded | DomainError] = []
    for data in inputs:
        try:
            results.append(await record_payment(principal, runtime, data, catalogue=catalogue, platform_id=platform_id))
        except DomainError as exc:
            _raise_if_access_error(exc)
            results.append(exc)
    return await _batch_recorded(principal, results)


async def _batch_recorded(principal: Principal, results: list[Recorded | DomainError]) -> list[Recorded | DomainError]:
    """Every batch leaves an auth event: who sent it, and how many payments it recorded and refused."""
    refused = sum(isinstance(result, DomainError) for result in results)
    await auth_events.record(
        "payment_batch_recorded",
        actor=principal,
        party_id=principal.party_id,
        detail=f"{len(results)} payments: {len(results) - refused} recorded or already recorded, {refused} refused",
    )
    return results


async def _record_together(
    principal: Principal, inputs: Sequence[PaymentInput], catalogue: rules.RuleCatalogue, platform_id: int
) -> list[Recorded | DomainError]:
    """The batch path: every lookup once for the whole batch, then one write of all the new payments."""
    results: list[Recorded | DomainError | None] = [None] * len(inputs)
    normalized: dict[int, NormalizedPayment] = {}
    for index, data in enumerate(inputs):
        try:
            normalized[index] = normalize_payment(data)
        except DomainError as exc:
            results[index] = exc
    merchant_ids = {p.merchant_id for p in normalized.values()}
    merchants = {
        row.id: row
        for row in await writable(principal, Party).filter(id__in=list(merchant_ids), kind=PartyKind.MERCHANT)
    }
    couriers = set(
        await Party.filter(
            id__in=[p.logistics_partner_id for p in normalized.values() if p.logistics_partner_id is not None],
            kind=PartyKind.LOGISTICS,
            is_active=True,
        ).values_list("id", flat=True)
    )
    keys = [p.idempotency_key for p in normalized.values()]
    orders = [p.external_order_id for p in normalized.values()]
    existing_by_key = {
        (row.merchant_id, row.idempotency_key): row
        for row in await Payment.filter(merchant_id__in=list(merchant_ids), idempotency_key__in=keys)
    }
    taken_orders = {
        (row.merchant_id, row.external_order_id)
        for row in await Payment.filter(merchant_id__in=list(merchant_ids), external_order_id__in=orders).only(
            "merchant_id", "external_order_id"
        )
    }
    fresh: dict[tuple[int, str], int] = {}  # (merchant, key) -> index of the first new payment with it
    to_store: list[tuple[int, NormalizedPayment, Split]] = []
    for index, payment in normalized.items():
        key = (payment.merchant_id, payment.idempotency_key)
        try:
            if key in existing_by_key:
                if existing_by_key[key].request_hash != payment.request_hash:
                    raise IdempotencyConflict()
                results[index] = Recorded(existing_by_key[key], replayed=True)
                continue
            if key in fresh:
                if normalized[fresh[key]].request_hash != payment.request_hash:
                    raise IdempotencyConflict()
                continue  # a replay of an earlier item of this batch: filled in once that one is stored
            facts = _checked_facts(
                merchants.get(payment.merchant_id),
                payment,
                platform_id,
                courier_known=payment.logistics_partner_id is None or payment.logistics_partner_id in couriers,
            )
            if (payment.merchant_id, payment.external_order_id) in taken_orders:
                raise _duplicate_order(payment)
            split = compute_split(facts, catalogue.book_at(payment.paid_at))
        except DomainError as exc:
            _raise_if_access_error(exc)
            results[index] = exc
            continue
        fresh[key] = index
        taken_orders.add((payment.merchant_id, payment.external_order_id))
        to_store.append((index, payment, split))
    stored = await payment_store.add_all([(payment, split) for _, payment, split in to_store])
    for (index, _, _), row in zip(to_store, stored, strict=True):
        results[index] = Recorded(row, replayed=False)
    for index, payment in normalized.items():
        if results[index] is None:  # an in-batch replay
            first = results[fresh[(payment.merchant_id, payment.idempotency_key)]]
            assert isinstance(first, Recorded)
            results[index] = Recorded(first.payment, replayed=True)
    assert all(result is not None for result in results)
    return results  # type: ignore[return-value]


async def _existing(payment: NormalizedPayment) -> Recorded | None:
    found = await Payment.get_or_none(merchant_id=payment.merchant_id, idempotency_key=payment.idempotency_key)
    if found is None:
        return None
    if found.request_hash != payment.request_hash:
        raise IdempotencyConflict()
    return Recorded(found, replayed=True)


async def _facts(principal: Principal, payment: NormalizedPayment, platform_id: int) -> PaymentFacts:
    merchant = await writable(principal, Party).filter(id=payment.merchant_id, kind=PartyKind.MERCHANT).first()
    courier_known = (
        payment.logistics_partner_id is None
        or await Party.filter(id=payment.logistics_partner_id, kind=PartyKind.LOGISTICS, is_active=True).exists()
    )
    return _checked_facts(merchant, payment, platform_id, courier_known=courier_known)


def _checked_facts(
    merchant: Party | None, payment: NormalizedPayment, platform_id: int, *, courier_known: bool
) -> PaymentFacts:
    """The checks a payment must pass once its merchant and courier are looked up (by either recording path)."""
    if merchant is None:
        raise NotFound("merchant", field="merchantId")
    if not merchant.is_active or merchant.kyc_status != KycStatus.VERIFIED:
        raise InvalidInput(
            "MERCHANT_NOT_ALLOWED",
            f"merchant {merchant.name!r} cannot take payments: KYC status "
            f"{merchant.kyc_status}{'' if merchant.is_active else ', inactive'}",
            field="merchantId",
        )
    if not courier_known:
        raise NotFound("logistics partner", field="logisticsPartnerId")
    return payment_facts(payment, merchant_tier=str(merchant.tier), platform_party_id=platform_id)


def _duplicate_order(payment: NormalizedPayment) -> AlreadyExists:
    return AlreadyExists(
        "DUPLICATE_EXTERNAL_ORDER",
        f"order {payment.external_order_id!r} of this merchant was already recorded under another idempotency key",
        field="externalOrderId",
    )


def _raise_if_access_error(exc: DomainError) -> None:
    if exc.code.value in ("FORBIDDEN", "UNAUTHENTICATED", "MFA_REQUIRED"):
        raise exc
