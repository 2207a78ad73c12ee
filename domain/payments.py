"""A payment as the commerce system sends it, checked and normalised, with the hash that makes replays safe. Pure.

Everything here needs no database: bad input is refused with an InvalidInput naming the field, before any
lookup. The request hash identifies a request independently of how its line items were ordered, so a replay of
the same idempotency key can be told apart from a different request that reuses the key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from domain.errors import FieldErrors, InvalidInput
from domain.money import MAX_AMOUNT_MINOR, Money, normalize_currency, parse_amount
from domain.splitting import MAX_LINE_ITEMS, LineItem, PaymentFacts

EARLIEST_PAID_AT = datetime(2000, 1, 1, tzinfo=UTC)
MAX_BATCH = 500
MAX_QUANTITY = 1_000_000


@dataclass(frozen=True)
class LineItemInput:
    sku: str
    category: str
    unit_amount: object
    quantity: int


@dataclass(frozen=True)
class PaymentInput:
    idempotency_key: str
    merchant_id: int
    external_order_id: str
    currency: str
    total_amount: object
    line_items: Sequence[LineItemInput]
    paid_at: datetime
    shipping_fee: object = "0"
    logistics_partner_id: int | None = None
    channel: str = "DEFAULT"
    region: str = "DEFAULT"


@dataclass(frozen=True)
class NormalizedPayment:
    idempotency_key: str
    merchant_id: int
    external_order_id: str
    currency: str
    total_minor: int
    shipping_fee_minor: int
    line_items: tuple[LineItem, ...]
    logistics_partner_id: int | None
    channel: str
    region: str
    paid_at: datetime
    request_hash: str = ""


def _text(value: str, name: str, *, max_length: int) -> str:
    cleaned = value.strip()
    if not cleaned or len(cleaned) > max_length:
        raise InvalidInput("INVALID_INPUT", f"{name} must be 1 to {max_length} characters", field=name)
    return cleaned


def _line_item(item: LineItemInput, index: int, currency: str) -> LineItem:
    where = f"lineItems[{index}]"
    errors = FieldErrors()
    if not 1 <= item.quantity <= MAX_QUANTITY:
        errors.errors.append(
            InvalidInput("INVALID_INPUT", f"{where}.quantity must be 1..{MAX_QUANTITY}", field=f"{where}.quantity")
        )
    unit = errors.check(lambda: parse_amount(item.unit_amount, currency, field=f"{where}.unitAmount").amount_minor)  # type: ignore[arg-type]
    sku = errors.check(lambda: _text(item.sku, f"{where}.sku", max_length=128))
    category = errors.check(lambda: _text(item.category, f"{where}.category", max_length=100))
    errors.raise_any()
    return LineItem(sku, category, unit, item.quantity)  # type: ignore[arg-type]


def _line_items(data: PaymentInput, currency: str) -> list[LineItem]:
    if not data.line_items:
        raise InvalidInput("INVALID_PAYMENT", "a payment needs at least one line item", field="lineItems")
    if len(data.line_items) > MAX_LINE_ITEMS:
        raise InvalidInput("INVALID_PAYMENT", f"at most {MAX_LINE_ITEMS} line items", field="lineItems")
    errors = FieldErrors()
    items = [errors.check(partial(_line_item, item, i, currency)) for i, item in enumerate(data.line_items)]
    errors.raise_any()
    return items  # type: ignore[return-value]


def _paid_at(paid_at: datetime) -> datetime:
    if paid_at.tzinfo is None:
        raise InvalidInput("INVALID_INPUT", "paidAt needs a time zone", field="paidAt")
    if paid_at < EARLIEST_PAID_AT:
        # Also keeps every payment after the default rule's first version (1970), so some rule always matches.
        raise InvalidInput(
            "INVALID_INPUT", f"paidAt must be on or after {EARLIEST_PAID_AT.isoformat()}", field="paidAt"
        )
    return paid_at


def _checked_total(items: list[LineItem], shipping: int, total: int, currency: str) -> int:
    computed = sum(item.amount_minor for item in items) + shipping
    if computed > MAX_AMOUNT_MINOR:
        raise InvalidInput(
            "AMOUNT_TOO_LARGE", "the payment is larger than the largest amount accepted", field="totalAmount"
        )
    if computed != total:
        raise InvalidInput(
            "TOTAL_MISMATCH",
            f"totalAmount is {Money(total, currency).format()} but the line items and shipping fee add up to "
            f"{Money(computed, currency).format()}",
            field="totalAmount",
        )
    if total == 0:
        # Nothing to split and nothing to settle: a zero payment is a mistake of the caller, not an order.
        raise InvalidInput("INVALID_PAYMENT", "totalAmount must be more than zero", field="totalAmount")
    return total


def normalize_payment(data: PaymentInput) -> NormalizedPayment:
    """Checks everything that needs no database; raises InvalidInput naming the field, or InvalidFields naming
    every field at fault."""
    errors = FieldErrors()
    currency = errors.check(lambda: normalize_currency(data.currency))
    items = shipping = total = None
    if currency is not None:
        items = errors.check(lambda: _line_items(data, currency))
        shipping = errors.check(lambda: parse_amount(data.shipping_fee, currency, field="shippingFee").amount_minor)  # type: ignore[arg-type]
        total = errors.check(lambda: parse_amount(data.total_amount, currency, field="totalAmount").amount_minor)  # type: ignore[arg-type]
    if currency is not None and items is not None and shipping is not None and total is not None:
        errors.check(lambda: _checked_total(items, shipping, total, currency))
    paid_at = errors.check(lambda: _paid_at(data.paid_at))
    idempotency_key = errors.check(lambda: _text(data.idempotency_key, "idempotencyKey", max_length=128))
    external_order_id = errors.check(lambda: _text(data.external_order_id, "externalOrderId", max_length=128))
    channel = errors.check(lambda: _text(data.channel, "channel", max_length=40))
    region = errors.check(lambda: _text(data.region, "region", max_length=40))
    errors.raise_any()
    normalized = NormalizedPayment(
        idempotency_key=idempotency_key,  # type: ignore[arg-type]
        merchant_id=data.merchant_id,
        external_order_id=external_order_id,  # type: ignore[arg-type]
        currency=currency,  # type: ignore[arg-type]
        total_minor=total,  # type: ignore[arg-type]
        shipping_fee_minor=shipping,  # type: ignore[arg-type]
        line_items=tuple(items),  # type: ignore[arg-type]
        logistics_partner_id=data.logistics_partner_id,
        channel=channel,  # type: ignore[arg-type]
        region=region,  # type: ignore[arg-type]
        paid_at=paid_at,  # type: ignore[arg-type]
    )
    return dataclasses.replace(normalized, request_hash=request_hash(normalized))


def request_hash(payment: NormalizedPayment) -> str:
    """SHA-256 of the request's canonical form: the same order with its line items in any order hashes the same.
    Stored with every payment, so this form never changes (a changed form would turn replays into conflicts)."""
    canonical = json.dumps(
        {
            "merchant": payment.merchant_id,
            "order": payment.external_order_id,
            "currency": payment.currency,
            "total": payment.total_minor,
            "shipping": payment.shipping_fee_minor,
            "logistics": payment.logistics_partner_id,
            "channel": payment.channel,
            "region": payment.region,
            "paid_at": payment.paid_at.timestamp(),
            "items": sorted(item.sort_key() for item in payment.line_items),
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def payment_facts(payment: NormalizedPayment, *, merchant_tier: str, platform_party_id: int) -> PaymentFacts:
    """What the splitter needs to know of a payment, once its merchant's tier and the platform are known."""
    return PaymentFacts(
        merchant_id=payment.merchant_id,
        merchant_tier=merchant_tier,
        platform_party_id=platform_party_id,
        logistics_party_id=payment.logistics_partner_id,
        currency=payment.currency,
        channel=payment.channel,
        region=payment.region,
        paid_at=payment.paid_at,
        line_items=payment.line_items,
        shipping_fee_minor=payment.shipping_fee_minor,
    )


def write_order(payment: NormalizedPayment) -> tuple[int, str]:
    """The one order in which every writer inserts new payments (and their lines, allocations and entries).

    Two transactions that insert the same keys in different orders each wait on a key the other holds: a
    deadlock. Sorted by the unique (merchant, idempotency key), any two batches meet their shared idempotency
    keys in the same order, so one simply waits for the other. (Two batches that share an external order id under
    different keys can still meet it out of order; the store treats that deadlock as a lost race.)"""
    return (payment.merchant_id, payment.idempotency_key)
