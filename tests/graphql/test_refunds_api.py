"""Refunds through the API: a merchant refunds its own payment by amount or by line item, with or without the
shipping fee; each party sees only what it gave back; mistakes are typed errors; nobody sees another's refunds.

Merchant A's payments here are split by a rule of this module: the platform takes 10 % of the goods, the merchant
the rest, and courier A the shipping fee (the default). A payment of 158.00 is 150.00 of goods (platform 15.00,
merchant 135.00) and 8.00 of shipping, all still held in escrow.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.rules import Basis, BeneficiaryKind, Computation, Conditions, Leg, RuleDraft
from domain.services import rules
from tests.conftest import Api, activate_newest_version, gid, graphql_payment_input, operator_principal

CATEGORY = f"refund-tea-{secrets.token_hex(3)}"

RECORD = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  __typename ... on RecordPaymentSuccess { payment { id lineItems { id position sku } } } } }"""
REFUND_FIELDS = """id paymentId amount { amount currency } includeShipping reason journalEntryId
  reversals { partyId role basis linePosition amount { amount currency } }"""
CREATE = f"""mutation($input: CreateRefundInput!) {{ createRefund(input: $input) {{
  __typename
  ... on CreateRefundSuccess {{ replayed refund {{ {REFUND_FIELDS} }} }}
  ... on UserError {{ code message field }}
  ... on ValidationError {{ errors {{ code field }} }} }} }}"""
REFUND = f"query($id: ID!) {{ refund(id: $id) {{ {REFUND_FIELDS} }} }}"
NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
LIST = "query($payment: ID) { refunds(first: 100, paymentId: $payment) { edges { node { id } } } }"
PAYMENT = """query($id: ID!) { payment(id: $id) {
  refunds { id amount { amount } }
  refundable { total { amount } goods { amount } shipping { amount }
    lines { lineItemId position goods { amount } shipping { amount } } } } }"""
ENTRY = (
    "query($id: ID!) { node(id: $id) { ... on JournalEntry { kind postings { partyId bucket amount { amount } } } } }"
)


def type_of(global_id: str) -> str:
    return base64.b64decode(global_id).decode().split(":")[0]


@pytest.fixture(scope="module")
async def commission(world, runtime) -> None:
    """A rule for merchant A's goods of CATEGORY: 10 % to the platform (the shipping fee stays the courier's)."""
    operator = operator_principal(world.platform_id)
    ten_percent = (Leg(BeneficiaryKind.PLATFORM, Basis.ITEM_AMOUNT, Computation(rate_bps=1000)),)
    conditions = Conditions(merchant_ids=frozenset({world.merchant_a_id}), categories=frozenset({CATEGORY}))
    created = await rules.create_rule(
        operator,
        runtime,
        rules.RuleInput(
            f"Refund tests {CATEGORY}", None, RuleDraft(10, conditions, ten_percent), datetime(2020, 1, 1, tzinfo=UTC)
        ),
    )
    await activate_newest_version(operator, runtime, created.id)


@pytest.fixture
async def pay(client_for, world, commission):
    """pay() -> a fresh payment of merchant A carried by courier A: 3 teas at 50.00 and 8.00 shipping unless told."""

    async def make(**overrides: Any) -> dict[str, Any]:
        operations = await client_for("platform_operations")
        lines = [{"sku": "tea-1", "category": CATEGORY, "unitAmount": "50.00", "quantity": 3}]
        data = graphql_payment_input(world.merchant_a_id, world.logistics_a_id, lineItems=lines)
        recorded = (await operations.execute(RECORD, {"input": data | overrides}))["recordPayment"]
        assert recorded["__typename"] == "RecordPaymentSuccess", recorded
        return recorded["payment"]

    return make


async def refund(api: Api, payment: dict[str, Any], **fields: Any) -> dict[str, Any]:
    data = {"paymentId": payment["id"], "reason": "damaged in transit", "idempotencyKey": secrets.token_hex(8)}
    return (await api.execute(CREATE, {"input": data | fields}))["createRefund"]


async def refundable(api: Api, payment: dict[str, Any]) -> dict[str, Any]:
    return (await api.execute(PAYMENT, {"id": payment["id"]}))["payment"]


def reversal(party: str, role: str, basis: str, amount: str, position: int = 0) -> dict[str, Any]:
    return {
        "partyId": party,
        "role": role,
        "basis": basis,
        "linePosition": position,
        "amount": {"amount": amount, "currency": "CNY"},
    }


