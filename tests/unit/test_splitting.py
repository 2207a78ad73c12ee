"""Splitting payments by rules: exact totals, no negative share, caps, order independence, worked examples."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import ErrorCode, InvalidInput
from domain.rules import (
    Band,
    Basis,
    BeneficiaryKind,
    Computation,
    Conditions,
    Leg,
    LegApplication,
    RuleDraft,
    RuleVersion,
    validate_rule,
)
from domain.splitting import LineItem, PaymentFacts, ShareRole, default_rule
from domain.splitting import compute_split as split_with_book
from tests.python_dash_o import run_with_asserts_stripped

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PLATFORM, MERCHANT, COURIER, SUPPLIER = 1, 2, 3, 4
PER_ORDER, PER_LINE, PER_UNIT = LegApplication.PER_ORDER, LegApplication.PER_LINE, LegApplication.PER_UNIT
DEFAULT = default_rule(version_id=999, rule_id=999, effective_from=T0)


def compute_split(facts: PaymentFacts, rules, **options):
    """The split with the book as the service builds it: the given rules plus the default rule."""
    return split_with_book(facts, [*rules, DEFAULT], **options)


def facts(*items: LineItem, shipping: int = 0, logistics: int | None = COURIER, **overrides) -> PaymentFacts:
    base = dict(
        merchant_id=MERCHANT,
        merchant_tier="GOLD",
        platform_party_id=PLATFORM,
        logistics_party_id=logistics,
        currency="CNY",
        channel="APP",
        region="CN-ZJ",
        paid_at=T0 + timedelta(days=10),
        line_items=tuple(items),
        shipping_fee_minor=shipping,
    )
    return PaymentFacts(**(base | overrides))


def rule(
    *legs: Leg,
    version: int = 1,
    priority: int = 0,
    conditions: Conditions = Conditions(),
    effective_from: datetime = T0,
) -> RuleVersion:
    return RuleVersion(
        version_id=version,
        rule_id=version,
        priority=priority,
        effective_from=effective_from,
        conditions=conditions,
        legs=legs,
    )


def commission(bps: int, basis: Basis = Basis.ITEM_AMOUNT, **extra) -> Leg:
    return Leg(BeneficiaryKind.PLATFORM, basis, Computation(rate_bps=bps, **extra))


def test_150_with_a_2_percent_commission():
    split = compute_split(facts(LineItem("tea", "tea", 15000, 1)), [rule(commission(200))])
    assert split.per_party() == {(PLATFORM, ShareRole.PLATFORM): 300, (MERCHANT, ShareRole.MERCHANT): 14700}


def test_five_cents_split_seventy_thirty():
    split = compute_split(facts(LineItem("x", "c", 5, 1)), [rule(commission(3000))], merchant_share_cap_bps=10_000)
    assert split.per_party() == {(PLATFORM, ShareRole.PLATFORM): 1, (MERCHANT, ShareRole.MERCHANT): 4}


def test_the_default_rule_gives_shipping_to_the_logistics_partner():
    split = compute_split(facts(LineItem("a", "c", 1000, 2), shipping=800), [])
    assert split.per_party() == {(COURIER, ShareRole.LOGISTICS): 800, (MERCHANT, ShareRole.MERCHANT): 2000}
    assert {line.rule_version_id for line in split.lines} == {999}


def test_without_a_logistics_partner_the_merchant_keeps_shipping():
    split = compute_split(facts(LineItem("a", "c", 1000, 1), shipping=500, logistics=None), [])
    assert split.per_party() == {(MERCHANT, ShareRole.MERCHANT): 1500}


def test_progressive_tiers_and_caps():
    tiers = Computation(bands=(Band(0, 10000, 500), Band(10000, None, 200)), max_minor=700)
    split = compute_split(
        facts(LineItem("a", "c", 30000, 1)), [rule(Leg(BeneficiaryKind.PLATFORM, Basis.ITEM_AMOUNT, tiers))]
    )
    # 5 % of the first 100.00 (5.00) + 2 % of the next 200.00 (4.00) = 9.00, capped at 7.00.
    assert split.per_party()[(PLATFORM, ShareRole.PLATFORM)] == 700


def test_a_minimum_fee_applies():
    split = compute_split(facts(LineItem("a", "c", 100, 1)), [rule(commission(100, min_minor=10))])
    assert split.per_party()[(PLATFORM, ShareRole.PLATFORM)] == 10


def test_the_merchant_share_cap_holds_when_computing():
    # A 20 % commission plus a fixed 50.00 on a 100.00 item would take 70 %: the cap brings it to 30 %.
    legs = (
        commission(2000),
        Leg(BeneficiaryKind.PARTY, Basis.ITEM_AMOUNT, Computation(fixed_minor=5000), party_id=SUPPLIER),
    )
    split = compute_split(facts(LineItem("a", "c", 10000, 1)), [rule(*legs)])
    per = split.per_party()
    assert per[(PLATFORM, ShareRole.PLATFORM)] + per[(SUPPLIER, ShareRole.PARTY)] == 3000
    assert per[(MERCHANT, ShareRole.MERCHANT)] == 7000


def test_the_most_specific_highest_priority_newest_rule_wins():
    general = rule(commission(100), version=1)
    tea = rule(commission(200), version=2, conditions=Conditions(categories=frozenset({"tea"})))
    newer_tea = rule(
        commission(300),
        version=3,
        conditions=Conditions(categories=frozenset({"tea"})),
        effective_from=T0 + timedelta(days=1),
    )
    urgent = rule(commission(50), version=4, priority=10)
    future = rule(commission(900), version=5, priority=99, effective_from=T0 + timedelta(days=30))
    items = (LineItem("t", "tea", 10000, 1), LineItem("s", "silk", 10000, 1))
    assert {
        line.line.category: line.rule_version_id
        for line in compute_split(facts(*items), [general, tea, newer_tea]).lines
    } == {"tea": 3, "silk": 1}
    assert {line.rule_version_id for line in compute_split(facts(*items), [general, tea, urgent, future]).lines} == {4}


@pytest.mark.parametrize(
    ("draft", "code"),
    [
        (RuleDraft(0, Conditions(), (commission(10001),)), ErrorCode.RATE_ABOVE_100_PERCENT),
        (RuleDraft(0, Conditions(), (commission(3001),)), ErrorCode.ABOVE_MERCHANT_SHARE_CAP),
        (
            RuleDraft(0, Conditions(), (commission(6000, Basis.SHIPPING_FEE), commission(6000, Basis.SHIPPING_FEE))),
            ErrorCode.RATE_ABOVE_100_PERCENT,
        ),
        (
            RuleDraft(
                0,
                Conditions(),
                (
                    Leg(
                        BeneficiaryKind.PLATFORM,
                        Basis.ITEM_AMOUNT,
                        Computation(bands=(Band(0, 100, 100), Band(200, None, 100))),
                    ),
                ),
            ),
            ErrorCode.INVALID_TIERS,
        ),
        (
            RuleDraft(
                0,
                Conditions(),
                (
                    Leg(
                        BeneficiaryKind.PLATFORM,
                        Basis.ITEM_AMOUNT,
                        Computation(bands=(Band(0, 300, 100), Band(200, None, 100))),
                    ),
                ),
            ),
            ErrorCode.INVALID_TIERS,
        ),
        (
            RuleDraft(
                0,
                Conditions(min_amount_minor=1000),
                (Leg(BeneficiaryKind.PLATFORM, Basis.ITEM_AMOUNT, Computation(fixed_minor=2000)),),
            ),
            ErrorCode.FIXED_FEE_ABOVE_AMOUNT,
        ),
        (RuleDraft(0, Conditions(), ()), ErrorCode.INVALID_RULE),
        (
            RuleDraft(0, Conditions(), (Leg(BeneficiaryKind.PARTY, Basis.ITEM_AMOUNT, Computation(rate_bps=1)),)),
            ErrorCode.INVALID_RULE,
        ),
    ],
)
def test_bad_rules_are_refused_with_a_code_and_a_field(draft, code):
    with pytest.raises(InvalidInput) as caught:
        validate_rule(draft)
    assert caught.value.code == code and caught.value.field


# --- properties ---------------------------------------------------------------------------------------

line_items = st.lists(
    st.builds(
        LineItem,
        sku=st.sampled_from("abcdef"),
        category=st.sampled_from(["tea", "silk", "toys"]),
        unit_amount_minor=st.integers(0, 10**7),
        quantity=st.integers(1, 20),
    ),
    min_size=1,
    max_size=8,
)
computations = st.builds(
    Computation,
    rate_bps=st.integers(0, 4000),
    fixed_minor=st.integers(0, 5000),
    min_minor=st.none() | st.integers(0, 1000),
    max_minor=st.none() | st.integers(1000, 10**6),
)
legs = st.builds(
    Leg,
    beneficiary=st.sampled_from([BeneficiaryKind.PLATFORM, BeneficiaryKind.LOGISTICS]),
    basis=st.sampled_from(list(Basis)),
    computation=computations,
)
rule_sets = st.lists(
    st.builds(
        lambda i, p, cats, ls: rule(*ls, version=i, priority=p, conditions=Conditions(categories=frozenset(cats))),
        st.integers(1, 10**6),
        st.integers(-5, 5),
        st.sets(st.sampled_from(["tea", "silk", "toys"])),
        st.lists(legs, min_size=1, max_size=4),
    ),
    max_size=5,
    unique_by=lambda r: r.version_id,
)


@settings(max_examples=300, deadline=None)
@given(items=line_items, shipping=st.integers(0, 10**5), rules=rule_sets, cap=st.integers(0, 10_000))
def test_a_split_sums_exactly_has_no_negative_share_and_respects_the_cap(items, shipping, rules, cap):
    split = compute_split(facts(*items, shipping=shipping), rules, merchant_share_cap_bps=cap)
    assert sum(split.per_party().values()) == split.total_minor == sum(i.amount_minor for i in items) + shipping
    for line in split.lines:
        assert all(share.amount_minor > 0 for share in line.shares)
        assert sum(share.amount_minor for share in line.shares) == line.total_minor


@settings(max_examples=200, deadline=None)
@given(items=line_items, shipping=st.integers(0, 10**5), rules=rule_sets, data=st.data())
def test_a_split_does_not_depend_on_the_order_of_items_or_rules(items, shipping, rules, data):
    first = compute_split(facts(*items, shipping=shipping), rules)
    shuffled_items = data.draw(st.permutations(items))
    shuffled_rules = data.draw(st.permutations(rules))
    second = compute_split(facts(*shuffled_items, shipping=shipping), shuffled_rules)
    assert first.per_party() == second.per_party()
    assert [line.rule_version_id for line in first.lines] == [line.rule_version_id for line in second.lines]


@settings(max_examples=200, deadline=None)
@given(amount=st.integers(1, 10**9), bps=st.integers(0, 3000))
def test_a_single_commission_is_within_one_unit_of_its_exact_share(amount, bps):
    split = compute_split(facts(LineItem("a", "c", amount, 1)), [rule(commission(bps))])
    platform = split.per_party().get((PLATFORM, ShareRole.PLATFORM), 0)
    assert abs(platform * 10_000 - amount * bps) < 10_000


# --- issue 7: split semantics ----------------------------------------------------------------------------


def platform_take(split) -> int:
    return split.per_party().get((PLATFORM, ShareRole.PLATFORM), 0)


def test_a_rule_without_a_shipping_leg_leaves_the_shipping_fee_to_the_courier():
    # The demo's order WL-1001: "5 % on tea" matches the line and says nothing of shipping.
    tea = rule(commission(500), conditions=Conditions(categories=frozenset({"tea"})))
    split = compute_split(facts(LineItem("longjing", "tea", 18800, 1), shipping=1200), [tea])
    assert split.per_party() == {
        (PLATFORM, ShareRole.PLATFORM): 940,
        (COURIER, ShareRole.LOGISTICS): 1200,
        (MERCHANT, ShareRole.MERCHANT): 17860,
    }


def test_a_rule_with_its_own_shipping_leg_decides_the_whole_shipping_fee():
    own = rule(commission(500), Leg(BeneficiaryKind.PLATFORM, Basis.SHIPPING_FEE, Computation(rate_bps=1000)))
    split = compute_split(facts(LineItem("a", "c", 10000, 1), shipping=1000), [own])
    assert split.per_party() == {(PLATFORM, ShareRole.PLATFORM): 600, (MERCHANT, ShareRole.MERCHANT): 10400}


def test_a_future_version_of_the_default_rule_does_not_apply_before_its_time():
    edited = RuleVersion(
        version_id=1000,
        rule_id=DEFAULT.rule_id,
        priority=DEFAULT.priority,
        effective_from=T0 + timedelta(days=30),
        conditions=Conditions(),
        legs=(commission(1000),),
    )
    today = facts(LineItem("a", "c", 10000, 1), paid_at=T0 + timedelta(days=1))
    assert platform_take(split_with_book(today, [DEFAULT, edited])) == 0
    later = facts(LineItem("a", "c", 10000, 1), paid_at=T0 + timedelta(days=31))
    assert platform_take(split_with_book(later, [DEFAULT, edited])) == 1000


def test_without_the_default_rule_in_the_book_splitting_refuses_instead_of_guessing():
    from domain.splitting import NoRuleInEffect

    only_silk = rule(commission(100), conditions=Conditions(categories=frozenset({"silk"})))
    with pytest.raises(NoRuleInEffect):
        split_with_book(facts(LineItem("a", "tea", 100, 1)), [only_silk])


@pytest.mark.parametrize(
    ("draft", "field"),
    [
        (RuleDraft(0, Conditions(currency="CNY"), (commission(100),)), "conditions"),
        (RuleDraft(0, Conditions(categories=frozenset({"tea"})), (commission(100),)), "conditions"),
        (RuleDraft(0, Conditions(), (commission(100, fixed_minor=100),)), "legs[0]"),
        (RuleDraft(0, Conditions(), (commission(100, max_minor=100),)), "legs[0]"),
    ],
)
def test_the_default_rule_may_hold_only_what_always_matches(draft, field):
    with pytest.raises(InvalidInput) as caught:
        validate_rule(draft, is_default=True)
    assert caught.value.code == ErrorCode.DEFAULT_RULE and caught.value.field == field


def test_the_default_rule_takes_rates_and_ranks_below_every_ordinary_rule():
    validate_rule(RuleDraft(0, Conditions(), (commission(100),)), is_default=True)
    lowest = rule(commission(200), priority=-1_000_000, version=5)
    split = split_with_book(facts(LineItem("a", "c", 10000, 1)), [DEFAULT, lowest])
    assert {line.rule_version_id for line in split.lines} == {5}


def test_the_cap_is_a_ceiling_over_many_small_lines():
    # 100 lines of 0.09 at 30 %: the goods are 9.00, so at most 2.70 (rounding per line took 3.00).
    items = [LineItem(f"sku-{i:03}", "c", 9, 1) for i in range(100)]
    split = compute_split(facts(*items), [rule(commission(3000))])
    assert platform_take(split) == 270


def test_the_cap_is_a_ceiling_on_one_line():
    # 10.09 at 30 % is 3.027: the cap is floor(3.027) = 3.02 (rounding to nearest took 3.03).
    split = compute_split(facts(LineItem("a", "c", 1009, 1)), [rule(commission(3000))])
    assert platform_take(split) == 302


def test_tiers_apply_to_the_order_not_to_each_line():
    tiers = Leg(
        BeneficiaryKind.PLATFORM, Basis.ITEM_AMOUNT, Computation(bands=(Band(0, 10000, 500), Band(10000, None, 200)))
    )
    one_line = compute_split(facts(LineItem("a", "c", 20000, 1)), [rule(tiers)])
    two_lines = compute_split(facts(LineItem("a", "c", 10000, 1), LineItem("b", "c", 10000, 1)), [rule(tiers)])
    assert platform_take(one_line) == platform_take(two_lines) == 700


def test_a_maximum_applies_to_the_order_unless_the_leg_says_per_line():
    capped = commission(1000, max_minor=500)
    one_line = compute_split(facts(LineItem("a", "c", 100000, 1)), [rule(capped)])
    ten_lines = compute_split(facts(*(LineItem(f"s{i}", "c", 10000, 1) for i in range(10))), [rule(capped)])
    assert platform_take(one_line) == platform_take(ten_lines) == 500
    per_line = Leg(
        BeneficiaryKind.PLATFORM, Basis.ITEM_AMOUNT, Computation(rate_bps=1000, max_minor=500), application=PER_LINE
    )
    assert (
        platform_take(compute_split(facts(*(LineItem(f"s{i}", "c", 10000, 1) for i in range(10))), [rule(per_line)]))
        == 5000
    )


def test_a_per_unit_fee_counts_every_unit():
    per_unit = Leg(BeneficiaryKind.PLATFORM, Basis.ITEM_AMOUNT, Computation(fixed_minor=50), application=PER_UNIT)
    split = compute_split(facts(LineItem("a", "c", 1000, 3), LineItem("b", "c", 2000, 1)), [rule(per_unit)])
    assert platform_take(split) == 200


def test_a_per_order_fee_is_attributed_back_to_the_lines_it_was_computed_on():
    split = compute_split(
        facts(LineItem("a", "c", 10000, 1), LineItem("b", "c", 30000, 1)), [rule(commission(0, fixed_minor=1000))]
    )
    by_line = [{s.role: s.amount_minor for s in line.shares} for line in split.lines]
    assert [line[ShareRole.PLATFORM] for line in by_line] == [250, 750]


def test_an_order_total_leg_draws_from_goods_and_shipping_in_proportion():
    # 30 % of 120.00: 30.00 from the goods (within the 30 % cap) and 6.00 from the shipping fee; the courier
    # keeps the rest of the shipping fee because the rule has no SHIPPING_FEE leg.
    leg = commission(3000, Basis.ORDER_TOTAL)
    validate_rule(RuleDraft(0, Conditions(), (leg,)))
    split = compute_split(facts(LineItem("a", "c", 10000, 1), shipping=2000), [rule(leg)])
    assert split.per_party() == {
        (PLATFORM, ShareRole.PLATFORM): 3600,
        (COURIER, ShareRole.LOGISTICS): 1400,
        (MERCHANT, ShareRole.MERCHANT): 7000,
    }


@pytest.mark.parametrize(
    ("legs", "code"),
    [
        # ORDER_TOTAL legs draw from the shipping fee too: 60 % + 60 % of it is more than there is.
        (
            (
                commission(600, Basis.ORDER_TOTAL),
                commission(6000, Basis.SHIPPING_FEE),
                commission(6000, Basis.SHIPPING_FEE),
            ),
            ErrorCode.RATE_ABOVE_100_PERCENT,
        ),
        ((commission(2000, Basis.ORDER_TOTAL), commission(2000)), ErrorCode.ABOVE_MERCHANT_SHARE_CAP),
        (
            (Leg(BeneficiaryKind.PLATFORM, Basis.SHIPPING_FEE, Computation(fixed_minor=1), application=PER_UNIT),),
            ErrorCode.INVALID_RULE,
        ),
    ],
)
def test_validation_refuses_what_the_splitter_would_cut(legs, code):
    with pytest.raises(InvalidInput) as caught:
        validate_rule(RuleDraft(0, Conditions(), legs))
    assert caught.value.code == code


def test_a_fixed_fee_above_the_cap_at_the_smallest_order_is_refused():
    # Orders from 10.00: a fixed 5.00 is 50 % of the smallest of them.
    draft = RuleDraft(0, Conditions(min_amount_minor=1000), (commission(0, fixed_minor=500),))
    with pytest.raises(InvalidInput) as caught:
        validate_rule(draft)
    assert caught.value.code == ErrorCode.ABOVE_MERCHANT_SHARE_CAP
    validate_rule(RuleDraft(0, Conditions(min_amount_minor=1000), (commission(0, fixed_minor=300),)))


def test_a_rule_in_an_unknown_currency_is_refused():
    with pytest.raises(InvalidInput) as caught:
        validate_rule(RuleDraft(0, Conditions(currency="RMB"), (commission(100),)))
    assert caught.value.code == ErrorCode.UNKNOWN_CURRENCY and caught.value.field == "currency"


def test_postconditions_are_raised_under_python_dash_o():
    """A broken allocation is caught by the splitter's own checks even when asserts are stripped."""
    script = (
        "import domain.splitting as s\n"
        "from datetime import UTC, datetime\n"
        "s.allocate = lambda total, weights: (total + 1,) + (0,) * (len(weights) - 1)\n"
        "from domain.rules import *\n"
        "r = RuleVersion(1, 1, 0, datetime(2026, 1, 1, tzinfo=UTC), Conditions(),"
        " (Leg(BeneficiaryKind.PLATFORM, Basis.ITEM_AMOUNT, Computation(rate_bps=100)),))\n"
        "f = s.PaymentFacts(2, 'GOLD', 1, 3, 'CNY', 'APP', 'CN', datetime(2026, 2, 1, tzinfo=UTC),"
        " (s.LineItem('a', 'c', 100, 1), s.LineItem('b', 'c', 300, 1)), 50)\n"
        "try:\n"
        "    s.compute_split(f, [r, s.default_rule(9, 9, datetime(2000, 1, 1, tzinfo=UTC))])\n"
        "except s.SplitInvariantViolation as exc:\n"
        "    print('refused:', exc)\n"
    )
    result = run_with_asserts_stripped(script)
    assert result.stdout.startswith("refused:"), result.stdout + result.stderr


