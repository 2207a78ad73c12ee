"""Holes in accounts found by probing: cached tokens, oversized credentials, node(ApiKey), email probing, a
deactivated party's users, and who may read the platform settings."""

from __future__ import annotations

import secrets

from domain.models import AuthEvent, Party
from tests.conftest import Api, gid, http_client

REFRESH = """mutation($t: String!) { refreshToken(input: {refreshToken: $t}) {
  __typename ... on AuthTokens { accessToken refreshToken } ... on AuthFailure { code } } }"""
LOGIN = """mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) {
  __typename ... on AuthFailure { code } ... on UserError { code field message } } }"""
CREATE_USER = """mutation($email: String!, $party: ID!) {
  createUser(input: {email: $email, password: "a-long-enough-password", role: MERCHANT_STAFF, partyId: $party}) {
    __typename ... on CreateUserSuccess { user { id } } ... on UserError { code message field } } }"""


async def _post(api: Api, query: str, variables: dict) -> tuple[dict, dict]:
    response = await api.http.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text[:300]
    return response.json(), dict(response.headers)


async def test_login_verify_mfa_and_refresh_answers_are_never_cached(anonymous_client, make_user):
    finance = await make_user("platform_finance")
    body, headers = await _post(
        anonymous_client,
        "mutation($e: String!) { login(input: {email: $e, password: "
        '"correct-horse-battery-staple"}) { ... on MfaChallenge { challengeToken } } }',
        {"e": finance.email},
    )
    assert headers["cache-control"] == "no-store"
    from datetime import UTC, datetime

    from auth import totp

    code = totp.code_at(finance.totp_secret, datetime.now(UTC))
    body, headers = await _post(
        anonymous_client,
        "mutation($t: String!, $c: String!) { verifyMfa(input: {challengeToken: $t, code: $c}) "
        "{ ... on AuthTokens { refreshToken } } }",
        {"t": body["data"]["login"]["challengeToken"], "c": code},
    )
    assert headers["cache-control"] == "no-store" and body["data"]["verifyMfa"]["refreshToken"]
    body, headers = await _post(anonymous_client, REFRESH, {"t": body["data"]["verifyMfa"]["refreshToken"]})
    assert headers["cache-control"] == "no-store" and body["data"]["refreshToken"]["__typename"] == "AuthTokens"


async def test_an_email_over_254_characters_is_a_typed_error_with_a_short_message(anonymous_client):
    body, _ = await _post(anonymous_client, LOGIN, {"e": "a" * 5_000 + "@test.example", "p": "x"})
    answer = body["data"]["login"]
    assert answer == {
        "__typename": "ValidationError",
        "code": "CREDENTIAL_TOO_LONG",
        "field": "email",
        "message": "an email has at most 254 characters",
    }


async def test_a_password_over_4_kb_is_a_typed_error_before_any_hashing(anonymous_client, world):
    body, _ = await _post(anonymous_client, LOGIN, {"e": world.emails["merchant_staff"], "p": "p" * 4097})
    answer = body["data"]["login"]
    assert (answer["__typename"], answer["code"], answer["field"]) == (
        "ValidationError",
        "CREDENTIAL_TOO_LONG",
        "password",
    )
    # Exactly 4 KB is still an ordinary (wrong) password.
    body, _ = await _post(anonymous_client, LOGIN, {"e": world.emails["merchant_staff"], "p": "p" * 4096})
    assert body["data"]["login"]["__typename"] == "AuthFailure"


async def test_a_two_factor_code_of_5000_digits_is_a_typed_error(anonymous_client):
    body, _ = await _post(
        anonymous_client,
        'mutation($c: String!) { verifyMfa(input: {challengeToken: "slm_x", code: $c}) '
        "{ __typename ... on UserError { code field } } }",
        {"c": "1" * 5_000},
    )
    assert body["data"]["verifyMfa"] == {
        "__typename": "ValidationError",
        "code": "CREDENTIAL_TOO_LONG",
        "field": "code",
    }


