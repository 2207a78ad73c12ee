"""Refund arithmetic: reversals never negative nor past a share, exact totals, exact shares once all is refunded,
the shipping fee only when asked, determinism, worked examples and the errors a caller can cause."""

from __future__ import annotations

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from domain.errors import ErrorCode, InvalidFields, InvalidInput
from domain.money import allocate
from domain.refunds import (
    ItemRefund,
    LineRefundable,
    LineShares,
    PartShare,
    Refundable,
    RefundBasis,
    RefundInvariantViolation,
    RefundPlan,
    RefundRequest,
    Reversal,
    ShareKey,
    plan_refund,
    refundable,
)
from tests.python_dash_o import run_with_asserts_stripped

PLATFORM, MERCHANT, COURIER, SUPPLIER, OTHER_SUPPLIER = 1, 2, 3, 4, 5
ROLE_OF = {PLATFORM: "PLATFORM", MERCHANT: "MERCHANT", COURIER: "LOGISTICS", SUPPLIER: "PARTY", OTHER_SUPPLIER: "PARTY"}
GOODS, SHIPPING = RefundBasis.GOODS, RefundBasis.SHIPPING


def line(position: int, goods: dict[int, int], shipping: dict[int, int] | None = None) -> LineShares:
    """A line whose parties took `goods` (party id -> minor units) and `shipping` of it."""
    shipping = shipping or {}
    parties = sorted(set(goods) | set(shipping))
    return LineShares(
        position,
        sum(goods.values()),
        sum(shipping.values()),
        tuple(PartShare(party, ROLE_OF[party], goods.get(party, 0), shipping.get(party, 0)) for party in parties),
    )


def by_party(plan: RefundPlan) -> dict[tuple[int, RefundBasis], int]:
    totals: dict[tuple[int, RefundBasis], int] = {}
    for reversal in plan.reversals:
        totals[(reversal.party_id, reversal.basis)] = totals.get((reversal.party_id, reversal.basis), 0) + (
            reversal.amount_minor
        )
    return totals


def refund(amount_minor: int | None = None, *items: ItemRefund, include_shipping: bool = False) -> RefundRequest:
    return RefundRequest(amount_minor, tuple(items), include_shipping)


# --- worked examples --------------------------------------------------------------------------------------


def test_refunding_15_of_20_takes_1_50_from_the_platform_and_13_50_from_the_merchant():
    payment = [line(0, {PLATFORM: 200, MERCHANT: 1800})]

    plan = plan_refund(payment, {}, refund(1500))

    assert plan == RefundPlan(
        1500, (Reversal(0, GOODS, PLATFORM, "PLATFORM", 150), Reversal(0, GOODS, MERCHANT, "MERCHANT", 1350))
    )


def test_a_50_refund_of_a_three_way_split_reverses_exactly_50():
    payment = [line(0, {PLATFORM: 4875, MERCHANT: 4875, SUPPLIER: 250})]

    plan = plan_refund(payment, {}, refund(5000))

    assert plan.refunded_minor == 5000
    assert sum(reversal.amount_minor for reversal in plan.reversals) == 5000
    # 2437.5 / 2437.5 / 125: the one unit left over goes to the earlier of the two equal parts.
    assert by_party(plan) == {(PLATFORM, GOODS): 2438, (MERCHANT, GOODS): 2437, (SUPPLIER, GOODS): 125}


def test_an_amount_refund_without_shipping_leaves_the_courier_and_the_rest_takes_everything_back():
    payment = [line(0, {MERCHANT: 15000}, {COURIER: 800})]

    first = plan_refund(payment, {}, refund(5000))
    assert first == RefundPlan(5000, (Reversal(0, GOODS, MERCHANT, "MERCHANT", 5000),))

    reversed_minor = first.reversed_after({})
    assert refundable(payment, reversed_minor).total_minor == 10800
    rest = plan_refund(payment, reversed_minor, refund(10800))  # WHOLE_REFUND, though include_shipping is False
    assert rest == RefundPlan(
        10800, (Reversal(0, GOODS, MERCHANT, "MERCHANT", 10000), Reversal(0, SHIPPING, COURIER, "LOGISTICS", 800))
    )
    assert refundable(payment, rest.reversed_after(reversed_minor)).total_minor == 0