# --- refunding ---------------------------------------------------------------------------------------------


async def test_a_merchant_admin_refunds_part_of_its_own_payment_by_amount_and_sees_only_its_own_reversal(
    client_for, world, pay
):
    merchant, finance = await client_for("merchant_admin"), await client_for("platform_finance")
    payment = await pay()

    made = await refund(merchant, payment, amount="30.00")

    assert made["__typename"] == "CreateRefundSuccess", made
    assert not made["replayed"]
    created = made["refund"]
    assert type_of(created["id"]) == "Refund" and type_of(created["journalEntryId"]) == "JournalEntry"
    assert (created["paymentId"], created["amount"], created["includeShipping"], created["reason"]) == (
        payment["id"],
        {"amount": "30.00", "currency": "CNY"},
        False,
        "damaged in transit",
    )
    own = reversal(gid("Merchant", world.merchant_a_id), "MERCHANT", "GOODS", "27.00")
    assert created["reversals"] == [own]
    platform = reversal(gid("Platform", world.platform_id), "PLATFORM", "GOODS", "3.00")
    seen_by_platform = (await finance.execute(REFUND, {"id": created["id"]}))["refund"]["reversals"]
    assert sorted(seen_by_platform, key=lambda r: r["role"]) == [own, platform]


async def test_a_refund_by_line_item_takes_back_that_line_only(client_for, world, pay):
    merchant = await client_for("merchant_admin")
    lines = [
        {"sku": "tea-1", "category": CATEGORY, "unitAmount": "50.00", "quantity": 3},
        {"sku": "cup-1", "category": CATEGORY, "unitAmount": "20.00", "quantity": 1},
    ]
    payment = await pay(lineItems=lines, totalAmount="178.00")
    cup = next(line for line in payment["lineItems"] if line["sku"] == "cup-1")
    tea = next(line for line in payment["lineItems"] if line["sku"] == "tea-1")
    assert type_of(cup["id"]) == "PaymentLine" and cup["id"] != tea["id"]

    whole_line = await refund(merchant, payment, items=[{"lineItemId": cup["id"]}])
    part_of_line = await refund(merchant, payment, items=[{"lineItemId": tea["id"], "amount": "10.00"}])

    assert whole_line["refund"]["amount"]["amount"] == "20.00"
    assert whole_line["refund"]["reversals"] == [
        reversal(gid("Merchant", world.merchant_a_id), "MERCHANT", "GOODS", "18.00", cup["position"])
    ]
    assert part_of_line["refund"]["amount"]["amount"] == "10.00"
    assert {r["linePosition"] for r in part_of_line["refund"]["reversals"]} == {tea["position"]}
    left = (await refundable(merchant, payment))["refundable"]
    by_position = {line["position"]: line for line in left["lines"]}
    assert by_position[cup["position"]]["goods"]["amount"] == "0.00"
    assert by_position[cup["position"]]["lineItemId"] == cup["id"]
    assert by_position[tea["position"]]["goods"]["amount"] == "140.00"
    assert left["shipping"]["amount"] == "8.00"  # no shipping without includeShipping


async def test_the_courier_gives_back_its_shipping_share_only_when_the_refund_includes_shipping(client_for, world, pay):
    merchant, finance = await client_for("merchant_admin"), await client_for("platform_finance")
    courier = await client_for("logistics_partner")
    payment = await pay()
    [line] = payment["lineItems"]

    without = (await refund(merchant, payment, amount="50.00"))["refund"]
    with_shipping = (await refund(merchant, payment, items=[{"lineItemId": line["id"]}], includeShipping=True))[
        "refund"
    ]

    without_roles = {r["role"] for r in (await finance.execute(REFUND, {"id": without["id"]}))["refund"]["reversals"]}
    assert without_roles == {"PLATFORM", "MERCHANT"}
    assert with_shipping["amount"]["amount"] == "108.00" and with_shipping["includeShipping"]
    all_reversals = (await finance.execute(REFUND, {"id": with_shipping["id"]}))["refund"]["reversals"]
    courier_reversal = reversal(gid("LogisticsPartner", world.logistics_a_id), "LOGISTICS", "SHIPPING", "8.00")
    assert courier_reversal in all_reversals
    # The courier follows its money in the ledger too: the refund that did not touch its share is not an entry of
    # its accounts; the one that did shows its own posting only, out of escrow.
    assert (await courier.execute(ENTRY, {"id": without["journalEntryId"]}))["node"] is None
    entry = (await courier.execute(ENTRY, {"id": with_shipping["journalEntryId"]}))["node"]
    assert entry["kind"] == "REFUND"
    assert [(p["partyId"], p["bucket"]) for p in entry["postings"]] == [
        (gid("LogisticsPartner", world.logistics_a_id), "PENDING")
    ]
    assert entry["postings"][0]["amount"] == {"amount": "8.00"}  # a debit: out of its PENDING balance


