"""Parties: the platform, merchants, logistics partners and suppliers, with settlement terms and bank account."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from domain.money import Money
from domain.parties import KycStatus, MerchantTier, PartyKind, RiskLevel, SettlementCycle, SettlementProfile


class Party(Model):
    """One table for every kind of party, so ledger accounts and allocations reference any of them alike."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(PartyKind, max_length=16, db_index=True)
    name = fields.CharField(max_length=200)
    # Case- and space-folded name; unique per kind so "ACME  Ltd" and "acme ltd" cannot both exist.
    name_key = fields.CharField(max_length=200)
    contact_email = fields.CharField(max_length=254, null=True)
    is_active = fields.BooleanField(default=True)

    # Merchants only.
    tier = fields.CharEnumField(MerchantTier, max_length=16, null=True)
    category = fields.CharField(max_length=100, null=True)
    kyc_status = fields.CharEnumField(KycStatus, max_length=16, null=True)
    risk_level = fields.CharEnumField(RiskLevel, max_length=16, null=True)

    # Settlement profile.
    settlement_currency = fields.CharField(max_length=3)
    settlement_cycle = fields.CharEnumField(SettlementCycle, max_length=16)
    settlement_anchor_day = fields.SmallIntField()
    settlement_delay_days = fields.SmallIntField()
    minimum_payout_minor = fields.BigIntField()
    hold_days = fields.SmallIntField()
    reserve_bps = fields.SmallIntField(default=0)
    reserve_days = fields.SmallIntField(default=0)

    # Bank account: the number only as AES-GCM ciphertext (with its key id inside), plus the last 4 to show.
    bank_account_holder = fields.CharField(max_length=200, null=True)
    bank_name = fields.CharField(max_length=200, null=True)
    bank_account_ciphertext = fields.TextField(null=True)
    bank_account_last4 = fields.CharField(max_length=4, null=True)
    bank_account_changed_at = fields.DatetimeField(null=True)

    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "parties"
        unique_together = (("kind", "name_key"),)

    def settlement_profile(self) -> SettlementProfile:
        return SettlementProfile(
            currency=self.settlement_currency,
            cycle=self.settlement_cycle,
            anchor_day=self.settlement_anchor_day,
            delay_days=self.settlement_delay_days,
            minimum_payout=Money(self.minimum_payout_minor, self.settlement_currency),
            hold_days=self.hold_days,
            reserve_bps=self.reserve_bps,
            reserve_days=self.reserve_days,
        )

    def apply_settlement_profile(self, profile: SettlementProfile) -> None:
        self.settlement_currency = profile.currency
        self.settlement_cycle = profile.cycle
        self.settlement_anchor_day = profile.anchor_day
        self.settlement_delay_days = profile.delay_days
        self.minimum_payout_minor = profile.minimum_payout.amount_minor
        self.hold_days = profile.hold_days
        self.reserve_bps = profile.reserve_bps
        self.reserve_days = profile.reserve_days
