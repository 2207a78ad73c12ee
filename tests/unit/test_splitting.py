"""Splitting payments by rules: exact totals, no negative share, caps, order independence, worked examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import ErrorCode, InvalidInput
from domain.ledger import Bucket, UnbalancedEntry, assert_balanced, payment_postings
from domain.rules import (
    Band,
    Basis,
    BeneficiaryKind,
    Computation,
    Conditions,
    Leg,
    RuleDraft,
    RuleVersion,
    validate_rule,
)
from domain.splitting import LineItem, PaymentFacts, ShareRole, compute_split, default_rule

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PLATFORM, MERCHANT, COURIER, SUPPLIER = 1, 2, 3, 4
FALLBACK = default_rule(version_id=999, rule_id=999, effective_from=T0)


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
    split = compute_split(facts(LineItem("tea", "tea", 15000, 1)), [rule(commission(200))], FALLBACK)
    assert split.per_party() == {(PLATFORM, ShareRole.PLATFORM): 300, (MERCHANT, ShareRole.MERCHANT): 14700}


def test_five_cents_split_seventy_thirty():
    split = compute_split(
        facts(LineItem("x", "c", 5, 1)), [rule(commission(3000))], FALLBACK, merchant_share_cap_bps=10_000
    )
    assert split.per_party() == {(PLATFORM, ShareRole.PLATFORM): 1, (MERCHANT, ShareRole.MERCHANT): 4}


def test_the_default_rule_gives_shipping_to_the_logistics_partner():
    split = compute_split(facts(LineItem("a", "c", 1000, 2), shipping=800), [], FALLBACK)
    assert split.per_party() == {(COURIER, ShareRole.LOGISTICS): 800, (MERCHANT, ShareRole.MERCHANT): 2000}
    assert {line.rule_version_id for line in split.lines} == {999}


def test_without_a_logistics_partner_the_merchant_keeps_shipping():
    split = compute_split(facts(LineItem("a", "c", 1000, 1), shipping=500, logistics=None), [], FALLBACK)
    assert split.per_party() == {(MERCHANT, ShareRole.MERCHANT): 1500}


def test_progressive_tiers_and_caps():
    tiers = Computation(bands=(Band(0, 10000, 500), Band(10000, None, 200)), max_minor=700)
    split = compute_split(
        facts(LineItem("a", "c", 30000, 1)), [rule(Leg(BeneficiaryKind.PLATFORM, Basis.ITEM_AMOUNT, tiers))], FALLBACK
    )
    # 5 % of the first 100.00 (5.00) + 2 % of the next 200.00 (4.00) = 9.00, capped at 7.00.
    assert split.per_party()[(PLATFORM, ShareRole.PLATFORM)] == 700


def test_a_minimum_fee_applies():
    split = compute_split(facts(LineItem("a", "c", 100, 1)), [rule(commission(100, min_minor=10))], FALLBACK)
    assert split.per_party()[(PLATFORM, ShareRole.PLATFORM)] == 10


def test_the_merchant_share_cap_holds_when_computing():
    # A 20 % commission plus a fixed 50.00 on a 100.00 item would take 70 %: the cap brings it to 30 %.
    legs = (
        commission(2000),
        Leg(BeneficiaryKind.PARTY, Basis.ITEM_AMOUNT, Computation(fixed_minor=5000), party_id=SUPPLIER),
    )
    split = compute_split(facts(LineItem("a", "c", 10000, 1)), [rule(*legs)], FALLBACK)
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
        for line in compute_split(facts(*items), [general, tea, newer_tea], FALLBACK).lines
    } == {"tea": 3, "silk": 1}
    assert {
        line.rule_version_id for line in compute_split(facts(*items), [general, tea, urgent, future], FALLBACK).lines
    } == {4}


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


def test_ledger_postings_balance_and_refuse_imbalance():
    postings = payment_postings("CNY", 1500, {PLATFORM: 300, MERCHANT: 1200})
    assert sum(p.amount_minor for p in postings) == 0
    assert {p.account.bucket for p in postings if p.account.party_id} == {Bucket.PENDING}
    with pytest.raises(UnbalancedEntry):
        assert_balanced(postings[:-1])


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
    split = compute_split(facts(*items, shipping=shipping), rules, FALLBACK, merchant_share_cap_bps=cap)
    assert sum(split.per_party().values()) == split.total_minor == sum(i.amount_minor for i in items) + shipping
    for line in split.lines:
        assert all(share.amount_minor > 0 for share in line.shares)
        assert sum(share.amount_minor for share in line.shares) == line.total_minor


@settings(max_examples=200, deadline=None)
@given(items=line_items, shipping=st.integers(0, 10**5), rules=rule_sets, data=st.data())
def test_a_split_does_not_depend_on_the_order_of_items_or_rules(items, shipping, rules, data):
    first = compute_split(facts(*items, shipping=shipping), rules, FALLBACK)
    shuffled_items = data.draw(st.permutations(items))
    shuffled_rules = data.draw(st.permutations(rules))
    second = compute_split(facts(*shuffled_items, shipping=shipping), shuffled_rules, FALLBACK)
    assert first.per_party() == second.per_party()
    assert [line.rule_version_id for line in first.lines] == [line.rule_version_id for line in second.lines]


@settings(max_examples=200, deadline=None)
@given(amount=st.integers(1, 10**9), bps=st.integers(0, 3000))
def test_a_single_commission_is_within_one_unit_of_its_exact_share(amount, bps):
    split = compute_split(facts(LineItem("a", "c", amount, 1)), [rule(commission(bps))], FALLBACK)
    platform = split.per_party().get((PLATFORM, ShareRole.PLATFORM), 0)
    assert abs(platform * 10_000 - amount * bps) < 10_000