async def test_a_courier_reads_the_refunds_of_what_it_carried_and_only_its_own_reversal(client_for, world, pay):
    merchant = await client_for("merchant_admin")
    courier = await client_for("logistics_partner")
    payment = await pay()
    goods_only = (await refund(merchant, payment, amount="50.00"))["refund"]
    everything = (await refund(merchant, payment, amount="108.00"))["refund"]  # the rest: the shipping fee too
    query = f"""query($id: ID!, $payment: ID!) {{ refund(id: $id) {{ {REFUND_FIELDS} }}
      payment(id: $payment) {{ refunds {{ id }} refundable {{ total {{ amount }} }} }} }}"""

    seen_goods = await courier.execute(query, {"id": goods_only["id"], "payment": payment["id"]})
    seen_all = await courier.execute(query, {"id": everything["id"], "payment": payment["id"]})

    assert seen_goods["refund"]["reversals"] == []  # a goods refund takes nothing from the courier
    assert seen_all["refund"]["reversals"] == [
        reversal(gid("LogisticsPartner", world.logistics_a_id), "LOGISTICS", "SHIPPING", "8.00")
    ]
    assert {r["id"] for r in seen_all["payment"]["refunds"]} == {goods_only["id"], everything["id"]}
    assert seen_all["payment"]["refundable"] is None  # it does not see the line items' amounts


async def test_refundable_goes_down_and_a_series_of_refunds_returns_every_share_exactly(client_for, world, pay):
    merchant, finance = await client_for("merchant_admin"), await client_for("platform_finance")
    payment = await pay()
    before = (await refundable(merchant, payment))["refundable"]
    assert (before["total"], before["goods"], before["shipping"]) == (
        {"amount": "158.00"},
        {"amount": "150.00"},
        {"amount": "8.00"},
    )

    first = await refund(merchant, payment, amount="33.33")
    after_first = (await refundable(merchant, payment))["refundable"]
    rest = await refund(merchant, payment, amount=after_first["total"]["amount"])  # a whole refund
    after_all = await refundable(merchant, payment)

    assert (after_first["total"], after_first["goods"], after_first["shipping"]) == (
        {"amount": "124.67"},
        {"amount": "116.67"},
        {"amount": "8.00"},
    )
    assert after_all["refundable"]["total"] == {"amount": "0.00"}
    assert [r["id"] for r in after_all["refunds"]] == [rest["refund"]["id"], first["refund"]["id"]]  # newest first
    given_back: dict[str, int] = {}
    for made in (first, rest):
        for r in (await finance.execute(REFUND, {"id": made["refund"]["id"]}))["refund"]["reversals"]:
            given_back[r["role"]] = given_back.get(r["role"], 0) + round(float(r["amount"]["amount"]) * 100)
    assert given_back == {"PLATFORM": 1500, "MERCHANT": 13500, "LOGISTICS": 800}
    nothing_left = await refund(merchant, payment, amount="0.01")
    assert (nothing_left["__typename"], nothing_left["field"]) == ("ValidationError", "amount")


