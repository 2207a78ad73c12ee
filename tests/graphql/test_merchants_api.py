"""The party area through the HTTP API: creating and changing, typed errors, money shapes, pagination."""

from __future__ import annotations

import base64

import pytest

from domain.models import Party
from tests.conftest import unique

CREATE_MERCHANT = """
mutation Create($input: CreateMerchantInput!) {
  createMerchant(input: $input) {
    __typename
    ... on CreateMerchantSuccess {
      merchant { id name tier kycStatus category
        settlementProfile { currency cycle anchorDay delayDays holdDays minimumPayout { amount currency } }
        bankAccount { holderName bankName accountNumberMasked } }
    }
    ... on UserError { code message field }
  }
}
"""

UPDATE_MERCHANT = """
mutation Update($input: UpdateMerchantInput!) {
  updateMerchant(input: $input) {
    __typename
    ... on UpdateMerchantSuccess { merchant { id name tier kycStatus riskLevel } }
    ... on UserError { code message field }
  }
}
"""


def merchant_input(**overrides):
    return {
        "name": unique("Api Merchant"),
        "tier": "SILVER",
        "category": "tea",
        "kycStatus": "VERIFIED",
    } | overrides


async def test_operations_creates_a_merchant_with_exact_money(operations_client):
    data = await operations_client.execute(
        CREATE_MERCHANT,
        {
            "input": merchant_input(
                settlementProfile={
                    "currency": "KWD",
                    "cycle": "WEEKLY",
                    "anchorDay": 5,
                    "delayDays": 2,
                    "minimumPayout": "12.345",
                    "holdDays": 3,
                },
                bankAccount={
                    "holderName": "Gulf Traders",
                    "bankName": "NBK",
                    "accountNumber": "KW81 CBKU 0000 0000 0000 1234 5601 01",
                },
            )
        },
    )
    result = data["createMerchant"]
    assert result["__typename"] == "CreateMerchantSuccess", result
    merchant = result["merchant"]
    assert merchant["settlementProfile"] == {
        "currency": "KWD",
        "cycle": "WEEKLY",
        "anchorDay": 5,
        "delayDays": 2,
        "holdDays": 3,
        "minimumPayout": {"amount": "12.345", "currency": "KWD"},
    }
    assert merchant["bankAccount"]["accountNumberMasked"] == "****0101"
    assert base64.b64decode(merchant["id"]).decode().startswith("Merchant:")


@pytest.mark.parametrize(
    ("profile", "code", "field"),
    [
        ({"currency": "XXX"}, "UNKNOWN_CURRENCY", "settlementProfile.currency"),
        (
            {"currency": "CNY", "minimumPayout": "1.001"},
            "TOO_MANY_DECIMALS",
            "settlementProfile.minimumPayout",
        ),
        (
            {"currency": "JPY", "minimumPayout": "100.5"},
            "TOO_MANY_DECIMALS",
            "settlementProfile.minimumPayout",
        ),
        ({"currency": "CNY", "minimumPayout": "-5.00"}, "NEGATIVE_AMOUNT", "settlementProfile.minimumPayout"),
        (
            {"currency": "CNY", "cycle": "MONTHLY", "anchorDay": 32},
            "INVALID_ANCHOR_DAY",
            "settlementProfile.anchorDay",
        ),
    ],
)
async def test_bad_money_input_gets_a_typed_error_and_writes_nothing(operations_client, profile, code, field):
    name = unique("Rejected")
    data = await operations_client.execute(
        CREATE_MERCHANT, {"input": merchant_input(name=name, settlementProfile=profile)}
    )
    result = data["createMerchant"]
    assert (result["__typename"], result["code"], result["field"]) == ("ValidationError", code, field)
    assert result["message"]
    assert not await Party.filter(name=name).exists()


async def test_amounts_sent_as_json_floats_are_refused(operations_client):
    body = await operations_client.execute(
        CREATE_MERCHANT,
        {"input": merchant_input(settlementProfile={"currency": "CNY", "minimumPayout": 10.5})},
        expect_errors=True,
    )
    assert "floating-point" in body["errors"][0]["message"]


