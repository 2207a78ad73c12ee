"""Payments, their line items, and each party's allocation of them."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from domain.models.ledger import _AppendOnly


class Payment(Model):
    """A buyer's payment as recorded from the commerce system. Every money row is keyed by its owning party."""

    id = fields.BigIntField(primary_key=True)
    merchant: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.Party", related_name="payments", on_delete=fields.RESTRICT
    )
    merchant_id: int
    logistics_party: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "splitledger.Party", related_name="carried_payments", on_delete=fields.RESTRICT, null=True
    )
    logistics_party_id: int | None
    external_order_id = fields.CharField(max_length=128)
    idempotency_key = fields.CharField(max_length=128)
    request_hash = fields.CharField(max_length=64)
    currency = fields.CharField(max_length=3)
    goods_minor = fields.BigIntField()
    shipping_fee_minor = fields.BigIntField()
    total_minor = fields.BigIntField()
    channel = fields.CharField(max_length=40)
    region = fields.CharField(max_length=40)
    status = fields.CharField(max_length=16, default="CAPTURED", db_index=True)
    paid_at = fields.DatetimeField(db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    journal_entry_id = fields.BigIntField(null=True)

    class Meta:
        table = "payments"
        unique_together = (("merchant", "external_order_id"), ("merchant", "idempotency_key"))


class PaymentLine(_AppendOnly):
    id = fields.BigIntField(primary_key=True)
    payment: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.Payment", related_name="lines", on_delete=fields.RESTRICT
    )
    payment_id: int
    position = fields.SmallIntField()
    sku = fields.CharField(max_length=128)
    category = fields.CharField(max_length=100)
    unit_amount_minor = fields.BigIntField()
    quantity = fields.IntField()
    amount_minor = fields.BigIntField()
    shipping_minor = fields.BigIntField()
    rule_version_id = fields.BigIntField()

    class Meta:
        table = "payment_lines"
        unique_together = (("payment", "position"),)


class Allocation(_AppendOnly):
    """One party's share of one line item, and the rule version that gave it."""

    id = fields.BigIntField(primary_key=True)
    payment: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.Payment", related_name="allocations", on_delete=fields.RESTRICT
    )
    payment_id: int
    line_position = fields.SmallIntField()  # the PaymentLine's position within the payment
    party: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.Party", related_name="allocations", on_delete=fields.RESTRICT
    )
    party_id: int
    role = fields.CharField(max_length=16)
    currency = fields.CharField(max_length=3)
    amount_minor = fields.BigIntField()
    # The share's parts of the line's goods and of its shipping fee (amount = goods + shipping): refunds reverse
    # each basis on its own. Migration 0008 derived them for allocations written before.
    goods_minor = fields.BigIntField(db_default=0)
    shipping_minor = fields.BigIntField(db_default=0)
    rule_version: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.SplitRuleVersion", related_name="allocations", on_delete=fields.RESTRICT
    )
    rule_version_id: int

    class Meta:
        table = "allocations"
        indexes = (("party_id", "payment_id"),)