def test_an_amount_with_shipping_is_drawn_from_goods_and_shipping_in_proportion():
    payment = [line(0, {MERCHANT: 15000}, {COURIER: 800})]

    plan = plan_refund(payment, {}, refund(7900, include_shipping=True))

    assert by_party(plan) == {(MERCHANT, GOODS): 7500, (COURIER, SHIPPING): 400}


def test_an_amount_is_drawn_from_the_lines_in_proportion_to_what_is_left_of_their_goods():
    payment = [line(0, {PLATFORM: 100, MERCHANT: 900}), line(1, {PLATFORM: 300, MERCHANT: 2700}, {COURIER: 500})]

    plan = plan_refund(payment, {}, refund(2000))

    per_line = {position: sum(r.amount_minor for r in plan.reversals if r.position == position) for position in (0, 1)}
    assert per_line == {0: 500, 1: 1500}
    assert all(reversal.basis is GOODS for reversal in plan.reversals)


def test_refunding_a_line_item_with_shipping_takes_its_goods_and_its_part_of_the_shipping_fee_only():
    payment = [
        line(0, {PLATFORM: 100, MERCHANT: 900}, {COURIER: 200}),
        line(1, {PLATFORM: 300, MERCHANT: 2700}, {COURIER: 600}),
    ]

    plan = plan_refund(payment, {}, refund(None, ItemRefund(1), include_shipping=True))

    assert plan == RefundPlan(
        3600,
        (
            Reversal(1, GOODS, PLATFORM, "PLATFORM", 300),
            Reversal(1, GOODS, MERCHANT, "MERCHANT", 2700),
            Reversal(1, SHIPPING, COURIER, "LOGISTICS", 600),
        ),
    )
    assert refundable(payment, plan.reversed_after({})) == Refundable(
        1200, (LineRefundable(0, 1000, 200), LineRefundable(1, 0, 0))
    )


def test_a_partial_line_item_refund_without_shipping_leaves_the_courier():
    payment = [line(0, {PLATFORM: 100, MERCHANT: 900}, {COURIER: 200}), line(1, {MERCHANT: 500})]

    plan = plan_refund(payment, {}, refund(None, ItemRefund(0, 400)))

    assert by_party(plan) == {(PLATFORM, GOODS): 40, (MERCHANT, GOODS): 360}


def test_refundable_is_what_earlier_refunds_left_per_line_and_basis():
    payment = [line(0, {PLATFORM: 100, MERCHANT: 900}, {COURIER: 200}), line(1, {MERCHANT: 500})]
    reversed_minor: dict[ShareKey, int] = {
        (0, GOODS, MERCHANT, "MERCHANT"): 300,
        (0, SHIPPING, COURIER, "LOGISTICS"): 50,
    }

    left = refundable(payment, reversed_minor)

    assert left.total_minor == 1700 - 350
    assert [(entry.position, entry.goods_minor, entry.shipping_minor) for entry in left.lines] == [
        (0, 700, 150),
        (1, 500, 0),
    ]
    assert (left.goods_minor, left.shipping_minor) == (1200, 150)


def test_stored_reversals_may_name_the_basis_as_text():
    payment = [line(0, {PLATFORM: 200, MERCHANT: 1800})]

    assert refundable(payment, {(0, "GOODS", MERCHANT, "MERCHANT"): 1800}).total_minor == 200  # type: ignore[dict-item]


# --- REFUND_FROM_REMAINING_SHARES, and why not the cumulative method --------------------------------------


def test_the_cumulative_method_would_reverse_a_negative_amount():
    """DESIGN.md's cumulative method: allocate the cumulative refund over the shares, minus what was reversed.
    Largest remainders have the Alabama paradox, so a larger cumulative refund can give a party less."""
    shares = (4875, 4875, 250)  # 48.75 / 48.75 / 2.50

    after_first = allocate(15, shares)  # a refund of 0.15
    after_second = allocate(16, shares)  # then of 0.01 more

    assert after_first == (7, 7, 1)
    assert after_second == (8, 8, 0)
    assert [now - before for now, before in zip(after_second, after_first, strict=True)] == [1, 1, -1]


def cumulative_reversals(shares: list[int], refunds: list[int]) -> list[list[int]]:
    """Each refund's reversals by the cumulative method."""
    steps, before, cumulative = [], allocate(0, shares), 0
    for amount in refunds:
        cumulative += amount
        now = allocate(cumulative, shares)
        steps.append([part - earlier for part, earlier in zip(now, before, strict=True)])
        before = now
    return steps


