"""One API shape for clients: every id is a global id of the right type, and closed sets of values are enums."""

from __future__ import annotations

import base64
import secrets

import pytest
from graphql import GraphQLEnumType, get_named_type

from schema import build_schema
from tests.conftest import gid, graphql_payment_input


def type_of(global_id: str) -> str:
    return base64.b64decode(global_id).decode().split(":")[0]


RECORD = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  __typename ... on RecordPaymentSuccess { payment { id journalEntryId status
    lineItems { ruleVersionId } allocations { role partyId ruleVersionId } } } } }"""
NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
CREATE = """mutation($input: SplitRuleInput!) { createSplitRule(input: $input) { __typename
  ... on SplitRuleSuccess { rule { id status versions { id ruleId conditions { merchantIds } legs { partyId } } } }
  ... on UserError { code field } } }"""
ACTIVATE = """mutation($id: ID!, $version: ID!) { activateSplitRule(input: {id: $id, versionId: $version}) {
  __typename ... on SplitRuleSuccess { rule { status } } ... on UserError { code field } } }"""


@pytest.fixture(scope="module")
async def payments(client_for, world):
    """A payment of merchant A (courier A) and one of merchant B (courier B), as recorded."""
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


async def test_ids_of_a_payment_are_global_ids_of_their_types(payments, world):
    payment = payments["a"]
    assert type_of(payment["journalEntryId"]) == "JournalEntry"
    assert {type_of(line["ruleVersionId"]) for line in payment["lineItems"]} == {"SplitRuleVersion"}
    assert {type_of(a["ruleVersionId"]) for a in payment["allocations"]} == {"SplitRuleVersion"}
    assert {(a["role"], a["partyId"]) for a in payment["allocations"]} == {
        ("MERCHANT", gid("Merchant", world.merchant_a_id)),
        ("LOGISTICS", gid("LogisticsPartner", world.logistics_a_id)),
    }


async def test_journal_entries_and_rule_versions_resolve_as_nodes(finance_client, payments):
    entry_id = payments["a"]["journalEntryId"]
    version_id = payments["a"]["lineItems"][0]["ruleVersionId"]
    assert (await finance_client.execute(NODE, {"id": entry_id}))["node"] == {
        "__typename": "JournalEntry",
        "id": entry_id,
    }
    assert (await finance_client.execute(NODE, {"id": version_id}))["node"]["__typename"] == "SplitRuleVersion"
    entry = await finance_client.execute(
        "query($id: ID!) { node(id: $id) { ... on JournalEntry { kind paymentId postings { partyId bucket } } } }",
        {"id": entry_id},
    )
    assert entry["node"]["kind"] == "CAPTURE" and entry["node"]["paymentId"] == payments["a"]["id"]
    party_types = {type_of(p["partyId"]) for p in entry["node"]["postings"] if p["partyId"]}
    assert party_types == {"Merchant", "LogisticsPartner"}


async def test_merchant_sees_its_own_journal_entry_as_a_node(merchant_client, payments):
    entry_id = payments["a"]["journalEntryId"]
    assert (await merchant_client.execute(NODE, {"id": entry_id}))["node"]["id"] == entry_id


async def test_merchant_does_not_see_another_merchants_journal_entry(merchant_client, payments):
    assert (await merchant_client.execute(NODE, {"id": payments["b"]["journalEntryId"]}))["node"] is None


async def test_ledger_entries_list_global_ids(merchant_client, payments):
    data = await merchant_client.execute("{ ledgerEntries(first: 100) { edges { node { id paymentId } } } }")
    listed = {edge["node"]["id"]: edge["node"]["paymentId"] for edge in data["ledgerEntries"]["edges"]}
    assert listed[payments["a"]["journalEntryId"]] == payments["a"]["id"]
    assert payments["b"]["journalEntryId"] not in listed


def rule(merchant_ids: list[str], party_id: str | None = None) -> dict:
    leg = {"beneficiary": "PLATFORM", "basis": "ITEM_AMOUNT", "rateBps": 100}
    if party_id is not None:
        leg = {"beneficiary": "PARTY", "basis": "ITEM_AMOUNT", "rateBps": 100, "partyId": party_id}
    return {
        "name": f"Shape {secrets.token_hex(3)}",
        "currency": "CNY",
        "conditions": {"merchantIds": merchant_ids, "categories": [f"c-{secrets.token_hex(3)}"]},
        "legs": [leg],
    }


async def test_a_party_leg_names_its_party_by_the_global_id_of_the_partys_kind(client_for, world):
    operations, finance = await client_for("platform_operations"), await client_for("platform_finance")
    for party_id in (gid("LogisticsPartner", world.logistics_a_id), gid("Supplier", world.supplier_id)):
        created = (await operations.execute(CREATE, {"input": rule([gid("Merchant", world.merchant_a_id)], party_id)}))[
            "createSplitRule"
        ]
        assert created["__typename"] == "SplitRuleSuccess", created
        version = created["rule"]["versions"][0]
        assert version["legs"] == [{"partyId": party_id}]
        assert version["conditions"]["merchantIds"] == [gid("Merchant", world.merchant_a_id)]
        assert version["ruleId"] == created["rule"]["id"] and type_of(version["id"]) == "SplitRuleVersion"
        assert (await finance.execute(NODE, {"id": party_id}))["node"]["id"] == party_id


@pytest.mark.parametrize(
    ("merchant_ids", "party", "field"),
    [
        # A courier named by a Supplier id: the type must be the party's kind.
        ("merchant", ("Supplier", "logistics"), "legs[0].partyId"),
        ("merchant", ("Payment", "supplier"), "legs[0].partyId"),
        ("payment", None, "conditions.merchantIds[0]"),
        ("courier", None, "conditions.merchantIds[0]"),
    ],
)
async def test_ids_of_the_wrong_type_in_a_rule_are_not_found_naming_the_field(
    client_for, world, merchant_ids, party, field
):
    operations = await client_for("platform_operations")
    ids = {
        "merchant": gid("Merchant", world.merchant_a_id),
        "payment": gid("Payment", world.merchant_a_id),
        "courier": gid("LogisticsPartner", world.logistics_a_id),
    }
    rows = {"logistics": world.logistics_a_id, "supplier": world.supplier_id}
    party_id = gid(party[0], rows[party[1]]) if party else None
    refused = (await operations.execute(CREATE, {"input": rule([ids[merchant_ids]], party_id)}))["createSplitRule"]
    assert refused == {"__typename": "NotFoundError", "code": "NOT_FOUND", "field": field}


async def test_activation_takes_the_version_by_its_global_id_and_no_other_type(client_for, world):
    operations, admin = await client_for("platform_operations"), await client_for("platform_admin")
    created = (await operations.execute(CREATE, {"input": rule([gid("Merchant", world.merchant_b_id)])}))[
        "createSplitRule"
    ]
    rule_id, version_id = created["rule"]["id"], created["rule"]["versions"][0]["id"]
    wrong_type = await admin.execute(ACTIVATE, {"id": rule_id, "version": rule_id})
    assert wrong_type["activateSplitRule"] == {"__typename": "NotFoundError", "code": "NOT_FOUND", "field": "versionId"}
    malformed = await admin.execute(ACTIVATE, {"id": rule_id, "version": gid("SplitRuleVersion", "x")})
    assert malformed["activateSplitRule"]["field"] == "versionId"
    done = await admin.execute(ACTIVATE, {"id": rule_id, "version": version_id})
    assert done["activateSplitRule"] == {"__typename": "SplitRuleSuccess", "rule": {"status": "ACTIVE"}}


async def test_auth_event_ids_are_global_ids(auditor_client, world):
    data = await auditor_client.execute(
        "{ authEvents(first: 50) { edges { node { id userId partyId actorUserId apiKeyId } } } }"
    )
    events = [edge["node"] for edge in data["authEvents"]["edges"]]
    assert events and {type_of(e["id"]) for e in events} == {"AuthEvent"}
    assert {type_of(e["userId"]) for e in events if e["userId"]} <= {"User"}
    assert {type_of(e["partyId"]) for e in events if e["partyId"]} <= {
        "Merchant",
        "LogisticsPartner",
        "Supplier",
        "Platform",
    }


@pytest.mark.parametrize(
    ("type_name", "field"),
    [
        ("Balance", "bucket"),
        ("LedgerPosting", "bucket"),
        ("Allocation", "role"),
        ("PreviewShare", "role"),
        ("BacktestLine", "role"),
        ("Payment", "status"),
        ("JournalEntry", "kind"),
        ("SplitRule", "status"),
        ("Viewer", "role"),
        ("PaymentFilter", "status"),
    ],
)
def test_a_closed_set_of_values_is_an_enum(type_name, field):
    graphql_type = build_schema()._schema.get_type(type_name)
    assert isinstance(get_named_type(graphql_type.fields[field].type), GraphQLEnumType)


def test_the_split_rules_status_filter_is_an_enum():
    argument = build_schema()._schema.query_type.fields["splitRules"].args["status"]
    assert isinstance(get_named_type(argument.type), GraphQLEnumType)


async def test_the_enum_filters_filter(finance_client, client_for, payments):
    captured = await finance_client.execute(
        "{ payments(first: 100, filter: {status: CAPTURED}) { edges { node { id status } } } }"
    )
    assert {edge["node"]["status"] for edge in captured["payments"]["edges"]} == {"CAPTURED"}
    rules = await finance_client.execute("{ splitRules(first: 100, status: DRAFT) { edges { node { status } } } }")
    assert {edge["node"]["status"] for edge in rules["splitRules"]["edges"]} <= {"DRAFT"}


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        ("query($p: ID!) { balances(partyId: $p) { bucket } }", {"p": gid("Payment", 1)}, "partyId"),
        (
            "query($p: ID!) { ledgerEntries(first: 1, partyId: $p) { edges { cursor } } }",
            {"p": gid("User", 1)},
            "partyId",
        ),
        (
            "query($m: ID!) { payments(first: 1, filter: {merchantId: $m}) { edges { cursor } } }",
            {"m": gid("LogisticsPartner", 1)},
            "filter.merchantId",
        ),
    ],
)
async def test_an_argument_naming_a_related_object_refuses_an_id_of_another_type(
    finance_client, query, variables, field
):
    body = await finance_client.execute(query, variables, expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert body["errors"][0]["extensions"]["field"] == field


@pytest.mark.parametrize("wrong_type", ["Supplier", "LogisticsPartner", "Platform"])
async def test_a_party_id_must_carry_the_type_of_the_partys_kind(finance_client, world, wrong_type):
    """`Supplier:<merchant's id>` named the merchant for balances, ledgerEntries, createUser and createApiKey."""
    merchant = world.merchant_a_id
    right = await finance_client.execute(
        "query($p: ID!) { balances(partyId: $p) { bucket } }", {"p": gid("Merchant", merchant)}
    )
    assert isinstance(right["balances"], list)
    for query in (
        "query($p: ID!) { balances(partyId: $p) { bucket } }",
        "query($p: ID!) { ledgerEntries(first: 1, partyId: $p) { edges { cursor } } }",
    ):
        body = await finance_client.execute(query, {"p": gid(wrong_type, merchant)}, expect_errors=True)
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body
        assert body["errors"][0]["extensions"]["field"] == "partyId"


async def test_the_ledger_verification_lists_global_ids(finance_client, monkeypatch):
    from domain.services import ledger

    async def broken_ledger(principal):
        return ledger.LedgerCheck(1, 1, 1, [11], [12], [13], [14], [15], [16])

    monkeypatch.setattr(ledger, "verify_ledger", broken_ledger)
    check = (
        await finance_client.execute(
            "{ verifyLedger { ok unbalancedEntryIds mismatchedAccountIds mismatchedAllocationPaymentIds "
            "mismatchedTotalPaymentIds mismatchedReleaseEntryIds mismatchedSettlementIds } }"
        )
    )["verifyLedger"]
    assert check == {
        "ok": False,
        "unbalancedEntryIds": [gid("JournalEntry", 11)],
        "mismatchedAccountIds": [gid("LedgerAccount", 12)],
        "mismatchedAllocationPaymentIds": [gid("Payment", 13)],
        "mismatchedTotalPaymentIds": [gid("Payment", 14)],
        "mismatchedReleaseEntryIds": [gid("JournalEntry", 15)],
        "mismatchedSettlementIds": [gid("Settlement", 16)],
    }
