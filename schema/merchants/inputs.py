"""Inputs of the party area and their translation into the services' drafts."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from domain.services.parties import BankAccountDraft, SettlementProfileDraft
from schema.merchants.types import KycStatusEnum, MerchantTierEnum, RiskLevelEnum, SettlementCycleEnum


@strawberry.input(description="When and how a party is paid.")
class SettlementProfileInput:
    currency: str = strawberry.field(description="ISO 4217 code the party settles in, e.g. CNY.")
    cycle: SettlementCycleEnum = strawberry.field(
        default=SettlementCycleEnum.DAILY, description="DAILY, WEEKLY or MONTHLY."
    )
    anchor_day: int = strawberry.field(
        default=0,
        description="0 for DAILY; 1..7 (Monday = 1) for WEEKLY; 1..31 for MONTHLY (29-31 fall back to a shorter "
        "month's last day).",
    )
    delay_days: int = strawberry.field(default=1, description="T+N delay in days, 0..90.")
    minimum_payout: Decimal = strawberry.field(
        default=Decimal(0), description="Smallest payout, in major units of `currency`."
    )
    hold_days: int = strawberry.field(default=7, description="Escrow hold when delivery is not confirmed, 0..180 days.")
    reserve_bps: int = strawberry.field(
        default=0,
        description="Rolling reserve: basis points (1 bp = 0.01 %) of each period's releases held back, 0..5000.",
    )
    reserve_days: int = strawberry.field(
        default=0, description="Days a rolling reserve is held: 1..180 with a reserve, 0 without."
    )

    def to_draft(self) -> SettlementProfileDraft:
        return SettlementProfileDraft(
            currency=self.currency,
            cycle=self.cycle,
            anchor_day=self.anchor_day,
            delay_days=self.delay_days,
            minimum_payout=self.minimum_payout,
            hold_days=self.hold_days,
            reserve_bps=self.reserve_bps,
            reserve_days=self.reserve_days,
        )


@strawberry.input(description="A bank account for payouts. The number is encrypted before it is stored.")
class BankAccountInput:
    holder_name: str = strawberry.field(description="Name of the account holder.")
    bank_name: str = strawberry.field(description="Name of the bank.")
    account_number: str = strawberry.field(description="Account number or IBAN: 6 to 34 letters and digits.")

    def to_draft(self) -> BankAccountDraft:
        return BankAccountDraft(
            holder_name=self.holder_name, bank_name=self.bank_name, account_number=self.account_number
        )


@strawberry.input(description="A new merchant.")
class CreateMerchantInput:
    name: str = strawberry.field(description="Display name; unique among merchants (case-insensitive).")
    tier: MerchantTierEnum = strawberry.field(default=MerchantTierEnum.STANDARD, description="Tier.")
    category: str | None = strawberry.field(default=None, description="Main product category.")
    kyc_status: KycStatusEnum = strawberry.field(default=KycStatusEnum.PENDING, description="KYC status.")
    risk_level: RiskLevelEnum = strawberry.field(default=RiskLevelEnum.LOW, description="Risk level.")
    contact_email: str | None = strawberry.field(default=None, description="Where statements go.")
    settlement_profile: SettlementProfileInput | None = strawberry.field(
        default=None, description="Settlement terms; T+1 daily in CNY with a 7-day hold when omitted."
    )
    bank_account: BankAccountInput | None = strawberry.field(default=None, description="Payout account.")


@strawberry.input(description="Changes to a merchant; omitted fields stay as they are.")
class UpdateMerchantInput:
    id: strawberry.relay.GlobalID = strawberry.field(description="The merchant to change.")
    name: str | None = strawberry.field(default=None, description="New display name.")
    tier: MerchantTierEnum | None = strawberry.field(default=None, description="New tier.")
    category: str | None = strawberry.field(default=None, description="New category.")
    kyc_status: KycStatusEnum | None = strawberry.field(default=None, description="New KYC status.")
    risk_level: RiskLevelEnum | None = strawberry.field(default=None, description="New risk level.")
    contact_email: str | None = strawberry.field(default=None, description="New contact email.")
    settlement_profile: SettlementProfileInput | None = strawberry.field(
        default=None, description="New settlement terms (replace the old ones whole)."
    )
    bank_account: BankAccountInput | None = strawberry.field(default=None, description="New payout account.")


@strawberry.input(description="A new logistics partner.")
class CreateLogisticsPartnerInput:
    name: str = strawberry.field(description="Display name; unique among logistics partners.")
    contact_email: str | None = strawberry.field(default=None, description="Where statements go.")
    settlement_profile: SettlementProfileInput | None = strawberry.field(default=None, description="Settlement terms.")
    bank_account: BankAccountInput | None = strawberry.field(default=None, description="Payout account.")


@strawberry.input(description="A new supplier.")
class CreateSupplierInput:
    name: str = strawberry.field(description="Display name; unique among suppliers.")
    contact_email: str | None = strawberry.field(default=None, description="Where statements go.")
    settlement_profile: SettlementProfileInput | None = strawberry.field(default=None, description="Settlement terms.")
    bank_account: BankAccountInput | None = strawberry.field(default=None, description="Payout account.")


@strawberry.input(description="Filters for the merchant list; all given filters must hold.")
class MerchantFilter:
    tier: MerchantTierEnum | None = strawberry.field(default=None, description="Only this tier.")
    kyc_status: KycStatusEnum | None = strawberry.field(default=None, description="Only this KYC status.")
    name_contains: str | None = strawberry.field(
        default=None, description="Name contains this text (case-insensitive)."
    )
