"""Refunds of payments and what each takes back of each party's share."""

from __future__ import annotations

from tortoise import fields

from domain.models.ledger import _AppendOnly


class Refund(_AppendOnly):
    """Money back to a buyer. The payment's merchant owns it (every money row is keyed by its party)."""

    id = fields.BigIntField(primary_key=True)
    payment: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.Payment", related_name="refunds", on_delete=fields.RESTRICT
    )
    payment_id: int
    merchant_id = fields.BigIntField(db_index=True)
    idempotency_key = fields.CharField(max_length=128)
    request_hash = fields.CharField(max_length=64)
    currency = fields.CharField(max_length=3)
    amount_minor = fields.BigIntField()
    include_shipping = fields.BooleanField()
    reason = fields.CharField(max_length=400)
    created_by_user_id = fields.BigIntField(null=True)
    created_by_api_key_id = fields.BigIntField(null=True)
    journal_entry_id = fields.BigIntField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "refunds"
        unique_together = (("payment", "idempotency_key"),)


class RefundReversal(_AppendOnly):
    """What one refund took back of one party's part of one line's goods or shipping fee."""

    id = fields.BigIntField(primary_key=True)
    refund: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.Refund", related_name="reversals", on_delete=fields.RESTRICT
    )
    refund_id: int
    payment_id = fields.BigIntField()
    allocation_id = fields.BigIntField()  # the allocation it reverses (one per line, party and role)
    line_position = fields.SmallIntField()
    basis = fields.CharField(max_length=16)  # domain.refunds.RefundBasis
    party_id = fields.BigIntField(db_index=True)
    role = fields.CharField(max_length=16)
    currency = fields.CharField(max_length=3)
    amount_minor = fields.BigIntField()

    class Meta:
        table = "refund_reversals"
        indexes = (("payment_id", "party_id"),)
