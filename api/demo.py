"""Demo data: a platform with its staff, two merchants with an admin each, and a logistics partner."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from auth import totp
from auth.principal import Principal
from auth.roles import ROLE_PERMISSIONS
from domain.errors import AlreadyExists
from domain.parties import KycStatus, MerchantTier, PartyKind, SettlementCycle
from domain.services import identity, parties
from domain.services.parties import BankAccountDraft, MerchantDraft, PartnerDraft, SettlementProfileDraft
from domain.services.runtime import Runtime

DEMO_PASSWORD = "splitledger-demo-2026"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    party: str
    totp_secret: str


async def load_demo_data(runtime: Runtime) -> list[DemoLogin]:
    """Creates the demo parties and users unless they exist; safe to run again."""
    platform = await parties.ensure_platform_party()
    operator = Principal(
        user_id=0,
        party_id=platform.id,
        party_kind=PartyKind.PLATFORM,
        role="platform_admin",
        permissions=ROLE_PERMISSIONS["platform_admin"],
        mfa_passed=True,
    )

    async def party(kind: PartyKind, name: str, create) -> int:
        existing = await parties.find_party_by_name(operator, kind, name)
        return existing.id if existing is not None else (await create()).id

    weekly_cny = SettlementProfileDraft(
        currency="CNY",
        cycle=SettlementCycle.WEEKLY,
        anchor_day=1,
        delay_days=1,
        minimum_payout="100.00",
        hold_days=7,
    )
    tea = await party(
        PartyKind.MERCHANT,
        "West Lake Tea House",
        lambda: parties.create_merchant(
            operator,
            runtime,
            MerchantDraft(
                name="West Lake Tea House",
                tier=MerchantTier.GOLD,
                category="tea",
                kyc_status=KycStatus.VERIFIED,
                contact_email="finance@westlaketea.example",
                settlement_profile=weekly_cny,
                bank_account=BankAccountDraft("West Lake Tea House Ltd", "Bank of Hangzhou", "6222021001234567"),
            ),
        ),
    )
    silk = await party(
        PartyKind.MERCHANT,
        "Suzhou Silk Works",
        lambda: parties.create_merchant(
            operator,
            runtime,
            MerchantDraft(
                name="Suzhou Silk Works",
                tier=MerchantTier.STANDARD,
                category="apparel",
                kyc_status=KycStatus.VERIFIED,
                contact_email="accounts@suzhousilk.example",
                bank_account=BankAccountDraft("Suzhou Silk Works Co", "Bank of Suzhou", "6217001209876543"),
            ),
        ),
    )
    courier = await party(
        PartyKind.LOGISTICS,
        "Swift Courier",
        lambda: parties.create_partner(
            operator,
            runtime,
            PartyKind.LOGISTICS,
            PartnerDraft(
                name="Swift Courier",
                contact_email="billing@swiftcourier.example",
                bank_account=BankAccountDraft("Swift Courier Logistics", "China Merchants Bank", "6225880011112222"),
            ),
        ),
    )

    wanted = [
        ("admin@platform.example", "platform_admin", platform.id, "Platform"),
        ("finance@platform.example", "platform_finance", platform.id, "Platform"),
        ("ops@platform.example", "platform_operations", platform.id, "Platform"),
        ("admin@westlaketea.example", "merchant_admin", tea, "West Lake Tea House"),
        ("admin@suzhousilk.example", "merchant_admin", silk, "Suzhou Silk Works"),
        ("dispatch@swiftcourier.example", "logistics_partner", courier, "Swift Courier"),
    ]
    logins = []
    for email, role, party_id, party_name in wanted:
        with contextlib.suppress(AlreadyExists):
            user = await identity.create_user_unchecked(email, DEMO_PASSWORD, role, party_id)
            await identity.enroll_totp_unchecked(runtime, user.id, totp.new_secret())
        secret = await identity.demo_totp_secret(runtime, email)
        assert secret is not None
        logins.append(DemoLogin(email=email, role=role, party=party_name, totp_secret=secret))
    return logins
