"""Money: exact parsing of decimal text, the one allocation function, and the amounts of a payment."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import ErrorCode, InvalidFields, InvalidInput
from domain.money import Money, allocate, parse_amount
from domain.payments import LineItemInput, PaymentInput, normalize_payment
from tests.python_dash_o import run_with_asserts_stripped


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("150.00", "CNY", 15000),
        ("150", "CNY", 15000),
        ("0.05", "CNY", 5),
        ("1.5", "USD", 150),
        ("100", "JPY", 100),
        ("1.234", "KWD", 1234),
        (" 12.30 ", "cny", 1230),
        (7, "EUR", 700),
        (Decimal("19.99"), "USD", 1999),
    ],
)
def test_decimal_text_parses_into_exact_minor_units(text, currency, minor):
    assert parse_amount(text, currency).amount_minor == minor


@pytest.mark.parametrize(
    ("text", "currency", "code"),
    [
        ("1.001", "CNY", ErrorCode.TOO_MANY_DECIMALS),
        ("1.000", "CNY", ErrorCode.TOO_MANY_DECIMALS),
        ("100.5", "JPY", ErrorCode.TOO_MANY_DECIMALS),
        ("1.2345", "KWD", ErrorCode.TOO_MANY_DECIMALS),
        ("-1.00", "CNY", ErrorCode.NEGATIVE_AMOUNT),
        ("1e3", "CNY", ErrorCode.INVALID_AMOUNT),
        ("1,000.00", "CNY", ErrorCode.INVALID_AMOUNT),
        ("", "CNY", ErrorCode.INVALID_AMOUNT),
        ("NaN", "CNY", ErrorCode.INVALID_AMOUNT),
        ("1.00", "XYZ", ErrorCode.UNKNOWN_CURRENCY),
        ("1.00", "", ErrorCode.UNKNOWN_CURRENCY),
        ("10000000000000.01", "CNY", ErrorCode.AMOUNT_TOO_LARGE),
    ],
)
def test_bad_amounts_are_rejected_with_a_code_and_never_rounded(text, currency, code):
    with pytest.raises(InvalidInput) as caught:
        parse_amount(text, currency)
    assert caught.value.code == code
    assert caught.value.message


def test_floats_are_refused_even_when_they_look_exact():
    with pytest.raises(InvalidInput) as caught:
        parse_amount(1.5, "CNY")  # type: ignore[arg-type]
    assert "not as floating-point" in caught.value.message


def test_negative_amounts_parse_only_when_allowed():
    assert parse_amount("-0.05", "CNY", allow_negative=True).amount_minor == -5


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (15000, "CNY", "150.00"),
        (5, "CNY", "0.05"),
        (-5, "CNY", "-0.05"),
        (100, "JPY", "100"),
        (1234, "KWD", "1.234"),
        (0, "USD", "0.00"),
    ],
)
def test_money_formats_with_exactly_the_currency_decimals(minor, currency, text):
    money = Money(minor, currency)
    assert money.format() == text
    assert str(money.to_decimal()) == text


def test_worked_example_two_percent_commission_on_150():
    # 150.00 with a 2 % commission: 3.00 to the platform, 147.00 to the merchant.
    platform, merchant = allocate(15000, [200, 9800])
    assert (platform, merchant) == (300, 14700)


def test_worked_example_five_cents_split_seventy_thirty():
    assert allocate(5, [70, 30]) == (4, 1)


def test_one_cent_over_three_equal_parts_goes_to_the_first():
    assert allocate(100, [1, 1, 1]) == (34, 33, 33)
    assert allocate(1, [1, 1, 1]) == (1, 0, 0)


def test_negative_totals_mirror_the_positive_split():
    assert allocate(-5, [70, 30]) == (-4, -1)


@pytest.mark.parametrize("weights", [[], [0, 0], [1, -1]])
def test_allocate_refuses_meaningless_weights(weights):
    with pytest.raises(ValueError):
        allocate(100, weights)


amounts = st.integers(min_value=-(10**15), max_value=10**15)
weight_lists = st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12).filter(any)


@given(total=amounts, weights=weight_lists)
def test_allocate_conserves_the_total(total, weights):
    assert sum(allocate(total, weights)) == total


@given(total=amounts, weights=weight_lists)
def test_each_part_is_within_one_unit_of_its_exact_share(total, weights):
    parts = allocate(total, weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Fraction(total * weight, sum(weights))
        assert abs(part - exact) < 1


@given(total=amounts, weights=weight_lists)
def test_allocate_is_deterministic_and_gives_zero_weights_nothing(total, weights):
    first = allocate(total, weights)
    assert first == allocate(total, list(weights))
    assert all(part == 0 for part, weight in zip(first, weights, strict=True) if weight == 0)


@given(total=st.integers(min_value=0, max_value=10**12), weights=weight_lists)
def test_parts_of_a_positive_total_are_never_negative(total, weights):
    assert all(part >= 0 for part in allocate(total, weights))


@given(minor=st.integers(min_value=0, max_value=10**15), currency=st.sampled_from(["CNY", "JPY", "KWD", "USD"]))
def test_formatting_and_parsing_round_trip(minor, currency):
    assert parse_amount(Money(minor, currency).format(), currency).amount_minor == minor


def test_ties_go_to_the_larger_weight_whatever_the_order():
    assert allocate(5, [30, 70]) == (1, 4)
    assert allocate(5, [70, 30]) == (4, 1)


@pytest.mark.parametrize(
    "amount",
    [Decimal("1E+999999999"), Decimal("1E-999999999"), "9" * 5000, int("9" * 4000), "\uff11\uff15\uff10.\uff10\uff10"],
    ids=["huge-exponent", "tiny-exponent", "5000-digit-text", "4000-digit-int", "fullwidth-digits"],
)
def test_an_amount_out_of_range_or_in_other_digits_is_invalid_without_building_it(amount):
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as caught:
        parse_amount(amount, "CNY", field="totalAmount")
    assert caught.value.code == ErrorCode.INVALID_AMOUNT and caught.value.field == "totalAmount"
    assert time.perf_counter() - started < 0.1


def _payment(**overrides):
    fields = {
        "idempotency_key": "key-1",
        "merchant_id": 1,
        "external_order_id": "order-1",
        "currency": "CNY",
        "total_amount": "10.55",
        "line_items": [LineItemInput("tea", "tea", "10.55", 1)],
        "paid_at": datetime(2026, 1, 1, tzinfo=UTC),
        "shipping_fee": "0",
    }
    return PaymentInput(**(fields | overrides))


def test_a_payment_of_zero_is_refused():
    with pytest.raises(InvalidInput) as caught:
        normalize_payment(_payment(total_amount="0.00", line_items=[LineItemInput("gift", "tea", "0.00", 1)]))
    assert (caught.value.code, caught.value.field) == (ErrorCode.INVALID_PAYMENT, "totalAmount")


def test_a_total_mismatch_is_told_in_major_units():
    with pytest.raises(InvalidInput) as caught:
        normalize_payment(_payment(total_amount="1.00"))
    assert caught.value.message == "totalAmount is 1.00 but the line items and shipping fee add up to 10.55"


def test_every_field_at_fault_is_reported_together():
    with pytest.raises(InvalidFields) as caught:
        normalize_payment(_payment(shipping_fee="-1", region=" ", line_items=[LineItemInput("", "tea", "1.001", 0)]))
    assert [error.field for error in caught.value.errors] == [
        "lineItems[0].quantity",
        "lineItems[0].unitAmount",
        "lineItems[0].sku",
        "shippingFee",
        "region",
    ]
    assert caught.value.field == "lineItems[0].quantity"


def test_amounts_in_refusals_speak_in_major_units():
    from domain.ledger import AccountKey, Bucket
    from domain.rules import Basis, BeneficiaryKind, Computation, Conditions, Leg, RuleDraft, validate_rule
    from domain.services.ledger import InsufficientFunds

    shortage = InsufficientFunds(AccountKey("CNY", party_id=1, bucket=Bucket.AVAILABLE), 105, 1055)
    assert "holds 1.05 CNY; 10.55 are needed" in shortage.message
    fixed_fee = Leg(BeneficiaryKind.PLATFORM, Basis.ITEM_AMOUNT, Computation(fixed_minor=500))
    with pytest.raises(InvalidInput) as caught:
        validate_rule(RuleDraft(0, Conditions(min_amount_minor=1000, currency="CNY"), (fixed_fee,)))
    assert caught.value.message == (
        "at the smallest order amount this rule applies to (10.00 CNY) its legs take 5.00 CNY, above the "
        "merchant-share cap of 3.00 CNY"
    )


def test_money_refuses_a_float_or_a_bool_amount_even_under_python_dash_o():
    script = (
        "from domain.money import Money\n"
        "for bad in (1.5, True):\n"
        "    try:\n"
        "        Money(bad, 'CNY')\n"
        "        print('accepted', bad)\n"
        "    except TypeError:\n"
        "        print('refused')\n"
    )
    result = run_with_asserts_stripped(script)
    assert result.stdout.split() == ["refused", "refused"], result.stdout + result.stderr
