"""Demo data: a platform with its staff, two merchants with an admin each, and a logistics partner."""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api.settings import Settings
from auth import totp
from auth.principal import Principal
from auth.roles import ROLE_PERMISSIONS
from domain.errors import AlreadyExists
from domain.money import Money, parse_amount
from domain.parties import KycStatus, MerchantTier, PartyKind, SettlementCycle
from domain.payments import LineItemInput, PaymentInput
from domain.rules import Basis, BeneficiaryKind, Computation, Conditions, Leg, RuleDraft
from domain.services import (
    deliveries,
    identity,
    parties,
    payment_reads,
    payments,
    refunds,
    rules,
    settlement_runs,
)
from domain.services import payouts as payout_service
from domain.services.pagination import PageRequest
from domain.services.parties import BankAccountDraft, MerchantDraft, PartnerDraft, SettlementProfileDraft
from domain.services.runtime import Runtime

DEMO_PASSWORD = "splitledger-demo-2026"
# The usual local front-end dev servers (Vite on 5173; create-react-app and Next.js on 3000), by both local names,
# so a front end on this machine can call the demo from the browser without any setting.
DEMO_CORS_ORIGINS = (
    "http://localhost:5173",
    "http://localhost:3000",
    "http://127.0.0.1:5173",
    "http://127.0.0.1:3000",
)


def demo_settings(settings: Settings) -> Settings:
    """The demo's settings: the local front-end origins may call it, unless SPLITLEDGER_CORS_ORIGINS names others."""
    if settings.cors_origins:
        return settings
    return dataclasses.replace(settings, cors_origins=DEMO_CORS_ORIGINS)


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
    await _demo_rule_and_payments(operator, runtime, tea, silk, courier)
    logins = []
    for email, role, party_id, party_name in wanted:
        with contextlib.suppress(AlreadyExists):
            user = await identity.create_user_unchecked(email, DEMO_PASSWORD, role, party_id)
            await identity.enroll_totp_unchecked(runtime, user.id, totp.new_secret())
        secret = await identity.demo_totp_secret(runtime, email)
        assert secret is not None
        logins.append(DemoLogin(email=email, role=role, party=party_name, totp_secret=secret))
    await _demo_money_out(operator, runtime, silk, courier)
    return logins


DEMO_RULE = "Demo: 5 % platform commission on tea"


async def _demo_rule_and_payments(operator: Principal, runtime: Runtime, tea: int, silk: int, courier: int) -> None:
    """A commission rule and a few payments, so balances and allocations are there to look at."""
    page = await rules.list_rules(operator, runtime, PageRequest(first=100))
    if not any(rule.name == DEMO_RULE for rule in page.items):
        draft = RuleDraft(
            priority=10,
            conditions=Conditions(categories=frozenset({"tea"})),
            legs=(Leg(BeneficiaryKind.PLATFORM, Basis.ITEM_AMOUNT, Computation(rate_bps=500)),),
        )
        rule = await rules.create_rule(
            operator,
            runtime,
            rules.RuleInput(
                DEMO_RULE,
                "Tea sells well; the platform takes 5 % of the goods amount.",
                draft,
                datetime(2026, 1, 1, tzinfo=UTC),
            ),
        )
        reviewed = (await rules.versions_of(operator, [rule.id]))[rule.id][-1]
        await rules.activate_rule(operator, runtime, rule.id, reviewed.id)
    orders = [
        (tea, "WL-1001", [LineItemInput("longjing-250g", "tea", "188.00", 1)], "12.00"),
        (
            tea,
            "WL-1002",
            [LineItemInput("biluochun-100g", "tea", "96.50", 2), LineItemInput("gaiwan-set", "teaware", "120.00", 1)],
            "15.00",
        ),
        (silk, "SZ-2001", [LineItemInput("silk-scarf", "apparel", "268.00", 1)], "10.00"),
    ]
    for merchant, order_id, items, shipping in orders:
        goods = sum(parse_amount(i.unit_amount, "CNY").amount_minor * i.quantity for i in items)  # type: ignore[arg-type]
        total = Money(goods + parse_amount(shipping, "CNY").amount_minor, "CNY").format()
        await payments.record_payment(
            operator,
            runtime,
            PaymentInput(
                idempotency_key=f"demo-{order_id}",
                merchant_id=merchant,
                external_order_id=order_id,
                currency="CNY",
                total_amount=total,
                line_items=items,
                shipping_fee=shipping,
                logistics_partner_id=courier,
                channel="MINI_PROGRAM",
                region="CN-ZJ",
                paid_at=datetime(2026, 11, 20, 10, 30, tzinfo=UTC),
            ),
        )