async def test_node_with_an_api_key_id_answers_the_key(client_for, world):
    admin = await client_for("platform_admin")
    created = await admin.execute(
        'mutation($p: ID!) { createApiKey(input: {partyId: $p, name: "node", permissions: ["parties:read"]}) '
        "{ ... on CreateApiKeySuccess { apiKey { id name } } } }",
        {"p": gid("LogisticsPartner", world.logistics_a_id)},
    )
    key_id = created["createApiKey"]["apiKey"]["id"]
    found = await admin.execute("query($id: ID!) { node(id: $id) { id ... on ApiKey { name } } }", {"id": key_id})
    assert found["node"] == {"id": key_id, "name": "node"}
    other = await client_for("other_merchant_admin")
    assert (await other.execute("query($id: ID!) { node(id: $id) { id } }", {"id": key_id}))["node"] is None


async def test_create_user_does_not_tell_a_merchant_admin_that_an_email_exists_elsewhere(
    app, anonymous_client, make_user, world
):
    admin = await make_user("merchant_admin", mfa=True)
    tokens = await anonymous_client.login_with_totp(admin.email, admin.totp_secret)
    async with http_client(app, tokens["accessToken"]) as http:
        api = Api(http)
        answer = (
            await api.execute(
                CREATE_USER, {"email": world.emails["platform_admin"], "party": gid("Merchant", world.merchant_a_id)}
            )
        )["createUser"]
        assert answer["__typename"] == "ValidationError" and answer["code"] == "EMAIL_NOT_AVAILABLE"
        assert "exist" not in answer["message"] and world.emails["platform_admin"] not in answer["message"]
        # Its own staff's email is still named as a duplicate: the admin sees that user anyway.
        own = (
            await api.execute(
                CREATE_USER, {"email": world.emails["merchant_staff"], "party": gid("Merchant", world.merchant_a_id)}
            )
        )["createUser"]
        assert own["__typename"] == "DuplicateError" and own["code"] == "DUPLICATE_EMAIL"
    assert await AuthEvent.filter(kind="user_create_refused", actor_user_id=admin.user_id).exists()


async def test_a_merchant_admin_cannot_enumerate_addresses_through_create_user(app, anonymous_client, make_user, world):
    """After five "not available" answers in an hour the caller may create no user at all, so even a fresh
    address gets the same refusal and tells it nothing."""
    admin = await make_user("merchant_admin", mfa=True)
    tokens = await anonymous_client.login_with_totp(admin.email, admin.totp_secret)
    merchant = gid("Merchant", world.merchant_a_id)
    taken = [world.emails[label] for label in ("platform_admin", "platform_finance", "logistics_partner")]
    async with http_client(app, tokens["accessToken"]) as http:
        api = Api(http)
        codes = [
            (await api.execute(CREATE_USER, {"email": taken[i % 3], "party": merchant}))["createUser"]["code"]
            for i in range(5)
        ]
        assert codes == ["EMAIL_NOT_AVAILABLE"] * 5
        for email in (taken[0], f"fresh.{secrets.token_hex(4)}@test.example"):
            answer = (await api.execute(CREATE_USER, {"email": email, "party": merchant}))["createUser"]
            assert (answer["__typename"], answer["code"]) == ("ValidationError", "TOO_MANY_ATTEMPTS")


async def test_a_deactivated_partys_users_cannot_log_in_or_use_their_tokens(
    app, anonymous_client, make_user, make_merchant
):
    merchant = await make_merchant()
    staff = await make_user("merchant_staff", merchant.id, mfa=True)
    tokens = await anonymous_client.login_with_totp(staff.email, staff.totp_secret)
    assert tokens["__typename"] == "AuthTokens"
    await Party.filter(id=merchant.id).update(is_active=False)
    async with http_client(app, tokens["accessToken"]) as http:
        response = await http.post("/graphql", json={"query": "{ me { email } }"})
        assert response.status_code == 401
    refreshed = (await anonymous_client.execute(REFRESH, {"t": tokens["refreshToken"]}))["refreshToken"]
    assert refreshed == {"__typename": "AuthFailure", "code": "INVALID_REFRESH_TOKEN"}
    assert (await anonymous_client.login(staff.email))["__typename"] == "AuthFailure"


async def test_platform_settings_are_read_with_platform_read_not_users_read(client_for):
    merchant_admin = await client_for("merchant_admin")
    body = await merchant_admin.execute("{ platformSettings { partyUsersRequireMfa } }", expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    auditor = await client_for("platform_auditor")
    assert (
        "partyUsersRequireMfa"
        in (await auditor.execute("{ platformSettings { partyUsersRequireMfa } }"))["platformSettings"]
    )