# --- mistakes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"amount": "150.01"}, "INVALID_AMOUNT", "amount"),  # more than the goods, without includeShipping
        ({"amount": "158.01", "includeShipping": True}, "INVALID_AMOUNT", "amount"),
        ({"amount": "1.005"}, "TOO_MANY_DECIMALS", "amount"),
        ({"amount": "0"}, "INVALID_AMOUNT", "amount"),
        ({"amount": "-1.00"}, "NEGATIVE_AMOUNT", "amount"),
        ({}, "INVALID_INPUT", "amount"),
        ({"reason": "   "}, "INVALID_INPUT", "reason"),
        ({"idempotencyKey": ""}, "INVALID_INPUT", "idempotencyKey"),
        ({"items": [{"lineItemId": "LINE", "amount": "150.01"}]}, "INVALID_AMOUNT", "items[0].amount"),
        ({"items": [{"lineItemId": "LINE", "amount": "0.001"}]}, "TOO_MANY_DECIMALS", "items[0].amount"),
        ({"items": [{"lineItemId": "LINE", "amount": "-5"}]}, "NEGATIVE_AMOUNT", "items[0].amount"),
        ({"items": [{"lineItemId": "LINE"}], "amount": "1.00"}, "INVALID_INPUT", "items"),
        ({"items": [{"lineItemId": "LINE"}, {"lineItemId": "LINE"}]}, "INVALID_INPUT", "items[1].lineItemId"),
        ({"items": [{"lineItemId": "OTHER_PAYMENTS_LINE"}]}, "INVALID_INPUT", "items[0].lineItemId"),
        ({"items": [{"lineItemId": "NOT_A_NUMBER"}]}, "INVALID_ID", "items[0].lineItemId"),
        ({"items": [{"lineItemId": "A_PAYMENT_ID"}]}, "INVALID_ID", "items[0].lineItemId"),
    ],
)
async def test_a_refund_that_breaks_a_rule_is_a_validation_error_naming_the_field_and_writes_nothing(
    client_for, pay, fields, code, field
):
    merchant = await client_for("merchant_admin")
    payment, other = await pay(), await pay()
    ids = {
        "LINE": payment["lineItems"][0]["id"],
        "OTHER_PAYMENTS_LINE": other["lineItems"][0]["id"],
        "NOT_A_NUMBER": gid("PaymentLine", "x1"),
        "A_PAYMENT_ID": payment["id"],
    }
    items = [item | {"lineItemId": ids[item["lineItemId"]]} for item in fields.get("items", [])]
    data = {"paymentId": payment["id"], "reason": "damaged", "idempotencyKey": secrets.token_hex(8)} | fields
    if items:
        data["items"] = items

    refused = (await merchant.execute(CREATE, {"input": data}))["createRefund"]

    assert (refused["__typename"], refused["code"], refused["field"]) == ("ValidationError", code, field), refused
    after = await refundable(merchant, payment)
    assert after["refunds"] == [] and after["refundable"]["total"] == {"amount": "158.00"}


async def test_every_mistake_in_the_items_is_reported_at_once(client_for, pay):
    merchant = await client_for("merchant_admin")
    payment, other = await pay(), await pay()
    items = [
        {"lineItemId": payment["lineItems"][0]["id"], "amount": "1.001"},
        {"lineItemId": other["lineItems"][0]["id"]},
    ]

    refused = await refund(merchant, payment, items=items, reason="")

    assert {(e["code"], e["field"]) for e in refused["errors"]} == {
        ("TOO_MANY_DECIMALS", "items[0].amount"),
        ("INVALID_INPUT", "items[1].lineItemId"),
        ("INVALID_INPUT", "reason"),
    }


async def test_a_merchant_cannot_refund_another_merchants_payment(client_for, world, pay):
    other_merchant = await client_for("other_merchant_admin")
    payment = await pay()

    refused = await refund(other_merchant, payment, amount="1.00")
    wrong_type = await refund(other_merchant, {"id": gid("Merchant", world.merchant_a_id)}, amount="1.00")

    assert (refused["__typename"], refused["code"], refused["field"]) == ("NotFoundError", "NOT_FOUND", "paymentId")
    assert (wrong_type["__typename"], wrong_type["field"]) == ("NotFoundError", "paymentId")
    assert (await refundable(await client_for("merchant_admin"), payment))["refunds"] == []


async def test_a_logistics_partner_cannot_refund_even_the_payment_it_carried(client_for, pay):
    courier = await client_for("logistics_partner")
    payment = await pay()
    data = {"paymentId": payment["id"], "amount": "1.00", "reason": "lost", "idempotencyKey": secrets.token_hex(8)}

    refused = await courier.execute(CREATE, {"input": data}, expect_errors=True)

    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await refundable(await client_for("merchant_admin"), payment))["refunds"] == []