def test_a_search_finds_series_of_refunds_the_cumulative_method_would_reverse_below_zero():
    """The property "never negative" fails for the cumulative method: hypothesis finds a counterexample."""
    series = st.lists(st.integers(1, 10_000), min_size=3, max_size=3).flatmap(
        lambda shares: st.tuples(
            st.just(shares),
            st.lists(st.integers(1, sum(shares)), min_size=1, max_size=4).filter(
                lambda refunds: sum(refunds) <= sum(shares)
            ),
        )
    )

    shares, refunds = find(
        series,
        lambda case: any(part < 0 for step in cumulative_reversals(*case) for part in step),
        settings=settings(max_examples=2_000, database=None, derandomize=True),
    )

    assert any(part < 0 for step in cumulative_reversals(shares, refunds) for part in step)


def test_the_same_two_refunds_cut_from_the_remaining_shares_reverse_nothing_negative():
    payment = [line(0, {PLATFORM: 4875, MERCHANT: 4875, SUPPLIER: 250})]

    first = plan_refund(payment, {}, refund(15))
    second = plan_refund(payment, first.reversed_after({}), refund(1))

    assert by_party(first) == {(PLATFORM, GOODS): 7, (MERCHANT, GOODS): 7, (SUPPLIER, GOODS): 1}
    assert [reversal.amount_minor for reversal in second.reversals] == [1]
    assert all(reversal.amount_minor > 0 for reversal in (*first.reversals, *second.reversals))


# --- errors a caller can cause ----------------------------------------------------------------------------

PAYMENT = [line(0, {MERCHANT: 15000}, {COURIER: 800}), line(1, {PLATFORM: 100, MERCHANT: 900})]


@pytest.mark.parametrize(
    ("request_", "code", "field"),
    [
        (refund(100, ItemRefund(0)), ErrorCode.INVALID_INPUT, "items"),
        (refund(None), ErrorCode.INVALID_INPUT, "amount"),
        (refund(0), ErrorCode.INVALID_AMOUNT, "amount"),
        (refund(-100), ErrorCode.NEGATIVE_AMOUNT, "amount"),
        (refund(16001), ErrorCode.INVALID_AMOUNT, "amount"),  # goods only: 160.00
        (refund(16801, include_shipping=True), ErrorCode.INVALID_AMOUNT, "amount"),
        (refund(None, ItemRefund(7)), ErrorCode.INVALID_INPUT, "items[0].lineItemId"),
        (refund(None, ItemRefund(0), ItemRefund(0, 5)), ErrorCode.INVALID_INPUT, "items[1].lineItemId"),
        (refund(None, ItemRefund(1, 1001)), ErrorCode.INVALID_AMOUNT, "items[0].amount"),
        (refund(None, ItemRefund(1, 0)), ErrorCode.INVALID_AMOUNT, "items[0].amount"),
        (refund(None, ItemRefund(1, -1)), ErrorCode.NEGATIVE_AMOUNT, "items[0].amount"),
    ],
)
def test_a_request_the_payment_cannot_take_is_refused_naming_the_field(request_, code, field):
    with pytest.raises(InvalidInput) as caught:
        plan_refund(PAYMENT, {}, request_)

    assert (caught.value.code, caught.value.field) == (code, field)


def test_an_amount_above_what_is_refundable_says_how_much_is():
    with pytest.raises(InvalidInput) as caught:
        plan_refund(PAYMENT, {}, refund(16001), currency="CNY")

    assert caught.value.message == (
        "amount: 160.01 CNY is more than the 160.00 CNY still refundable without the shipping fee (168.00 CNY with it)"
    )


def test_an_amount_between_the_goods_and_everything_is_refused_without_shipping_but_everything_is_not():
    with pytest.raises(InvalidInput):
        plan_refund(PAYMENT, {}, refund(16799))

    assert plan_refund(PAYMENT, {}, refund(16800)).refunded_minor == 16800


