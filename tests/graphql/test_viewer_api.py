"""`viewer`: "who am I and what am I owed" in one request, for users and API keys alike."""

from __future__ import annotations

import base64
import secrets

from tests.conftest import Api, gid, http_client

VIEWER = """{ viewer { id kind email displayName role permissions mfaPassed mfaEnabled
  party { id kind name } balances { currency bucket amount { amount currency } } } }"""
CREATE_KEY = """mutation($p: ID!, $perms: [String!]!) {
  createApiKey(input: {partyId: $p, name: "courier system", permissions: $perms}) {
    __typename ... on CreateApiKeySuccess { key apiKey { id } } ... on UserError { code message } } }"""
RECORD = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) { __typename } }"""


async def carry_a_payment(operations: Api, merchant_id: int, courier_id: int) -> None:
    data = {
        "idempotencyKey": secrets.token_hex(8),
        "externalOrderId": f"o-{secrets.token_hex(6)}",
        "merchantId": gid("Merchant", merchant_id),
        "logisticsPartnerId": gid("LogisticsPartner", courier_id),
        "currency": "CNY",
        "totalAmount": "158.00",
        "paidAt": "2026-11-20T08:00:00+08:00",
        "shippingFee": "8.00",
        "lineItems": [{"sku": "tea-1", "category": "tea", "unitAmount": "50.00", "quantity": 3}],
    }
    assert (await operations.execute(RECORD, {"input": data}))["recordPayment"]["__typename"] == "RecordPaymentSuccess"


async def test_a_partner_key_asks_who_it_is_and_what_it_is_owed_in_one_request(app, client_for, world):
    operations, admin = await client_for("platform_operations"), await client_for("platform_admin")
    await carry_a_payment(operations, world.merchant_a_id, world.logistics_a_id)
    courier = gid("LogisticsPartner", world.logistics_a_id)
    created = (await admin.execute(CREATE_KEY, {"p": courier, "perms": ["ledger:read", "parties:read"]}))[
        "createApiKey"
    ]
    assert created["__typename"] == "CreateApiKeySuccess", created
    async with http_client(app, created["key"]) as http:
        viewer = (await Api(http).execute(VIEWER))["viewer"]
    assert viewer["id"] == created["apiKey"]["id"] and viewer["kind"] == "API_KEY"
    assert viewer["email"] is None and viewer["role"] is None and viewer["displayName"] == "courier system"
    assert viewer["permissions"] == ["ledger:read", "parties:read"] and viewer["mfaPassed"] is False
    assert viewer["party"] == {"id": courier, "kind": "LOGISTICS", "name": viewer["party"]["name"]}
    pending = [b for b in viewer["balances"] if b["bucket"] == "PENDING" and b["currency"] == "CNY"]
    assert pending and float(pending[0]["amount"]["amount"]) >= 8.00


async def test_a_user_viewer_shows_the_user_its_role_and_its_own_partys_balances(merchant_client, world):
    viewer = (await merchant_client.execute(VIEWER))["viewer"]
    assert viewer["kind"] == "USER" and viewer["role"] == "MERCHANT_ADMIN" and viewer["email"]
    assert base64.b64decode(viewer["id"]).decode().startswith("User:")
    assert viewer["party"]["id"] == gid("Merchant", world.merchant_a_id)
    assert {b["bucket"] for b in viewer["balances"]} <= {"PENDING", "AVAILABLE", "SETTLING"}


async def test_the_viewers_balances_are_its_own_partys_not_anothers(client_for, world):
    operations = await client_for("platform_operations")
    await carry_a_payment(operations, world.merchant_b_id, world.logistics_b_id)
    mine = (await (await client_for("merchant_admin")).execute(VIEWER))["viewer"]
    other = (await (await client_for("other_merchant_admin")).execute(VIEWER))["viewer"]
    assert mine["party"]["id"] != other["party"]["id"]
    explicit = await (await client_for("other_merchant_admin")).execute(
        "query($p: ID!) { balances(partyId: $p) { bucket amount { amount } } }",
        {"p": gid("Merchant", world.merchant_b_id)},
    )
    assert other["balances"] == [
        {"currency": "CNY", "bucket": b["bucket"], "amount": {"amount": b["amount"]["amount"], "currency": "CNY"}}
        for b in explicit["balances"]
    ]


async def test_a_viewer_without_ledger_read_is_told_so_for_balances_only(app, client_for, world):
    admin = await client_for("platform_admin")
    created = (await admin.execute(CREATE_KEY, {"p": gid("Merchant", world.merchant_a_id), "perms": ["parties:read"]}))[
        "createApiKey"
    ]
    async with http_client(app, created["key"]) as http:
        body = await Api(http).execute("{ viewer { kind permissions balances { bucket } } }", expect_errors=True)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert (await Api(http).execute("{ viewer { kind permissions } }"))["viewer"] == {
            "kind": "API_KEY",
            "permissions": ["parties:read"],
        }


async def test_anonymous_callers_have_no_viewer(anonymous_client):
    body = await anonymous_client.execute("{ viewer { kind } }", expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
