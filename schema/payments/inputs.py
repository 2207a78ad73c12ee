"""Inputs of the payments area and their translation into the service's PaymentInput."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry import relay

from domain.payments import LineItemInput as LineItemDraft
from domain.payments import PaymentInput as PaymentDraft
from schema.ids import required_id
from schema.payments.types import PaymentStatusEnum


@strawberry.input(description="A line item.")
class LineItemInput:
    sku: str = strawberry.field(description="Stock keeping unit.")
    category: str = strawberry.field(description="Product category (rules can match on it).")
    unit_amount: Decimal = strawberry.field(description="Price of one unit, in major units of the currency.")
    quantity: int = strawberry.field(default=1, description="Units bought, 1..1000000.")


@strawberry.input(description="A payment to preview: what the rules in effect would give each party.")
class PaymentInput:
    merchant_id: relay.GlobalID = strawberry.field(description="The merchant that sold.")
    currency: str = strawberry.field(description="ISO 4217 code.")
    total_amount: Decimal = strawberry.field(description="What the buyer paid: line items plus shipping fee.")
    line_items: list[LineItemInput] = strawberry.field(description="1 to 500 line items.")
    shipping_fee: Decimal = strawberry.field(default=Decimal(0), description="The shipping fee.")
    logistics_partner_id: relay.GlobalID | None = strawberry.field(default=None, description="Who carries it.")
    channel: str = strawberry.field(default="DEFAULT", description="Sales channel.")
    region: str = strawberry.field(default="DEFAULT", description="Region.")
    paid_at: datetime | None = strawberry.field(default=None, description="When the buyer paid; now if omitted.")


@strawberry.input(
    description="A payment to record. Resending the same input with the same idempotency key returns the first result."
)
class RecordPaymentInput(PaymentInput):
    idempotency_key: str = strawberry.field(description="Unique per merchant and request, e.g. a UUID.")
    external_order_id: str = strawberry.field(description="The commerce system's order id, unique per merchant.")
    # Required here: a replay must hash the same, so the server's clock cannot stand in for it.
    paid_at: datetime = strawberry.field(description="When the buyer paid (with a time zone).")


def to_draft(
    data: PaymentInput, now: datetime, *, idempotency_key: str = "preview", external_order_id: str = "preview"
) -> PaymentDraft:
    merchant_id = required_id(data.merchant_id, "Merchant", "merchant", "merchantId")
    logistics_id = None
    if data.logistics_partner_id is not None:
        logistics_id = required_id(
            data.logistics_partner_id, "LogisticsPartner", "logistics partner", "logisticsPartnerId"
        )
    return PaymentDraft(
        idempotency_key=idempotency_key,
        merchant_id=merchant_id,
        external_order_id=external_order_id,
        currency=data.currency,
        total_amount=data.total_amount,
        line_items=[LineItemDraft(i.sku, i.category, i.unit_amount, i.quantity) for i in data.line_items],
        paid_at=data.paid_at or now,
        shipping_fee=data.shipping_fee,
        logistics_partner_id=logistics_id,
        channel=data.channel,
        region=data.region,
    )


def record_draft(data: RecordPaymentInput, now: datetime) -> PaymentDraft:
    return to_draft(data, now, idempotency_key=data.idempotency_key, external_order_id=data.external_order_id)


@strawberry.input(description="Filters for the payment list; all given filters must hold.")
class PaymentFilter:
    merchant_id: relay.GlobalID | None = strawberry.field(default=None, description="Only this merchant.")
    status: PaymentStatusEnum | None = strawberry.field(default=None, description="Only this status.")
    paid_from: datetime | None = strawberry.field(default=None, description="Paid at or after.")
    paid_until: datetime | None = strawberry.field(default=None, description="Paid before.")
    external_order_id: str | None = strawberry.field(default=None, description="This order id.")