def test_every_mistake_in_the_items_is_reported_at_once():
    with pytest.raises(InvalidFields) as caught:
        plan_refund(PAYMENT, {}, refund(None, ItemRefund(9), ItemRefund(1, 5000), ItemRefund(1)))

    assert [error.field for error in caught.value.errors] == [
        "items[0].lineItemId",
        "items[1].amount",
        "items[2].lineItemId",
    ]


def test_nothing_is_left_to_refund_after_a_full_refund():
    everything = plan_refund(PAYMENT, {}, refund(16800)).reversed_after({})

    with pytest.raises(InvalidInput, match="nothing is left"):
        plan_refund(PAYMENT, everything, refund(1))
    with pytest.raises(InvalidInput, match="nothing is left") as caught:
        plan_refund(PAYMENT, everything, refund(None, ItemRefund(1), include_shipping=True))
    assert caught.value.field == "items[0].lineItemId"


def test_a_refunded_line_item_with_its_shipping_fee_left_refunds_the_fee_when_asked():
    goods_gone = plan_refund(PAYMENT, {}, refund(None, ItemRefund(0))).reversed_after({})

    with pytest.raises(InvalidInput, match="nothing is left"):
        plan_refund(PAYMENT, goods_gone, refund(None, ItemRefund(0)))
    plan = plan_refund(PAYMENT, goods_gone, refund(None, ItemRefund(0), include_shipping=True))
    assert plan == RefundPlan(800, (Reversal(0, SHIPPING, COURIER, "LOGISTICS", 800),))


# --- broken stored data -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: LineShares(
            0, 2000, 0, (PartShare(PLATFORM, "PLATFORM", 200, 0), PartShare(MERCHANT, "MERCHANT", 1700, 0))
        ),
        lambda: LineShares(0, 100, 10, (PartShare(MERCHANT, "MERCHANT", 100, 0),)),
        lambda: LineShares(
            0, 100, 0, (PartShare(MERCHANT, "MERCHANT", 150, 0), PartShare(PLATFORM, "PLATFORM", -50, 0))
        ),
        lambda: LineShares(0, 100, 0, (PartShare(MERCHANT, "MERCHANT", 50, 0), PartShare(MERCHANT, "MERCHANT", 50, 0))),
        lambda: LineShares(0, 100, 0, (PartShare(MERCHANT, "SELLER", 100, 0),)),
    ],
)
def test_shares_that_do_not_add_up_to_the_line_are_refused(build):
    with pytest.raises(RefundInvariantViolation):
        build()


@pytest.mark.parametrize(
    "reversed_minor",
    [
        {(0, GOODS, MERCHANT, "MERCHANT"): 1801},
        {(0, GOODS, MERCHANT, "MERCHANT"): -1},
        {(0, SHIPPING, COURIER, "LOGISTICS"): 1},
        {(3, GOODS, MERCHANT, "MERCHANT"): 1},
        {(0, "FEES", MERCHANT, "MERCHANT"): 1},
    ],
)
def test_stored_reversals_past_a_share_or_of_no_share_are_refused(reversed_minor):
    payment = [line(0, {PLATFORM: 200, MERCHANT: 1800})]

    with pytest.raises(RefundInvariantViolation):
        plan_refund(payment, reversed_minor, refund(100))


def test_a_line_position_given_twice_is_refused():
    with pytest.raises(RefundInvariantViolation):
        refundable([line(0, {MERCHANT: 100}), line(0, {MERCHANT: 100})], {})


def test_postconditions_are_raised_under_python_dash_o():
    """A broken allocation is caught by the plan's own checks even when asserts are stripped."""
    script = (
        "import domain.refunds as r\n"
        "r.allocate = lambda total, weights: (total + 1,) + (0,) * (len(weights) - 1)\n"
        "line = r.LineShares(0, 2000, 0, (r.PartShare(1, 'PLATFORM', 200, 0), r.PartShare(2, 'MERCHANT', 1800, 0)))\n"
        "try:\n"
        "    r.plan_refund([line], {}, r.RefundRequest(1500))\n"
        "except r.RefundInvariantViolation as exc:\n"
        "    print('refused:', exc)\n"
        "try:\n"
        "    r.LineShares(0, 2000, 0, (r.PartShare(1, 'PLATFORM', 200, 0),))\n"
        "except r.RefundInvariantViolation as exc:\n"
        "    print('refused:', exc)\n"
    )
    result = run_with_asserts_stripped(script)

    assert result.stdout.count("refused:") == 2, result.stdout + result.stderr


