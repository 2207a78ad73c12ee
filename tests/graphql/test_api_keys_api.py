"""API keys for partner systems: shown once, stored hashed, scoped to one party and to granted permissions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.models import ApiKey
from tests.conftest import Api, gid, http_client

CREATE = """mutation($p: ID!, $perms: [String!]!, $exp: DateTime) {
  createApiKey(input: {partyId: $p, name: "order system", permissions: $perms, expiresAt: $exp}) {
    __typename ... on CreateApiKeySuccess { key apiKey { id keyPrefix permissions party { name } } }
    ... on UserError { code message field } } }"""
REVOKE = "mutation($id: ID!) { revokeApiKey(input: {id: $id}) { __typename } }"
LOGISTICS = "{ logisticsPartners(first: 100) { edges { node { id } } } }"


async def _key(admin: Api, party: str, permissions: list[str], expires_at: str | None = None) -> dict:
    result = (await admin.execute(CREATE, {"p": party, "perms": permissions, "exp": expires_at}))["createApiKey"]
    assert result["__typename"] == "CreateApiKeySuccess", result
    return result


async def test_a_logistics_key_reads_its_own_party_and_nothing_else(app, client_for, world):
    admin = await client_for("platform_admin")
    created = await _key(admin, gid("LogisticsPartner", world.logistics_a_id), ["parties:read", "payments:read"])
    assert created["key"].startswith(created["apiKey"]["keyPrefix"])
    async with http_client(app, created["key"]) as http:
        partner = Api(http)
        seen = {e["node"]["id"] for e in (await partner.execute(LOGISTICS))["logisticsPartners"]["edges"]}
        assert seen == {gid("LogisticsPartner", world.logistics_a_id)}
        node = await partner.execute(
            "query($id: ID!) { node(id: $id) { id } }", {"id": gid("LogisticsPartner", world.logistics_b_id)}
        )
        assert node["node"] is None
        assert (await partner.execute("{ merchants(first: 100) { edges { node { id } } } }"))["merchants"][
            "edges"
        ] == []
        body = await partner.execute(
            'mutation { createMerchant(input: {name: "Sneaky"}) { __typename } }', expect_errors=True
        )
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        body = await partner.execute("{ me { email } }", expect_errors=True)
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_only_the_hash_is_stored(client_for, world):
    admin = await client_for("platform_admin")
    created = await _key(admin, gid("LogisticsPartner", world.logistics_a_id), ["parties:read"])
    public_id = created["key"].split("_")[1]
    row = await ApiKey.get(public_id=public_id)
    assert created["key"].split("_", 2)[2] not in row.secret_hash and len(row.secret_hash) == 64


async def test_a_revoked_or_expired_key_is_refused(app, client_for, world):
    admin = await client_for("platform_admin")
    created = await _key(admin, gid("LogisticsPartner", world.logistics_a_id), ["parties:read"])
    assert (await admin.execute(REVOKE, {"id": created["apiKey"]["id"]}))["revokeApiKey"][
        "__typename"
    ] == "RevokeApiKeySuccess"
    async with http_client(app, created["key"]) as http:
        response = await http.post("/graphql", json={"query": LOGISTICS})
    assert response.status_code == 401
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    expiring = await _key(admin, gid("LogisticsPartner", world.logistics_a_id), ["parties:read"], soon)
    await ApiKey.filter(public_id=expiring["key"].split("_")[1]).update(expires_at=datetime.now(UTC))
    async with http_client(app, expiring["key"]) as http:
        assert (await http.post("/graphql", json={"query": LOGISTICS})).status_code == 401
    async with http_client(app, "slk_000000000000_forged") as http:
        assert (await http.post("/graphql", json={"query": LOGISTICS})).status_code == 401


async def test_keys_cannot_hold_more_than_their_creator_or_two_factor_permissions(client_for, world):
    finance = await client_for("platform_admin")
    for perms, code in (
        (["payouts:approve"], "PERMISSION_NOT_GRANTABLE"),
        (["no:such"], "UNKNOWN_PERMISSION"),
        (["merchants:write"], "PERMISSION_NOT_GRANTABLE"),
        ([], "INVALID_INPUT"),
    ):
        result = (await finance.execute(CREATE, {"p": gid("LogisticsPartner", world.logistics_a_id), "perms": perms}))[
            "createApiKey"
        ]
        assert (result["__typename"], result["code"]) == ("ValidationError", code), perms
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    result = (
        await finance.execute(
            CREATE, {"p": gid("LogisticsPartner", world.logistics_a_id), "perms": ["parties:read"], "exp": past}
        )
    )["createApiKey"]
    assert result["code"] == "INVALID_EXPIRY"


async def test_a_merchant_admin_makes_keys_for_its_own_merchant_only(app, anonymous_client, make_user, world):
    admin = await make_user("merchant_admin", mfa=True)
    tokens = await anonymous_client.login_with_totp(admin.email, admin.totp_secret)
    async with http_client(app, tokens["accessToken"]) as http:
        merchant_admin = Api(http)
        own = await _key(merchant_admin, gid("Merchant", world.merchant_a_id), ["payments:read"])
        assert own["apiKey"]["permissions"] == ["payments:read"]
        other = (
            await merchant_admin.execute(
                CREATE, {"p": gid("Merchant", world.merchant_b_id), "perms": ["payments:read"]}
            )
        )["createApiKey"]
        assert other["__typename"] == "NotFoundError"
        beyond = await merchant_admin.execute(
            CREATE, {"p": gid("Merchant", world.merchant_a_id), "perms": ["merchants:write"]}, expect_errors=True
        )
        assert beyond["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        listed = (await merchant_admin.execute("{ apiKeys(first: 100) { edges { node { party { id } } } } }"))[
            "apiKeys"
        ]["edges"]
        assert listed and {e["node"]["party"]["id"] for e in listed} == {gid("Merchant", world.merchant_a_id)}