# --- properties of the semantics ------------------------------------------------------------------------

applications = st.sampled_from([PER_ORDER, PER_LINE, PER_UNIT])
any_legs = st.builds(
    lambda beneficiary, basis, computation, application: Leg(
        beneficiary, basis, computation, application=application if basis is Basis.ITEM_AMOUNT else PER_ORDER
    ),
    st.sampled_from([BeneficiaryKind.PLATFORM, BeneficiaryKind.LOGISTICS]),
    st.sampled_from(list(Basis)),
    computations,
    applications,
)


@settings(max_examples=300, deadline=None)
@given(
    items=line_items,
    legs_=st.lists(any_legs, min_size=1, max_size=4),
    cap=st.integers(0, 10_000),
    courier=st.sampled_from([COURIER, None]),
)
def test_the_cap_holds_per_payment_and_per_line_whatever_the_legs(items, legs_, cap, courier):
    """With no shipping fee, what legs take from the goods is what the merchant does not get."""
    split = compute_split(facts(*items, logistics=courier), [rule(*legs_)], merchant_share_cap_bps=cap)
    for line in split.lines:
        merchant = sum(s.amount_minor for s in line.shares if s.role is ShareRole.MERCHANT)
        assert line.line.amount_minor - merchant <= -(-line.line.amount_minor * cap // 10_000)
    goods = sum(i.amount_minor for i in items)
    assert goods - split.per_party().get((MERCHANT, ShareRole.MERCHANT), 0) <= goods * cap // 10_000


@settings(max_examples=300, deadline=None)
@given(
    items=line_items,
    shipping=st.integers(0, 10**5),
    legs_=st.lists(any_legs, min_size=1, max_size=4),
    courier=st.sampled_from([COURIER, None]),
)
def test_every_line_is_split_whole_and_the_merchant_keeps_at_least_its_goods_less_the_cap(
    items, shipping, legs_, courier
):
    split = compute_split(facts(*items, shipping=shipping, logistics=courier), [rule(*legs_)])
    assert sum(split.per_party().values()) == split.total_minor
    for line in split.lines:
        assert sum(s.amount_minor for s in line.shares) == line.total_minor
        assert all(s.amount_minor > 0 for s in line.shares)
    goods = sum(i.amount_minor for i in items)
    assert split.per_party().get((MERCHANT, ShareRole.MERCHANT), 0) >= goods - goods * 3000 // 10_000


order_legs = st.lists(
    st.builds(
        Leg,
        beneficiary=st.sampled_from([BeneficiaryKind.PLATFORM, BeneficiaryKind.LOGISTICS]),
        basis=st.sampled_from(list(Basis)),
        computation=st.builds(
            Computation,
            rate_bps=st.integers(0, 3000),
            fixed_minor=st.integers(0, 5000),
            bands=st.sampled_from([(), (Band(0, 10000, 500), Band(10000, None, 200))]),
            min_minor=st.none() | st.integers(0, 1000),
            max_minor=st.none() | st.integers(1000, 10**6),
        ),
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=300, deadline=None)
@given(
    goods_by_category=st.dictionaries(st.sampled_from(["tea", "silk", "toys"]), st.integers(1, 10**6), min_size=1),
    shipping=st.integers(0, 10**4),
    legs_=order_legs,
    cap=st.integers(0, 10_000),
    data=st.data(),
)
def test_per_order_legs_pay_the_same_however_the_same_goods_are_itemised(goods_by_category, shipping, legs_, cap, data):
    """PER_ORDER is the decision: the same goods of a category cut into different lines pay every party the same."""
    whole = [LineItem(f"{category}-all", category, amount, 1) for category, amount in goods_by_category.items()]
    pieces = []
    for category, amount in goods_by_category.items():
        cuts = sorted(data.draw(st.lists(st.integers(0, amount), max_size=4)))
        bounds = [0, *cuts, amount]
        pairs = enumerate(itertools.pairwise(bounds))
        pieces += [LineItem(f"{category}-{i}", category, b - a, 1) for i, (a, b) in pairs]
    rules = [rule(*legs_, conditions=Conditions(categories=frozenset({"tea"}))), rule(*legs_, version=2)]
    first = compute_split(facts(*whole, shipping=shipping), rules, merchant_share_cap_bps=cap)
    second = compute_split(facts(*pieces, shipping=shipping), rules, merchant_share_cap_bps=cap)
    assert first.per_party() == second.per_party()


def test_rule_dates_without_a_time_zone_are_refused():
    # A naive date could not be compared with a payment's paidAt: every payment reaching the rule failed.
    naive = datetime(2020, 1, 1)
    for conditions, field in (
        (Conditions(active_from=naive), "conditions.activeFrom"),
        (Conditions(active_from=T0, active_until=naive), "conditions.activeUntil"),
    ):
        with pytest.raises(InvalidInput) as caught:
            validate_rule(RuleDraft(0, conditions, (commission(100),)))
        assert caught.value.field == field


def test_a_fixed_fee_on_some_categories_is_left_to_the_cap_at_split_time():
    """The minimum order amount counts every category, so a tea-only rule's smallest tea amount is unknown when it
    is saved: the rule is accepted, and the cap, a ceiling, holds when the split is computed."""
    tea_only = Conditions(categories=frozenset({"tea"}), min_amount_minor=10_000)
    validate_rule(RuleDraft(0, tea_only, (commission(0, fixed_minor=3_000),)))
    split = compute_split(
        facts(LineItem("t", "tea", 100, 1), LineItem("s", "silk", 9_900, 1)),
        [rule(commission(0, fixed_minor=3_000), conditions=tea_only)],
    )
    assert platform_take(split) == 30  # floor(1.00 x 30 %)


def test_every_field_at_fault_in_a_rule_is_reported_at_once():
    from domain.errors import InvalidFields

    draft = RuleDraft(
        5_000_000,
        Conditions(active_from=datetime(2020, 1, 1)),
        (commission(10_001), Leg(BeneficiaryKind.PARTY, Basis.ITEM_AMOUNT, Computation(rate_bps=1))),
    )
    with pytest.raises(InvalidFields) as caught:
        validate_rule(draft)
    assert [error.field for error in caught.value.errors] == [
        "priority",
        "conditions.activeFrom",
        "legs[0].rateBps",
        "legs[1].partyId",
    ]