# --- properties -------------------------------------------------------------------------------------------

# Small amounts make remainders (and the Alabama paradox) common; large ones are what payments look like.
amounts = st.one_of(st.integers(0, 40), st.integers(0, 200_000))


@st.composite
def cut(draw: st.DrawFn, total: int, parts: int) -> list[int]:
    """`total` cut into `parts` arbitrary non-negative parts."""
    cuts = sorted(draw(st.lists(st.integers(0, total), min_size=parts - 1, max_size=parts - 1)))
    return [high - low for low, high in zip([0, *cuts], [*cuts, total], strict=True)]


@st.composite
def payments(draw: st.DrawFn) -> list[LineShares]:
    positions = draw(st.lists(st.integers(0, 50), min_size=1, max_size=4, unique=True))
    lines = []
    for position in positions:
        goods, shipping = draw(amounts), draw(st.one_of(st.just(0), amounts))
        parties = draw(st.lists(st.sampled_from(sorted(ROLE_OF)), min_size=1, max_size=5, unique=True))
        goods_parts = draw(cut(goods, len(parties)))
        shipping_parts = draw(cut(shipping, len(parties)))
        shares = tuple(
            PartShare(party, ROLE_OF[party], goods_part, shipping_part)
            for party, goods_part, shipping_part in zip(parties, goods_parts, shipping_parts, strict=True)
        )
        lines.append(LineShares(position, goods, shipping, shares))
    return lines


def request_for(data: st.DataObject, left: Refundable) -> RefundRequest:
    """A valid request for what is left: by amount or by items, with or without the shipping fee."""
    include_shipping = data.draw(st.booleans(), label="include_shipping")
    if data.draw(st.booleans(), label="by amount"):
        limit = left.total_minor if include_shipping else left.goods_minor
        if not limit:
            return refund(left.total_minor, include_shipping=include_shipping)  # WHOLE_REFUND
        # Small refunds in a row are where largest remainders misbehave (the Alabama paradox).
        small = st.integers(1, min(limit, 30))
        amount = data.draw(st.one_of(small, st.integers(1, limit), st.just(left.total_minor)), label="amount")
        return refund(amount, include_shipping=include_shipping)
    open_lines = [entry for entry in left.lines if entry.goods_minor or (include_shipping and entry.shipping_minor)]
    if not open_lines:
        return refund(left.total_minor, include_shipping=include_shipping)
    chosen = data.draw(st.lists(st.sampled_from(open_lines), min_size=1, unique_by=lambda entry: entry.position))
    items = []
    for entry in chosen:
        partial = entry.goods_minor and data.draw(st.booleans(), label="partial item")
        item_amounts = st.one_of(st.integers(1, min(entry.goods_minor, 30)), st.integers(1, entry.goods_minor))
        amount = data.draw(item_amounts, label="item amount") if partial else None
        items.append(ItemRefund(entry.position, amount))
    return refund(None, *items, include_shipping=include_shipping)


def remaining_part(lines: list[LineShares], reversed_minor: dict[ShareKey, int], key: ShareKey) -> int:
    position, basis, party_id, role = key
    for entry in lines:
        for share in entry.shares:
            if (entry.position, share.party_id, share.role) == (position, party_id, role):
                return share.part(basis) - reversed_minor.get(key, 0)
    return 0


def check_plan(lines: list[LineShares], reversed_minor: dict[ShareKey, int], request: RefundRequest) -> RefundPlan:
    left = refundable(lines, reversed_minor)
    plan = plan_refund(lines, reversed_minor, request)

    # (a) never negative, never past what is left of a party's part of that line and basis
    for reversal in plan.reversals:
        assert 0 < reversal.amount_minor <= remaining_part(lines, reversed_minor, reversal.key)
    # (b) the reversals add up to exactly what is refunded, and that is what was asked
    assert sum(reversal.amount_minor for reversal in plan.reversals) == plan.refunded_minor
    if request.amount_minor is not None:
        assert plan.refunded_minor == request.amount_minor
    else:
        by_position = {entry.position: entry for entry in left.lines}
        assert plan.refunded_minor == sum(
            (item.amount_minor or by_position[item.position].goods_minor)
            + (by_position[item.position].shipping_minor if request.include_shipping else 0)
            for item in request.items
        )
    # (d) shipping parts only with include_shipping or when everything is refunded
    if not request.include_shipping and request.amount_minor != left.total_minor:
        assert all(reversal.basis is GOODS for reversal in plan.reversals)
    # (e) the same plan whatever the order of the lines and of the stored reversals
    again = plan_refund(list(reversed(lines)), dict(reversed(list(reversed_minor.items()))), request)
    assert again == plan
    return plan