async def test_a_duplicate_name_is_a_duplicate_error(operations_client):
    first = merchant_input()
    await operations_client.execute(CREATE_MERCHANT, {"input": first})
    data = await operations_client.execute(CREATE_MERCHANT, {"input": merchant_input(name=first["name"].lower())})
    assert data["createMerchant"]["__typename"] == "DuplicateError"
    assert data["createMerchant"]["code"] == "DUPLICATE_NAME"


async def test_update_changes_the_merchant(operations_client):
    created = (await operations_client.execute(CREATE_MERCHANT, {"input": merchant_input()}))["createMerchant"]
    merchant_id = created["merchant"]["id"]
    data = await operations_client.execute(
        UPDATE_MERCHANT, {"input": {"id": merchant_id, "kycStatus": "SUSPENDED", "riskLevel": "HIGH"}}
    )
    assert data["updateMerchant"]["merchant"]["kycStatus"] == "SUSPENDED"
    assert data["updateMerchant"]["merchant"]["riskLevel"] == "HIGH"
    assert data["updateMerchant"]["merchant"]["tier"] == "SILVER"


async def test_updating_a_missing_merchant_is_not_found(operations_client, world):
    missing = base64.b64encode(b"Merchant:999999999").decode()
    logistics = base64.b64encode(f"LogisticsPartner:{world.logistics_a_id}".encode()).decode()
    for merchant_id in (missing, logistics):
        data = await operations_client.execute(UPDATE_MERCHANT, {"input": {"id": merchant_id, "tier": "GOLD"}})
        assert data["updateMerchant"]["__typename"] == "NotFoundError"


async def test_malformed_ids_are_rejected_clearly(operations_client):
    body = await operations_client.execute(
        "query($id: ID!) { merchant(id: $id) { name } }", {"id": "not-a-global-id"}, expect_errors=True
    )
    assert body["errors"] and "id" in body["errors"][0]["message"].lower()


async def test_merchant_staff_cannot_create_merchants(merchant_staff_client):
    body = await merchant_staff_client.execute(CREATE_MERCHANT, {"input": merchant_input()}, expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["data"] is None


async def test_partners_are_created_by_operations(operations_client):
    data = await operations_client.execute(
        """
      mutation($l: CreateLogisticsPartnerInput!, $s: CreateSupplierInput!) {
        createLogisticsPartner(input: $l) { ... on CreateLogisticsPartnerSuccess { logisticsPartner { kind name } } }
        createSupplier(input: $s) { ... on CreateSupplierSuccess { supplier { kind name } } }
      }""",
        {"l": {"name": unique("Courier")}, "s": {"name": unique("Supplier")}},
    )
    assert data["createLogisticsPartner"]["logisticsPartner"]["kind"] == "LOGISTICS"
    assert data["createSupplier"]["supplier"]["kind"] == "SUPPLIER"


async def test_merchants_page_with_cursors_and_filters(operations_client):
    marker = unique("Paged")
    for i in range(3):
        await operations_client.execute(
            CREATE_MERCHANT, {"input": merchant_input(name=f"{marker} {i}", tier="PLATINUM")}
        )
    query = f"""query($after: String) {{ merchants(first: 2, after: $after,
                 filter: {{tier: PLATINUM, nameContains: "{marker}"}}) {{
                 edges {{ cursor node {{ name }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
    first = (await operations_client.execute(query))["merchants"]
    assert [e["node"]["name"] for e in first["edges"]] == [f"{marker} 2", f"{marker} 1"]
    assert first["pageInfo"]["hasNextPage"]
    second = (await operations_client.execute(query, {"after": first["pageInfo"]["endCursor"]}))["merchants"]
    assert [e["node"]["name"] for e in second["edges"]] == [f"{marker} 0"]
    assert not second["pageInfo"]["hasNextPage"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ("first: 101", "INVALID_PAGE_SIZE"),
        ("first: 0", "INVALID_PAGE_SIZE"),
        ('after: "bm9wZQ=="', "INVALID_CURSOR"),
    ],
)
async def test_page_arguments_are_checked(operations_client, args, code):
    body = await operations_client.execute(f"{{ merchants({args}) {{ edges {{ cursor }} }} }}", expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == code