# One settled cycle, on fixed past dates so that running the demo again changes nothing: a silk order paid on
# 1 November, delivered and confirmed by the courier on the 3rd (releasing the shares), settled on the 4th (T+1).
SETTLED_ORDER_PAID = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
SETTLED_ORDER_DELIVERED = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
SETTLED_ORDER_SETTLED = datetime(2026, 11, 4, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


async def _demo_money_out(operator: Principal, runtime: Runtime, silk: int, courier: int) -> None:
    """Money going out: the settled cycle above, and the tea order WL-1001 confirmed delivered today, so the
    courier's and the tea house's shares of it are AVAILABLE while the other orders are still HELD."""

    def at(moment: datetime) -> Runtime:
        return dataclasses.replace(runtime, clock=lambda: moment)

    recorded = await payments.record_payment(
        operator,
        at(SETTLED_ORDER_PAID),
        PaymentInput(
            idempotency_key="demo-SZ-1990",
            merchant_id=silk,
            external_order_id="SZ-1990",
            currency="CNY",
            total_amount="310.00",
            line_items=[LineItemInput("silk-robe", "apparel", "300.00", 1)],
            shipping_fee="10.00",
            logistics_partner_id=courier,
            channel="APP",
            region="CN-JS",
            paid_at=SETTLED_ORDER_PAID,
        ),
    )
    carrier = dataclasses.replace(operator, party_id=courier, party_kind=PartyKind.LOGISTICS, role="logistics_partner")
    await deliveries.confirm_delivery(
        carrier, at(SETTLED_ORDER_DELIVERED + timedelta(hours=1)), recorded.payment.id, SETTLED_ORDER_DELIVERED
    )
    await settlement_runs.run_settlement(
        operator, at(SETTLED_ORDER_SETTLED), SETTLED_ORDER_SETTLED, only_party_ids=[silk, courier]
    )
    await _demo_payouts_paid(operator, runtime)
    tea = await _tea_id(operator)
    partly_refunded = await payment_reads.payment_by_external_id(operator, tea, "WL-1002")
    if partly_refunded is not None:
        # A partial refund of goods: the platform's 5 % and the tea house's share give back in proportion; the
        # courier keeps its shipping fee.
        await refunds.create_refund(
            operator,
            runtime,
            refunds.RefundDraft(
                payment_id=partly_refunded.id,
                idempotency_key="demo-refund-WL-1002",
                reason="one tin arrived dented",
                amount="30.00",
            ),
        )
    today = await payment_reads.payment_by_external_id(operator, tea, "WL-1001")
    if today is not None:
        await deliveries.confirm_delivery(carrier, runtime, today.id, runtime.now())


async def _tea_id(operator: Principal) -> int:
    found = await parties.find_party_by_name(operator, PartyKind.MERCHANT, "West Lake Tea House")
    assert found is not None
    return found.id


async def _demo_payouts_paid(operator: Principal, runtime: Runtime) -> None:
    """The settled cycle's payouts approved today by two people (the bank accounts are new: the platform asks for
    two), sent and paid."""
    people = []
    for email, role in (("admin@platform.example", "platform_admin"), ("finance@platform.example", "platform_finance")):
        user_id = await identity.demo_user_id(email)
        assert user_id is not None
        people.append(dataclasses.replace(operator, user_id=user_id, role=role, permissions=ROLE_PERMISSIONS[role]))
    admin, finance = people
    page = await payout_service.list_payouts(operator, runtime, PageRequest(first=100))
    for payout in page.items:
        if payout.status != payout_service.PayoutStatus.PENDING_APPROVAL:
            continue  # the demo ran before
        approval = await payout_service.approve_payout(admin, runtime, payout.id)
        if approval.approvals_remaining:
            await payout_service.approve_payout(finance, runtime, payout.id)
        await payout_service.mark_payout_sent(finance, runtime, payout.id)
        await payout_service.mark_payout_paid(finance, runtime, payout.id, f"DEMO-BANK-{payout.id:04d}")
