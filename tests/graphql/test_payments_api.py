"""Payments and the ledger through the API, per role: each sees its own, never another's."""

from __future__ import annotations

import pytest

from tests.conftest import Api, gid, graphql_payment_input

RECORD = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  __typename
  ... on RecordPaymentSuccess { replayed payment { id externalOrderId total { amount currency }
      allocations { role amount { amount } partyId linePosition } lineItems { sku amount { amount } } } }
  ... on UserError { code message field } } }"""
PAYMENT = """query($id: ID!) { payment(id: $id) { id externalOrderId merchant { name }
  allocations { role partyId amount { amount } } } }"""
PAYMENTS = "{ payments(first: 100) { edges { node { id } } } }"


@pytest.fixture(scope="module")
async def recorded(client_for, world):
    """Payment A1 (merchant A, carried by courier A) and B1 (merchant B, carried by courier B)."""
    operations = await client_for("platform_operations")
    out = {}
    for label, merchant, courier in (
        ("a", world.merchant_a_id, world.logistics_a_id),
        ("b", world.merchant_b_id, world.logistics_b_id),
    ):
        result = (await operations.execute(RECORD, {"input": graphql_payment_input(merchant, courier)}))[
            "recordPayment"
        ]
        assert result["__typename"] == "RecordPaymentSuccess", result
        out[label] = result["payment"]
    return out


async def test_operations_records_a_payment_split_between_merchant_and_courier(recorded, world):
    payment = recorded["a"]
    shares = {a["role"]: a["amount"]["amount"] for a in payment["allocations"]}
    assert shares == {"MERCHANT": "150.00", "LOGISTICS": "8.00"}
    assert payment["total"] == {"amount": "158.00", "currency": "CNY"}


async def test_replay_and_conflict_over_the_api(client_for, world):
    operations = await client_for("platform_operations")
    data = graphql_payment_input(world.merchant_a_id)
    first = (await operations.execute(RECORD, {"input": data}))["recordPayment"]
    again = (await operations.execute(RECORD, {"input": data}))["recordPayment"]
    assert again["replayed"] and again["payment"]["id"] == first["payment"]["id"]
    changed = (await operations.execute(RECORD, {"input": data | {"totalAmount": "159.00", "shippingFee": "9.00"}}))[
        "recordPayment"
    ]
    assert changed["__typename"] == "IdempotencyConflict" and changed["field"] == "idempotencyKey"


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"totalAmount": "10.00"}, "TOTAL_MISMATCH", "totalAmount"),
        ({"shippingFee": "8.001"}, "TOO_MANY_DECIMALS", "shippingFee"),
        ({"currency": "ABC"}, "UNKNOWN_CURRENCY", "currency"),
    ],
)
async def test_bad_payments_get_typed_errors(client_for, world, overrides, code, field):
    operations = await client_for("platform_operations")
    result = (await operations.execute(RECORD, {"input": graphql_payment_input(world.merchant_a_id, **overrides)}))[
        "recordPayment"
    ]
    assert (result["__typename"], result["code"], result["field"]) == ("ValidationError", code, field)


async def test_a_batch_reports_each_result(client_for, world):
    operations = await client_for("platform_operations")
    good = graphql_payment_input(world.merchant_a_id)
    data = await operations.execute(
        "mutation($inputs: [RecordPaymentInput!]!) { recordPayments(inputs: $inputs) { succeeded failed "
        "results { __typename ... on UserError { code } } } }",
        {
            "inputs": [
                good,
                graphql_payment_input(world.merchant_a_id, totalAmount="1.00"),
                good,
                graphql_payment_input(999_999_999),
            ]
        },
    )
    batch = data["recordPayments"]
    assert (batch["succeeded"], batch["failed"]) == (2, 2)
    assert [r["__typename"] for r in batch["results"]] == [
        "RecordPaymentSuccess",
        "ValidationError",
        "RecordPaymentSuccess",
        "NotFoundError",
    ]


async def test_merchant_sees_its_own_payment_and_not_anothers(merchant_client, recorded):
    own, other = recorded["a"]["id"], recorded["b"]["id"]
    assert (await merchant_client.execute(PAYMENT, {"id": own}))["payment"]["id"] == own
    assert (await merchant_client.execute(PAYMENT, {"id": other}))["payment"] is None
    listed = {e["node"]["id"] for e in (await merchant_client.execute(PAYMENTS))["payments"]["edges"]}
    assert own in listed and other not in listed
    assert (await merchant_client.execute("query($id: ID!) { node(id: $id) { id } }", {"id": other}))["node"] is None


async def test_payment_by_external_id_is_scoped(merchant_client, recorded, world):
    query = "query($m: ID!, $o: String!) { paymentByExternalId(merchantId: $m, externalOrderId: $o) { id } }"
    own = await merchant_client.execute(
        query, {"m": gid("Merchant", world.merchant_a_id), "o": recorded["a"]["externalOrderId"]}
    )
    assert own["paymentByExternalId"]["id"] == recorded["a"]["id"]
    other = await merchant_client.execute(
        query, {"m": gid("Merchant", world.merchant_b_id), "o": recorded["b"]["externalOrderId"]}
    )
    assert other["paymentByExternalId"] is None


async def test_logistics_partner_sees_carried_payments_but_only_its_own_share(logistics_client, recorded, world):
    carried = (await logistics_client.execute(PAYMENT, {"id": recorded["a"]["id"]}))["payment"]
    assert carried is not None and carried["merchant"] is None  # the merchant's record is not the courier's business
    assert [a["role"] for a in carried["allocations"]] == ["LOGISTICS"]
    assert {a["partyId"] for a in carried["allocations"]} == {gid("LogisticsPartner", world.logistics_a_id)}
    assert (await logistics_client.execute(PAYMENT, {"id": recorded["b"]["id"]}))["payment"] is None
    listed = {e["node"]["id"] for e in (await logistics_client.execute(PAYMENTS))["payments"]["edges"]}
    assert recorded["a"]["id"] in listed and recorded["b"]["id"] not in listed


async def test_balances_and_entries_are_scoped(merchant_client, other_merchant_client, finance_client, recorded, world):
    balances = "query($p: ID!) { balances(partyId: $p) { bucket amount { amount currency } } }"
    own = (await merchant_client.execute(balances, {"p": gid("Merchant", world.merchant_a_id)}))["balances"]
    assert own and {b["bucket"] for b in own} == {"PENDING"}
    other = await merchant_client.execute(balances, {"p": gid("Merchant", world.merchant_b_id)}, expect_errors=True)
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    entries = "{ ledgerEntries(first: 100) { edges { node { paymentId postings { partyId bucket } } } } }"
    seen = (await other_merchant_client.execute(entries))["ledgerEntries"]["edges"]
    for edge in seen:
        assert {p["partyId"] for p in edge["node"]["postings"]} == {gid("Merchant", world.merchant_b_id)}
    platform = (await finance_client.execute(entries))["ledgerEntries"]["edges"]
    assert any(len(e["node"]["postings"]) >= 3 for e in platform)


async def test_verify_ledger_is_clean_and_for_platform_staff_only(finance_client, merchant_client):
    check = (
        await finance_client.execute("{ verifyLedger { ok entriesChecked unbalancedEntryIds mismatchedAccountIds } }")
    )["verifyLedger"]
    assert check["ok"] and check["entriesChecked"] > 0
    body = await merchant_client.execute("{ verifyLedger { ok } }", expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_preview_writes_nothing(client_for, world):
    operations: Api = await client_for("platform_operations")
    before = len((await operations.execute(PAYMENTS))["payments"]["edges"])
    preview = await operations.execute(
        "query($i: PaymentInput!) { previewSplit(input: $i) { total { amount } parties { role amount { amount } } "
        "lines { ruleVersionId shares { role } } } }",
        {
            "i": {
                k: v
                for k, v in graphql_payment_input(world.merchant_a_id, world.logistics_a_id).items()
                if k not in ("idempotencyKey", "externalOrderId", "paidAt")
            }
        },
    )
    parties = {p["role"]: p["amount"]["amount"] for p in preview["previewSplit"]["parties"]}
    assert parties == {"MERCHANT": "150.00", "LOGISTICS": "8.00"}
    assert len((await operations.execute(PAYMENTS))["payments"]["edges"]) == before