async def test_the_same_key_replays_the_refund_and_another_request_with_it_conflicts(client_for, pay):
    merchant = await client_for("merchant_admin")
    payment, another_payment = await pay(), await pay()
    key = secrets.token_hex(8)

    first = await refund(merchant, payment, amount="5.00", idempotencyKey=key)
    again = await refund(merchant, payment, amount="5.00", idempotencyKey=key)
    changed = await refund(merchant, payment, amount="6.00", idempotencyKey=key)
    elsewhere = await refund(merchant, another_payment, amount="5.00", idempotencyKey=key)

    assert not first["replayed"] and again["replayed"]
    assert again["refund"] == first["refund"]
    assert (changed["__typename"], changed["code"], changed["field"]) == (
        "IdempotencyConflict",
        "IDEMPOTENCY_CONFLICT",
        "idempotencyKey",
    )
    assert elsewhere["__typename"] == "CreateRefundSuccess" and not elsewhere["replayed"]  # a key is per payment
    assert [r["amount"] for r in (await refundable(merchant, payment))["refunds"]] == [{"amount": "5.00"}]


# --- who sees what -----------------------------------------------------------------------------------------


@pytest.fixture
async def refunded(client_for, pay) -> dict[str, Any]:
    """A payment of merchant A, refunded 10.00 by its admin."""
    payment = await pay()
    made = await refund(await client_for("merchant_admin"), payment, amount="10.00")
    return {"payment": payment, "refund": made["refund"]}


async def test_a_merchant_sees_its_own_refund_by_list_by_id_by_node_and_on_its_payment(client_for, refunded):
    staff = await client_for("merchant_staff")  # reads refunds, cannot make them
    refund_id = refunded["refund"]["id"]

    listed = (await staff.execute(LIST, {"payment": refunded["payment"]["id"]}))["refunds"]["edges"]
    everything = (await staff.execute(LIST, {"payment": None}))["refunds"]["edges"]
    by_id = (await staff.execute(REFUND, {"id": refund_id}))["refund"]
    by_node = (await staff.execute(NODE, {"id": refund_id}))["node"]
    on_payment = (await refundable(staff, refunded["payment"]))["refunds"]

    assert [edge["node"]["id"] for edge in listed] == [refund_id]
    assert refund_id in {edge["node"]["id"] for edge in everything}
    assert by_id["id"] == refund_id and by_id["amount"]["amount"] == "10.00"
    assert by_node == {"__typename": "Refund", "id": refund_id}
    assert [r["id"] for r in on_payment] == [refund_id]


async def test_another_merchant_does_not_see_the_refund_by_list_by_id_or_by_node(client_for, refunded):
    other_merchant = await client_for("other_merchant_admin")
    refund_id = refunded["refund"]["id"]

    listed = (await other_merchant.execute(LIST, {"payment": refunded["payment"]["id"]}))["refunds"]["edges"]
    everything = (await other_merchant.execute(LIST, {"payment": None}))["refunds"]["edges"]
    by_id = (await other_merchant.execute(REFUND, {"id": refund_id}))["refund"]
    by_node = (await other_merchant.execute(NODE, {"id": refund_id}))["node"]

    assert listed == [] and refund_id not in {edge["node"]["id"] for edge in everything}
    assert by_id is None and by_node is None


async def test_a_courier_that_did_not_carry_the_payment_sees_none_of_its_refunds(client_for, refunded):
    stranger = await client_for("other_logistics_partner")

    by_id = (await stranger.execute(REFUND, {"id": refunded["refund"]["id"]}))["refund"]
    by_node = (await stranger.execute(NODE, {"id": refunded["refund"]["id"]}))["node"]
    listed = (await stranger.execute(LIST, {"payment": None}))["refunds"]["edges"]

    assert by_id is None and by_node is None
    assert refunded["refund"]["id"] not in {edge["node"]["id"] for edge in listed}


async def test_a_refund_id_of_another_type_or_a_missing_refund_is_null_and_a_payment_filter_must_name_a_payment(
    client_for, refunded
):
    finance = await client_for("platform_finance")

    wrong_type = (await finance.execute(REFUND, {"id": refunded["payment"]["id"]}))["refund"]
    missing = (await finance.execute(REFUND, {"id": gid("Refund", 999_999_999)}))["refund"]
    malformed = (await finance.execute(REFUND, {"id": gid("Refund", "x1")}))["refund"]
    listed_by_merchant_id = await finance.execute(LIST, {"payment": gid("Merchant", 1)}, expect_errors=True)

    assert wrong_type is None and missing is None and malformed is None
    assert [(e["extensions"]["code"], e["extensions"].get("field")) for e in listed_by_merchant_id["errors"]] == [
        ("NOT_FOUND", "paymentId")
    ]
