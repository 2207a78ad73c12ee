"""Computing a payment's split: the matching rule's legs per order, per line or per unit, the rest to the merchant.

Pure. The computation is a sequence of named steps, each checking its postcondition:

1. canonical lines, grouped by the rule each line's category selects (the default rule matches what none else does);
2. the shipping fee apportioned to those groups by goods amount, then to their lines;
3. line legs (PER_LINE, PER_UNIT) computed on each line, under the merchant-share cap of that line;
4. order legs (PER_ORDER) computed once on each group's pools, under what the cap leaves of the group;
5. order legs attributed back to the group's lines, never past a line's room under the cap;
6. the shipping fee that no leg took goes to the order's logistics partner, unless the rule has its own
   SHIPPING_FEE leg (then the rule decides the whole shipping fee and the merchant keeps what its legs leave);
7. the merchant takes the rest of every line.

Every cut goes through money.allocate, so shares are never rounded one by one: legs that draw from one pool are
allocated together with the merchant's remainder as one more part, and parts always sum to the whole.

The merchant-share cap (business rule MERCHANT_SHARE_CAP): what legs take from the merchant's goods never exceeds
floor(goods x cap) for the payment. A line never gives more than its own goods x cap rounded up to a whole minor
unit (a per-order amount attributed to lines is cut into whole units), and line legs alone never more than
floor(line goods x cap).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from domain.errors import InvalidInput
from domain.money import allocate
from domain.rules import (
    BPS_WHOLE,
    DEFAULT_MERCHANT_SHARE_CAP_BPS,
    DEFAULT_RULE_PRIORITY,
    Basis,
    BeneficiaryKind,
    Computation,
    Conditions,
    LegApplication,
    LineContext,
    RuleBook,
    RuleVersion,
)

MAX_LINE_ITEMS = 500


class SplitInvariantViolation(Exception):
    """A postcondition that protects money failed: a bug, never an input problem. Raised, not asserted, so that
    it holds under `python -O` too."""


class NoRuleInEffect(SplitInvariantViolation):
    """No rule matched: the default rule, which matches every payment, is missing from the book."""


def ensure(condition: bool, message: str) -> None:
    if not condition:
        raise SplitInvariantViolation(message)


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
    """What one party takes of one line: its part of the line's goods and of the line's shipping fee (a refund
    reverses each basis on its own: refunding goods never touches the courier's shipping share)."""

    party_id: int
    role: ShareRole
    amount_minor: int
    goods_minor: int
    shipping_minor: int


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
    """The default rule as the migration creates it: no conditions, lowest priority, and no leg, so the shipping
    fee goes to the logistics partner (SHIPPING_TO_LOGISTICS) and the merchant keeps the rest."""
    return RuleVersion(
        version_id=version_id,
        rule_id=rule_id,
        priority=DEFAULT_RULE_PRIORITY,
        effective_from=effective_from,
        conditions=Conditions(),
        legs=(),
    )


def compute_split(
    facts: PaymentFacts,
    rules: RuleBook | Sequence[RuleVersion],
    *,
    merchant_share_cap_bps: int = DEFAULT_MERCHANT_SHARE_CAP_BPS,
) -> Split:
    """Splits a payment. The result does not depend on the order of line items or of rules, and for PER_ORDER
    legs not on how the same goods of a category are cut into lines."""
    book = rules if isinstance(rules, RuleBook) else RuleBook(rules)
    if not facts.line_items:
        raise InvalidInput("INVALID_PAYMENT", "a payment needs at least one line item", field="lineItems")
    lines = sorted(facts.line_items, key=LineItem.sort_key)
    groups = _group_lines_by_rule(lines, facts, book)
    _apportion_shipping(groups, facts.shipping_fee_minor)
    cap_bps = merchant_share_cap_bps
    for group in groups:
        plan = _plan_for(group.rule, facts, book)
        if plan.has_line_legs:
            _line_legs(group, plan, cap_bps)
        if plan.order_legs:
            _attribute_order_legs(group, _order_legs(group, plan, cap_bps), cap_bps)
        group.shipping_to_logistics = plan.shipping_to_logistics
    return _assemble(lines, groups, facts, cap_bps)


# --- plans: what a rule's legs mean for one order ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _LegPlan:
    computation: Computation
    basis: Basis
    application: LegApplication
    role: ShareRole
    party_id: int | None  # None: the order's platform or logistics party, by role
    has_caps: bool


@dataclass(frozen=True, slots=True)
class _RulePlan:
    legs: tuple[_LegPlan, ...]
    # No SHIPPING_FEE leg: the order's logistics partner takes what no leg took of the shipping fee.
    shipping_to_logistics: bool


_Payees = tuple[tuple[_LegPlan, int], ...]  # (leg, the party it pays)
_ByBasis = tuple[tuple[Basis, _Payees], ...]  # the legs that draw from each pool, in pool order


@dataclass(frozen=True, slots=True)
class _PayeePlan:
    order_legs: _ByBasis  # PER_ORDER
    per_line_legs: _ByBasis
    per_unit_legs: _ByBasis
    shipping_to_logistics: bool

    @property
    def has_line_legs(self) -> bool:
        return bool(self.per_line_legs or self.per_unit_legs)


def _by_basis(legs: list[tuple[_LegPlan, int]]) -> _ByBasis:
    return tuple(
        (basis, chosen)
        for basis in (Basis.ITEM_AMOUNT, Basis.SHIPPING_FEE, Basis.ORDER_TOTAL)
        if (chosen := tuple((leg, payee) for leg, payee in legs if leg.basis is basis))
    )


_ROLES = {
    BeneficiaryKind.PLATFORM: ShareRole.PLATFORM,
    BeneficiaryKind.LOGISTICS: ShareRole.LOGISTICS,
    BeneficiaryKind.PARTY: ShareRole.PARTY,
}


def _rule_plan(rule: RuleVersion) -> _RulePlan:
    return _RulePlan(
        legs=tuple(
            _LegPlan(
                leg.computation,
                leg.basis,
                leg.application,
                _ROLES[leg.beneficiary],
                leg.party_id,
                leg.computation.min_minor is not None or leg.computation.max_minor is not None,
            )
            for leg in rule.legs
        ),
        shipping_to_logistics=not any(leg.basis is Basis.SHIPPING_FEE for leg in rule.legs),
    )


def _plan_for(rule: RuleVersion, facts: PaymentFacts, book: RuleBook) -> _PayeePlan:
    """The rule's legs with their payees for this order; kept in the book per rule, platform and courier."""
    key = (id(rule), facts.platform_party_id, facts.logistics_party_id)
    cached = book.prepared.get(key)
    if cached is None:
        # The book keeps the rule alive next to its plan, so id(rule) cannot be reused while cached.
        cached = book.prepared[key] = (rule, _payee_plan(_rule_plan(rule), facts))
    return cached[1]  # type: ignore[return-value]


def _payee_plan(plan: _RulePlan, facts: PaymentFacts) -> _PayeePlan:
    legs: dict[LegApplication, list[tuple[_LegPlan, int]]] = {application: [] for application in LegApplication}
    for leg in plan.legs:
        if leg.role is ShareRole.PLATFORM:
            payee: int | None = facts.platform_party_id
        elif leg.role is ShareRole.LOGISTICS:
            # No logistics partner on the order (collected in store, digital goods): the merchant keeps it.
            payee = facts.logistics_party_id
        else:
            payee = leg.party_id
        if payee is not None:
            legs[leg.application].append((leg, payee))
    return _PayeePlan(
        order_legs=_by_basis(legs[LegApplication.PER_ORDER]),
        per_line_legs=_by_basis(legs[LegApplication.PER_LINE]),
        per_unit_legs=_by_basis(legs[LegApplication.PER_UNIT]),
        shipping_to_logistics=plan.shipping_to_logistics and facts.logistics_party_id is not None,
    )


# --- step 1 and 2: groups and the shipping fee -----------------------------------------------------------


@dataclass(slots=True)
class _Take:
    """What one leg takes from one line: from its goods and from its shipping fee."""

    party_id: int
    role: ShareRole
    goods_minor: int
    shipping_minor: int


@dataclass(slots=True)
class _Group:
    """The lines one rule version splits, and, per line, what legs have taken so far."""

    rule: RuleVersion
    positions: list[int]  # of its lines in the canonical order
    goods: list[int]  # per line
    items: list[LineItem]
    goods_minor: int = 0
    shipping: list[int] = field(default_factory=list)  # per line, once apportioned
    taken_goods: list[int] = field(default_factory=list)  # per line: what legs took of its goods
    taken_shipping: list[int] = field(default_factory=list)  # and of its shipping fee
    # Per line: leg payee -> [from goods, from shipping].
    payees: list[dict[tuple[int, ShareRole], list[int]]] = field(default_factory=list)
    shipping_to_logistics: bool = False

    def take(self, index: int, party_id: int, role: ShareRole, goods: int, shipping: int) -> None:
        self.taken_goods[index] += goods
        self.taken_shipping[index] += shipping
        parts = self.payees[index].setdefault((party_id, role), [0, 0])
        parts[0] += goods
        parts[1] += shipping


def _group_lines_by_rule(lines: Sequence[LineItem], facts: PaymentFacts, book: RuleBook) -> list[_Group]:
    """Each line's rule; within one order only the category differs between lines, so once per category."""
    goods = sum(item.amount_minor for item in lines)
    rule_by_category: dict[str, RuleVersion] = {}
    groups: dict[int, _Group] = {}
    for position, item in enumerate(lines):
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
            selected = book.select(context)
            if selected is None:
                raise NoRuleInEffect(f"no rule matches category {item.category!r}: the default rule is missing")
            rule = rule_by_category[item.category] = selected
        group = groups.get(rule.version_id)
        if group is None:
            group = groups[rule.version_id] = _Group(rule, [], [], [])
        group.positions.append(position)
        group.goods.append(item.amount_minor)
        group.items.append(item)
        group.goods_minor += item.amount_minor
        group.taken_goods.append(0)
        group.taken_shipping.append(0)
        group.payees.append({})
    # By version id, so that the order of groups does not depend on how the goods are itemised.
    return [groups[version_id] for version_id in sorted(groups)]


def _weights(amounts: list[int]) -> list[int]:
    return amounts if any(amounts) else [1] * len(amounts)


def _apportion_shipping(groups: list[_Group], shipping_minor: int) -> None:
    """To the groups by their goods amount, then to each group's lines by theirs: a group's part of the shipping
    fee does not depend on how its goods are itemised."""
    if not shipping_minor:
        for group in groups:
            group.shipping = [0] * len(group.goods)
        return
    if len(groups) == 1:
        per_group: Sequence[int] = (shipping_minor,)
    else:
        per_group = allocate(shipping_minor, _weights([group.goods_minor for group in groups]))
    for group, part in zip(groups, per_group, strict=True):
        if len(group.goods) == 1:
            group.shipping = [part]
        else:
            group.shipping = list(allocate(part, _weights(group.goods))) if part else [0] * len(group.goods)


# --- step 3: line legs -------------------------------------------------------------------------------------


def _leg_amounts(pool: int, legs: _Payees, numerators: list[int], scale: int) -> list[int]:
    """The legs that draw from one pool, cut together with the merchant's remainder, then clamped to each leg's
    minimum and maximum (times `scale`, the quantity for PER_UNIT legs)."""
    remainder = pool * BPS_WHOLE - sum(numerators)
    amounts = list(allocate(pool, [*numerators, remainder if remainder > 0 else 0]))
    amounts.pop()  # the merchant's remainder
    for i, (leg, _) in enumerate(legs):
        if leg.has_caps:
            comp = leg.computation
            if comp.min_minor is not None:
                amounts[i] = max(amounts[i], min(comp.min_minor * scale, pool))
            if comp.max_minor is not None:
                amounts[i] = min(amounts[i], comp.max_minor * scale)
    return amounts


def _split_pools(by_basis: _ByBasis, goods: int, shipping: int, per_unit: LineItem | None = None) -> list[_Take]:
    """Each leg's take from goods and shipping: legs are cut per basis pool, ORDER_TOTAL takes are then drawn from
    the goods and the shipping fee in proportion to the two."""
    takes = []
    for basis, legs in by_basis:
        pool = goods if basis is Basis.ITEM_AMOUNT else shipping if basis is Basis.SHIPPING_FEE else goods + shipping
        if not pool:
            continue
        if per_unit is not None:  # PER_UNIT legs (ITEM_AMOUNT only): one unit's share, times the quantity
            quantity = per_unit.quantity
            numerators = [leg.computation.numerator(per_unit.unit_amount_minor) * quantity for leg, _ in legs]
        else:
            quantity = 1
            numerators = [leg.computation.numerator(pool) for leg, _ in legs]
        for (leg, payee), amount in zip(legs, _leg_amounts(pool, legs, numerators, quantity), strict=True):
            if not amount:
                continue
            if basis is Basis.ITEM_AMOUNT:
                takes.append(_Take(payee, leg.role, amount, 0))
            elif basis is Basis.SHIPPING_FEE:
                takes.append(_Take(payee, leg.role, 0, amount))
            else:
                from_goods, from_shipping = allocate(amount, [goods, shipping])
                takes.append(_Take(payee, leg.role, from_goods, from_shipping))
    return takes


def _fit(takes: list[_Take], goods_limit: int, shipping_limit: int) -> None:
    """Cuts the takes down, together, to what the limits leave (min caps and fixed amounts may ask for more)."""
    goods = [take.goods_minor for take in takes]
    if sum(goods) > goods_limit:
        for take, part in zip(takes, allocate(goods_limit, goods), strict=True):
            take.goods_minor = part
    shipping = [take.shipping_minor for take in takes]
    if sum(shipping) > shipping_limit:
        for take, part in zip(takes, allocate(shipping_limit, shipping), strict=True):
            take.shipping_minor = part


def cap_floor(goods_minor: int, cap_bps: int) -> int:
    """The most legs may take from these goods: a ceiling, so rounded down."""
    return goods_minor * cap_bps // BPS_WHOLE


def cap_ceiling_of_line(goods_minor: int, cap_bps: int) -> int:
    """The most one line may give: its goods x cap rounded up to a whole unit, because a per-order amount is
    attributed to lines in whole units."""
    return -(-goods_minor * cap_bps // BPS_WHOLE)


def _line_legs(group: _Group, plan: _PayeePlan, cap_bps: int) -> None:
    """PER_LINE and PER_UNIT legs, each line on its own, under floor(line goods x cap)."""
    for index, (item, goods, shipping) in enumerate(zip(group.items, group.goods, group.shipping, strict=True)):
        takes = _split_pools(plan.per_line_legs, goods, shipping)
        if plan.per_unit_legs:
            takes += _split_pools(plan.per_unit_legs, goods, shipping, per_unit=item)
        _fit(takes, cap_floor(goods, cap_bps), shipping)
        for take in takes:
            group.take(index, take.party_id, take.role, take.goods_minor, take.shipping_minor)
        ensure(group.taken_goods[index] <= cap_floor(goods, cap_bps), "line legs above the line's cap")


# --- step 4 and 5: order legs ------------------------------------------------------------------------------


def _order_legs(group: _Group, plan: _PayeePlan, cap_bps: int) -> list[_Take]:
    """PER_ORDER legs on the sums of the group's lines, under what the line legs leave of floor(goods x cap)."""
    goods, shipping = group.goods_minor, sum(group.shipping)
    takes = _split_pools(plan.order_legs, goods, shipping)
    line_goods, line_shipping = sum(group.taken_goods), sum(group.taken_shipping)
    goods_room = cap_floor(goods, cap_bps) - line_goods
    ensure(goods_room >= 0, "line legs took more than the group's cap")
    _fit(takes, goods_room, shipping - line_shipping)
    return takes


def _attribute(total: int, rooms: list[int]) -> list[int]:
    """A per-order amount cut into the lines' parts, in proportion to each line's room; never past a room."""
    if not total:
        return [0] * len(rooms)
    room = sum(rooms)
    if total == room:  # the leg takes all there is (a courier's 100 % of the shipping fee)
        return list(rooms)
    # Each part is within one unit of its exact share, total x room / sum(rooms), which is at most the room
    # when the total fits: so no part passes its room.
    ensure(total <= room, "a per-order amount does not fit its lines")
    return list(allocate(total, rooms))


def _attribute_order_legs(group: _Group, order_takes: list[_Take], cap_bps: int) -> None:
    """Each order leg's take, one leg after the other, cut into the lines' parts with the one allocation
    function. The room of a line is what its cap and its shipping fee leave after the legs before, so no line
    gives more than its goods x cap rounded up, whatever the number of legs."""
    if len(group.goods) == 1:  # nothing to cut
        for take in order_takes:
            group.take(0, take.party_id, take.role, take.goods_minor, take.shipping_minor)
        return
    goods_rooms = [
        cap_ceiling_of_line(goods, cap_bps) - taken for goods, taken in zip(group.goods, group.taken_goods, strict=True)
    ]
    shipping_rooms = [shipping - taken for shipping, taken in zip(group.shipping, group.taken_shipping, strict=True)]
    for take in order_takes:
        goods_parts = _attribute(take.goods_minor, goods_rooms)
        shipping_parts = _attribute(take.shipping_minor, shipping_rooms)
        for index, (goods, shipping) in enumerate(zip(goods_parts, shipping_parts, strict=True)):
            if goods or shipping:
                group.take(index, take.party_id, take.role, goods, shipping)
                goods_rooms[index] -= goods
                shipping_rooms[index] -= shipping


# --- step 6 and 7: shipping to the logistics partner, the merchant's rest, and the postconditions ----------


def _line_shares(group: _Group, index: int, facts: PaymentFacts) -> tuple[Share, ...]:
    """The legs' payees, the logistics partner's rest of the shipping fee, and the merchant's rest."""
    goods, shipping = group.goods[index], group.shipping[index]
    taken_goods, taken_shipping = group.taken_goods[index], group.taken_shipping[index]
    ensure(0 <= taken_goods <= goods and 0 <= taken_shipping <= shipping, "legs took more than the line holds")
    merged = group.payees[index]  # the line is done with after this: its payees are completed in place
    shipping_left = shipping - taken_shipping
    merchant_goods, merchant_shipping = goods - taken_goods, 0
    courier = facts.logistics_party_id
    if group.shipping_to_logistics and shipping_left and courier is not None:  # SHIPPING_TO_LOGISTICS
        merged.setdefault((courier, ShareRole.LOGISTICS), [0, 0])[1] += shipping_left
    else:
        merchant_shipping = shipping_left
    if merchant_goods or merchant_shipping:
        parts = merged.setdefault((facts.merchant_id, ShareRole.MERCHANT), [0, 0])
        parts[0] += merchant_goods
        parts[1] += merchant_shipping
    # Legs, the logistics partner and the merchant hold goods + shipping between them, each part >= 0.
    shares = []
    goods_held = shipping_held = 0
    for (party, role), (goods_part, shipping_part) in sorted(merged.items()):
        if goods_part or shipping_part:
            shares.append(Share(party, role, goods_part + shipping_part, goods_part, shipping_part))
            goods_held += goods_part
            shipping_held += shipping_part
    ensure(
        goods_held == goods and shipping_held == shipping,
        "a line's shares hold its goods and its shipping fee exactly, each basis on its own",
    )
    return tuple(shares)


def _assemble(lines: list[LineItem], groups: list[_Group], facts: PaymentFacts, cap_bps: int) -> Split:
    splits: list[LineSplit] = [None] * len(lines)  # type: ignore[list-item]  # every position is filled below
    taken_from_goods = shipping_total = goods_total = 0
    for group in groups:
        version_id = group.rule.version_id
        for index, position in enumerate(group.positions):
            goods, shipping = group.goods[index], group.shipping[index]
            ensure(group.taken_goods[index] <= cap_ceiling_of_line(goods, cap_bps), "a line gave more than its cap")
            splits[position] = LineSplit(group.items[index], version_id, shipping, _line_shares(group, index, facts))
            taken_from_goods += group.taken_goods[index]
            shipping_total += shipping
        goods_total += group.goods_minor
    ensure(taken_from_goods <= cap_floor(goods_total, cap_bps), "legs took more than floor(goods x cap)")
    ensure(shipping_total == facts.shipping_fee_minor, "the shipping fee was not apportioned whole")
    ensure(None not in splits, "a line was lost")
    # Every line's shares add up to its goods and shipping, and those add up to the payment.
    return Split(lines=tuple(splits), total_minor=facts.total_minor)
