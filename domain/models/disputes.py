"""Disputes (chargebacks) of payments: the amount held from the merchant until the dispute is won or lost."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Dispute(Model):
    """A chargeback of a payment by its buyer: the amount held from the merchant until won or lost.

    Its status moves (OPEN, then WON or LOST, once); the database refuses deleting it and changing a resolved one or
    its money columns (migration 0010). Where the hold came from and went is in its journal entries.
    """

    id = fields.BigIntField(primary_key=True)
    payment: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.Payment", related_name="disputes", on_delete=fields.RESTRICT
    )
    payment_id: int
    merchant_id = fields.BigIntField(db_index=True)
    idempotency_key = fields.CharField(max_length=128)
    request_hash = fields.CharField(max_length=64)
    currency = fields.CharField(max_length=3)
    amount_minor = fields.BigIntField()
    # ESCROW_WITHHELD (domain/disputes.py): the share's release is lowered by from_escrow - escrow_cleared.
    from_escrow_minor = fields.BigIntField()
    escrow_cleared_minor = fields.BigIntField(default=0)
    reason = fields.CharField(max_length=400)
    evidence_due_at = fields.DatetimeField()
    status = fields.CharField(max_length=8, default="OPEN", db_index=True)  # domain.disputes.DisputeStatus
    lost_bearer = fields.CharField(max_length=16, null=True)  # the LOST_DISPUTE_BEARER applied, once lost
    opened_by_user_id = fields.BigIntField(null=True)
    opened_by_api_key_id = fields.BigIntField(null=True)
    opened_at = fields.DatetimeField()
    opened_entry_id = fields.BigIntField()
    resolved_by_user_id = fields.BigIntField(null=True)
    resolved_by_api_key_id = fields.BigIntField(null=True)
    resolved_at = fields.DatetimeField(null=True)
    released_entry_id = fields.BigIntField(null=True)  # the hold, or what a loss left of it, back to the merchant
    lost_entry_id = fields.BigIntField(null=True)  # the chargeback out of PSP clearing
    refund_id = fields.BigIntField(null=True)  # a PROPORTIONAL loss: the refund that reversed every party's part

    class Meta:
        table = "disputes"
        unique_together = (("payment", "idempotency_key"),)
