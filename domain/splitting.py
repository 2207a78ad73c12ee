"""Computing a payment's split: per line item, the matching rule's legs, the merchant taking the rest. Pure.

Every cut goes through money.allocate, so shares are never rounded one by one: the legs of one basis are
allocated together with the merchant's remainder as one more part, and the parts always sum to the whole.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.errors import InvalidInput
from domain.money import allocate
from domain.rules import (
    BPS_WHOLE,
    DEFAULT_MERCHANT_SHARE_CAP_BPS,
    Basis,
    BeneficiaryKind,
    Computation,
    Conditions,
    Leg,
    LineContext,
    RuleBook,
    RuleVersion,
)

MAX_LINE_ITEMS = 500


class ShareRole(enum.StrEnum):
    PLATFORM = "PLATFORM"
    LOGISTICS = "LOGISTICS"
    PARTY = "PARTY"
    MERCHANT = "MERCHANT"


@dataclass(frozen=True, slots=True)
class LineItem:
    sku: str
    category: str
    unit_amount_minor: int
    quantity: int

    @property
    def amount_minor(self) -> int:
        return self.unit_amount_minor * self.quantity

    def sort_key(self) -> tuple[str, str, int, int]:
        return (self.sku, self.category, self.unit_amount_minor, self.quantity)


@dataclass(frozen=True, slots=True)
class PaymentFacts:
    merchant_id: int
    merchant_tier: str
    platform_party_id: int
    logistics_party_id: int | None
    currency: str
    channel: str
    region: str
    paid_at: datetime
    line_items: tuple[LineItem, ...]
    shipping_fee_minor: int = 0

    @property
    def goods_minor(self) -> int:
        return sum(item.amount_minor for item in self.line_items)

    @property
    def total_minor(self) -> int:
        return self.goods_minor + self.shipping_fee_minor


@dataclass(frozen=True, slots=True)
class Share:
    party_id: int
    role: ShareRole
    amount_minor: int


@dataclass(frozen=True, slots=True)
class LineSplit:
    line: LineItem
    rule_version_id: int
    shipping_minor: int
    shares: tuple[Share, ...]

    @property
    def total_minor(self) -> int:
        return self.line.amount_minor + self.shipping_minor


@dataclass(frozen=True, slots=True)
class Split:
    lines: tuple[LineSplit, ...]  # in canonical line order (sku, category, unit amount, quantity)
    total_minor: int

    def per_party(self) -> dict[tuple[int, ShareRole], int]:
        totals: dict[tuple[int, ShareRole], int] = {}
        for line in self.lines:
            for share in line.shares:
                key = (share.party_id, share.role)
                totals[key] = totals.get(key, 0) + share.amount_minor
        return totals


def default_rule(version_id: int, rule_id: int, effective_from: datetime) -> RuleVersion:
    """The rule that always matches: the logistics partner takes the shipping fee, the merchant the rest."""
    return RuleVersion(
        version_id=version_id,
        rule_id=rule_id,
        priority=-1_000_000,
        effective_from=effective_from,
        conditions=Conditions(),
        legs=(Leg(BeneficiaryKind.LOGISTICS, Basis.SHIPPING_FEE, Computation(rate_bps=BPS_WHOLE)),),
    )


def compute_split(
    facts: PaymentFacts,
    rules: RuleBook | Sequence[RuleVersion],
    fallback: RuleVersion,
    *,
    merchant_share_cap_bps: int = DEFAULT_MERCHANT_SHARE_CAP_BPS,
) -> Split:
    """Splits a payment. The result does not depend on the order of line items or of rules."""
    book = rules if isinstance(rules, RuleBook) else RuleBook(rules)
    if not facts.line_items:
        raise InvalidInput("INVALID_PAYMENT", "a payment needs at least one line item", field="lineItems")
    lines = sorted(facts.line_items, key=LineItem.sort_key)
    amounts = [item.amount_minor for item in lines]
    weights = amounts if any(amounts) else [1] * len(lines)
    shipping_parts = allocate(facts.shipping_fee_minor, weights) if facts.shipping_fee_minor else (0,) * len(lines)
    goods = sum(amounts)
    splits = []
    # Within one order only the category differs between lines, so the rule is chosen once per category.
    rule_by_category: dict[str, RuleVersion] = {}
    for item, shipping in zip(lines, shipping_parts, strict=True):
        rule = rule_by_category.get(item.category)
        if rule is None:
            context = LineContext(
                merchant_id=facts.merchant_id,
                merchant_tier=facts.merchant_tier,
                category=item.category,
                currency=facts.currency,
                channel=facts.channel,
                region=facts.region,
                paid_at=facts.paid_at,
                order_goods_minor=goods,
            )
            rule = rule_by_category[item.category] = book.select(context) or fallback
        shares = _split_line(item.amount_minor, shipping, rule, facts, merchant_share_cap_bps, book)
        splits.append(LineSplit(line=item, rule_version_id=rule.version_id, shipping_minor=shipping, shares=shares))
    split = Split(lines=tuple(splits), total_minor=facts.total_minor)
    assert sum(s.amount_minor for line in split.lines for s in line.shares) == facts.total_minor
    return split


@dataclass(frozen=True, slots=True)
class _LegPlan:
    computation: Computation
    basis: Basis
    role: ShareRole
    party_id: int | None  # None: the order's platform or logistics party, by role
    has_caps: bool


def _plan(rule: RuleVersion) -> tuple[_LegPlan, ...]:
    roles = {
        BeneficiaryKind.PLATFORM: ShareRole.PLATFORM,
        BeneficiaryKind.LOGISTICS: ShareRole.LOGISTICS,
        BeneficiaryKind.PARTY: ShareRole.PARTY,
    }
    return tuple(
        _LegPlan(
            leg.computation,
            leg.basis,
            roles[leg.beneficiary],
            leg.party_id,
            leg.computation.min_minor is not None or leg.computation.max_minor is not None,
        )
        for leg in rule.legs
    )


def _legs_for(rule: RuleVersion, facts: PaymentFacts, book: RuleBook) -> list[tuple[_LegPlan, int]]:
    cached = book.prepared.get(id(rule))
    if cached is None:
        # The book keeps the rule alive next to its plan, so id(rule) cannot be reused while cached.
        cached = book.prepared[id(rule)] = (rule, _plan(rule))
    plan: tuple[_LegPlan, ...] = cached[1]  # type: ignore[assignment]
    legs = []
    for leg in plan:
        if leg.role is ShareRole.PLATFORM:
            legs.append((leg, facts.platform_party_id))
        elif leg.role is ShareRole.LOGISTICS:
            # No logistics partner on the order (collected in store, digital goods): the merchant keeps it.
            if facts.logistics_party_id is not None:
                legs.append((leg, facts.logistics_party_id))
        else:
            assert leg.party_id is not None
            legs.append((leg, leg.party_id))
    return legs


def _split_line(
    item_minor: int, shipping_minor: int, rule: RuleVersion, facts: PaymentFacts, cap_bps: int, book: RuleBook
) -> tuple[Share, ...]:
    line_total = item_minor + shipping_minor
    legs = _legs_for(rule, facts, book)
    amounts = [0] * len(legs)
    for basis, pool in (
        (Basis.ITEM_AMOUNT, item_minor),
        (Basis.SHIPPING_FEE, shipping_minor),
        (Basis.ORDER_TOTAL, line_total),
    ):
        if pool == 0:
            continue
        indexes = [i for i, (leg, _) in enumerate(legs) if leg.basis is basis]
        if not indexes:
            continue
        numerators = [legs[i][0].computation.numerator(pool) for i in indexes]
        remainder = pool * BPS_WHOLE - sum(numerators)
        parts = allocate(pool, [*numerators, remainder if remainder > 0 else 0])
        for i, part in zip(indexes, parts, strict=False):
            amounts[i] = part
    for i, (leg, _) in enumerate(legs):
        if leg.has_caps:
            comp = leg.computation
            pool = {Basis.ITEM_AMOUNT: item_minor, Basis.SHIPPING_FEE: shipping_minor}.get(leg.basis, line_total)
            if comp.min_minor is not None:
                amounts[i] = max(amounts[i], min(comp.min_minor, pool))
            if comp.max_minor is not None:
                amounts[i] = min(amounts[i], comp.max_minor)
    # The platform-wide cap on what is taken from the merchant's goods amount. Below the floor of the cap it
    # cannot bind, so allocate is asked for the exact cap only when it might.
    from_goods = [i for i, (leg, _) in enumerate(legs) if leg.basis is not Basis.SHIPPING_FEE]
    if from_goods:
        taken = sum(amounts[i] for i in from_goods)
        if taken * BPS_WHOLE > item_minor * cap_bps - BPS_WHOLE:
            cap_minor = allocate(item_minor, [cap_bps, BPS_WHOLE - cap_bps])[0] if item_minor else 0
            if taken > cap_minor:
                for i, part in zip(from_goods, allocate(cap_minor, [amounts[i] for i in from_goods]), strict=True):
                    amounts[i] = part
    if sum(amounts) > line_total:  # min caps may ask for more than there is
        amounts = list(allocate(line_total, amounts))
    merged: dict[tuple[int, ShareRole], int] = {}
    for (leg, party_id), amount in zip(legs, amounts, strict=True):
        if amount:
            key = (party_id, leg.role)
            merged[key] = merged.get(key, 0) + amount
    merchant_amount = line_total - sum(amounts)
    if merchant_amount:
        key = (facts.merchant_id, ShareRole.MERCHANT)
        merged[key] = merged.get(key, 0) + merchant_amount
    shares = tuple(Share(party, role, amount) for (party, role), amount in sorted(merged.items()))
    assert merchant_amount >= 0 and all(amount >= 0 for amount in amounts)
    return shares
