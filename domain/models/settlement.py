"""Money going out: delivery confirmations, releases from escrow, settlement runs and statements, payouts."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from domain.models.ledger import _AppendOnly


class Delivery(Model):
    """The delivery of a payment, confirmed once by the platform or by the logistics partner that carried it."""

    id = fields.BigIntField(primary_key=True)
    payment: fields.OneToOneRelation = fields.OneToOneField(
        "splitledger.Payment", related_name="delivery", on_delete=fields.RESTRICT
    )
    payment_id: int
    delivered_at = fields.DatetimeField()  # when the goods arrived, as the confirmer says
    confirmed_at = fields.DatetimeField()  # when Splitledger heard of it: the release trigger
    confirmed_by_party_id = fields.BigIntField()
    confirmed_by_user_id = fields.BigIntField(null=True)
    confirmed_by_api_key_id = fields.BigIntField(null=True)
    evidence = fields.CharField(max_length=1000, null=True)

    class Meta:
        table = "deliveries"


class Release(_AppendOnly):
    """The shares of one party in one payment leaving escrow (PENDING -> AVAILABLE): when, why, by which entry.
    Every allocation of the party in the payment was released by it."""

    id = fields.BigIntField(primary_key=True)
    payment: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.Payment", related_name="releases", on_delete=fields.RESTRICT
    )
    payment_id: int
    party: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.Party", related_name="releases", on_delete=fields.RESTRICT
    )
    party_id: int
    currency = fields.CharField(max_length=3)
    amount_minor = fields.BigIntField()
    reason = fields.CharField(max_length=24)  # domain.settlement.ReleaseReason
    released_at = fields.DatetimeField()
    # The release entry (one per party and currency per release): written in the same transaction, just after.
    entry_id = fields.BigIntField(db_index=True)

    class Meta:
        table = "releases"
        unique_together = (("payment", "party"),)


class SettlementRun(Model):
    """One call of runSettlement: what it was asked, what it did. Statements name the run that wrote them."""

    id = fields.BigIntField(primary_key=True)
    cutoff = fields.DatetimeField()
    currency = fields.CharField(max_length=3, null=True)
    started_by_user_id = fields.BigIntField(null=True)
    started_by_api_key_id = fields.BigIntField(null=True)
    started_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)
    status = fields.CharField(max_length=16, default="RUNNING")
    parties_considered = fields.IntField(default=0)
    statements_created = fields.IntField(default=0)
    payouts_created = fields.IntField(default=0)
    skipped_unverified = fields.IntField(default=0)
    duration_ms = fields.BigIntField(null=True)
    totals = fields.TextField(default="{}")  # JSON: currency -> {"net_minor", "payout_minor", "statements"}

    class Meta:
        table = "settlement_runs"


class Settlement(_AppendOnly):
    """A statement: one party, one currency, one period. Its figures never change once written."""

    id = fields.BigIntField(primary_key=True)
    run: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.SettlementRun", related_name="settlements", on_delete=fields.RESTRICT
    )
    run_id: int
    party: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.Party", related_name="settlements", on_delete=fields.RESTRICT
    )
    party_id: int
    currency = fields.CharField(max_length=3)
    period_date = fields.DateField()
    window_end = fields.DatetimeField()
    opening_minor = fields.BigIntField()
    movements_minor = fields.BigIntField()
    released_minor = fields.BigIntField()
    reserve_held_minor = fields.BigIntField()
    reserve_released_minor = fields.BigIntField()
    net_minor = fields.BigIntField()
    payout_minor = fields.BigIntField()
    closing_minor = fields.BigIntField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "settlements"
        unique_together = (("party", "currency", "period_date"),)
        indexes = (("run_id",),)


class SettlementLine(_AppendOnly):
    """A line of a statement. Every posting to the AVAILABLE account of a party becomes exactly one line (the
    unique posting id), so the statements of a party add up to what its AVAILABLE account saw."""

    id = fields.BigIntField(primary_key=True)
    settlement: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.Settlement", related_name="lines", on_delete=fields.RESTRICT
    )
    settlement_id: int
    party_id = fields.BigIntField(db_index=True)
    currency = fields.CharField(max_length=3)
    kind = fields.CharField(max_length=32)  # domain.settlement.LineKind
    amount_minor = fields.BigIntField()  # as the party sees it: positive adds to what it is paid
    posting_id = fields.BigIntField(null=True, unique=True)
    entry_id = fields.BigIntField(null=True)
    reserve_release_on = fields.DateField(null=True)  # RESERVE_HELD: the first period that pays it back
    reserve_line_id = fields.BigIntField(null=True, unique=True)  # RESERVE_RELEASED: the hold it pays back

    class Meta:
        table = "settlement_lines"
        indexes = (("settlement_id", "id"),)


class Payout(Model):
    """The payout of a statement to the bank account of the party: PENDING_APPROVAL -> APPROVED -> SENT -> PAID,
    or FAILED."""

    id = fields.BigIntField(primary_key=True)
    settlement: fields.OneToOneRelation = fields.OneToOneField(
        "splitledger.Settlement", related_name="payout", on_delete=fields.RESTRICT
    )
    settlement_id: int
    party: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.Party", related_name="payouts", on_delete=fields.RESTRICT
    )
    party_id: int
    currency = fields.CharField(max_length=3)
    amount_minor = fields.BigIntField()
    status = fields.CharField(max_length=20, default="PENDING_APPROVAL", db_index=True)
    started_by_user_id = fields.BigIntField(null=True)  # the maker: who started the settlement run
    approvals_needed = fields.SmallIntField(default=1)
    first_approved_by_user_id = fields.BigIntField(null=True)
    approved_by_user_id = fields.BigIntField(null=True)
    approved_at = fields.DatetimeField(null=True)
    batch_id = fields.BigIntField(null=True, db_index=True)
    sent_at = fields.DatetimeField(null=True)
    paid_at = fields.DatetimeField(null=True)
    bank_reference = fields.CharField(max_length=128, null=True)
    failed_at = fields.DatetimeField(null=True)
    failure_reason = fields.CharField(max_length=400, null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "payouts"
        indexes = (("party_id", "status"),)


class PayoutBatch(Model):
    """An export of approved payouts as a bank file, returned again for the same idempotency key."""

    id = fields.BigIntField(primary_key=True)
    idempotency_key = fields.CharField(max_length=128, unique=True)
    created_by_user_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField()
    payout_count = fields.IntField()

    class Meta:
        table = "payout_batches"
