"""Simulating split rules without writing anything: the split a payment would get now (preview), and what each
party would have got from past payments with a draft rule in effect too (backtest)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from auth.principal import Principal
from auth.scoping import readable
from domain.errors import NotFound
from domain.models import Party, Payment
from domain.parties import PartyKind
from domain.payments import PaymentInput, normalize_payment, payment_facts
from domain.rules import RuleDraft, RuleVersion, validate_rule
from domain.services import parties, rules
from domain.services.authorization import require
from domain.services.payment_reads import allocations_of, lines_of
from domain.services.runtime import Runtime
from domain.splitting import LineItem, PaymentFacts, Split, compute_split


async def preview_split(principal: Principal, runtime: Runtime, data: PaymentInput) -> Split:
    """The split a payment would get now, writing nothing."""
    require(principal, "rules:read")
    payment = normalize_payment(data)
    merchant = await readable(principal, Party).filter(id=payment.merchant_id, kind=PartyKind.MERCHANT).first()
    if merchant is None:
        raise NotFound("merchant", field="merchantId")
    platform_id = (await parties.ensure_platform_party()).id
    facts = payment_facts(payment, merchant_tier=str(merchant.tier), platform_party_id=platform_id)
    catalogue = await rules.load_catalogue()
    return compute_split(facts, catalogue.book_at(payment.paid_at))


MAX_BACKTEST_PAYMENTS = 10_000


@dataclass(frozen=True)
class BacktestRow:
    party_id: int
    role: str
    currency: str
    actual_minor: int
    with_draft_minor: int


@dataclass(frozen=True)
class Backtest:
    payments: int
    rows: list[BacktestRow]
    truncated: bool


async def backtest_rule(
    principal: Principal, runtime: Runtime, draft: RuleDraft, paid_from: datetime, paid_until: datetime
) -> Backtest:
    """What each party got from past payments, against what it would have got with the draft rule in effect too.
    Writes nothing."""
    require(principal, "rules:read")
    validate_rule(draft)
    query = readable(principal, Payment).filter(paid_at__gte=paid_from, paid_at__lt=paid_until).order_by("id")
    rows = await query.limit(MAX_BACKTEST_PAYMENTS + 1).select_related("merchant")
    truncated = len(rows) > MAX_BACKTEST_PAYMENTS
    rows = rows[:MAX_BACKTEST_PAYMENTS]
    ids = [row.id for row in rows]
    lines = await lines_of(principal, ids)
    actual = await allocations_of(principal, ids)
    catalogue = await rules.load_catalogue()
    platform_id = (await parties.ensure_platform_party()).id
    draft_version = RuleVersion(
        version_id=-1,
        rule_id=-1,
        priority=draft.priority,
        effective_from=datetime.min.replace(tzinfo=paid_from.tzinfo),
        conditions=draft.conditions,
        legs=tuple(draft.legs),
    )
    totals: dict[tuple[int, str, str], list[int]] = {}
    for row in rows:
        for allocation in actual[row.id]:
            totals.setdefault((allocation.party_id, allocation.role, row.currency), [0, 0])[0] += (
                allocation.amount_minor
            )
        facts = PaymentFacts(
            merchant_id=row.merchant_id,
            merchant_tier=str(row.merchant.tier),
            platform_party_id=platform_id,
            logistics_party_id=row.logistics_party_id,
            currency=row.currency,
            channel=row.channel,
            region=row.region,
            paid_at=row.paid_at,
            shipping_fee_minor=row.shipping_fee_minor,
            line_items=tuple(
                LineItem(line.sku, line.category, line.unit_amount_minor, line.quantity) for line in lines[row.id]
            ),
        )
        in_effect = [*catalogue.book_at(row.paid_at).rules, draft_version]
        for (party_id, role), amount in compute_split(facts, in_effect).per_party().items():
            totals.setdefault((party_id, role.value, row.currency), [0, 0])[1] += amount
    return Backtest(
        payments=len(rows),
        truncated=truncated,
        rows=[
            BacktestRow(party_id, role, currency, amounts[0], amounts[1])
            for (party_id, role, currency), amounts in sorted(totals.items())
        ],
    )