@settings(max_examples=300, deadline=None)
@given(lines=payments(), data=st.data())
def test_any_series_of_refunds_that_empties_the_payment_reverses_every_share_exactly(lines, data):
    reversed_minor: dict[ShareKey, int] = {}
    for _ in range(data.draw(st.integers(0, 8), label="partial refunds")):
        left = refundable(lines, reversed_minor)
        if not left.total_minor:
            break
        reversed_minor = check_plan(lines, reversed_minor, request_for(data, left)).reversed_after(reversed_minor)

    left = refundable(lines, reversed_minor)
    if left.total_minor:
        # The end: the rest by amount (WHOLE_REFUND), or every line item with its shipping fee.
        if data.draw(st.booleans(), label="end by amount"):
            last = refund(left.total_minor, include_shipping=data.draw(st.booleans()))
        else:
            open_lines = [entry for entry in left.lines if entry.goods_minor or entry.shipping_minor]
            last = refund(None, *(ItemRefund(entry.position) for entry in open_lines), include_shipping=True)
        reversed_minor = check_plan(lines, reversed_minor, last).reversed_after(reversed_minor)

    # (c) nothing is left, and every party got back exactly its parts
    assert refundable(lines, reversed_minor).total_minor == 0
    for entry in lines:
        for share in entry.shares:
            for basis in RefundBasis:
                assert reversed_minor.get((entry.position, basis, share.party_id, share.role), 0) == share.part(basis)


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(st.integers(0, 30), min_size=3, max_size=5).filter(any), data=st.data())
def test_small_refunds_in_a_row_on_three_or_more_parties_never_reverse_a_negative_amount(parts, data):
    """Where the cumulative method fails (test_a_search_finds_...): refunds of a few units until nothing is left."""
    shares = tuple(
        PartShare(party, ROLE_OF[party], part, 0)
        for party, part in zip(sorted(ROLE_OF)[: len(parts)], parts, strict=True)
    )
    payment = [LineShares(0, sum(parts), 0, shares)]
    reversed_minor: dict[ShareKey, int] = {}
    while left := refundable(payment, reversed_minor).total_minor:
        amount = data.draw(st.integers(1, min(left, 12)), label="amount")
        reversed_minor = check_plan(payment, reversed_minor, refund(amount)).reversed_after(reversed_minor)

    assert reversed_minor == {
        (0, GOODS, share.party_id, share.role): share.goods_minor for share in shares if share.goods_minor
    }


@settings(max_examples=200, deadline=None)
@given(lines=payments(), data=st.data())
def test_an_amount_refund_without_shipping_never_touches_a_shipping_part_unless_it_is_everything(lines, data):
    left = refundable(lines, {})
    if not left.shipping_minor or not left.goods_minor:
        return
    # At most the goods, so less than everything: WHOLE_REFUND does not apply.
    plan = check_plan(lines, {}, refund(data.draw(st.integers(1, left.goods_minor)), include_shipping=False))

    assert all(reversal.basis is GOODS for reversal in plan.reversals)


@settings(max_examples=200, deadline=None)
@given(lines=payments(), data=st.data())
def test_a_line_refund_is_cut_within_one_unit_of_each_partys_exact_share(lines, data):
    left = refundable(lines, {})
    if not left.goods_minor:
        return
    amount = data.draw(st.integers(1, left.goods_minor))
    plan = plan_refund(lines, {}, refund(amount))

    for entry in lines:
        line_refund = sum(r.amount_minor for r in plan.reversals if r.position == entry.position)
        for share in entry.shares:
            reversed_part = sum(
                r.amount_minor
                for r in plan.reversals
                if (r.position, r.party_id, r.role) == (entry.position, share.party_id, share.role)
            )
            # |reversed - line_refund x part / goods| < 1, in integers
            assert abs(reversed_part * entry.goods_minor - line_refund * share.goods_minor) < max(entry.goods_minor, 1)
