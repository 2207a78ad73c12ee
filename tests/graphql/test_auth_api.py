"""Login, refresh, logout and me over HTTP."""

from __future__ import annotations

from datetime import timedelta

from api.app import create_app
from domain.services.runtime import Runtime
from tests.conftest import TEST_PASSWORD, Api, http_client

REFRESH = """mutation($t: String!) { refreshToken(input: {refreshToken: $t}) {
  __typename ... on AuthTokens { accessToken refreshToken } ... on AuthFailure { code message } } }"""
ME = "{ me { email role permissions mfaPassed party { kind name } } }"


async def test_login_then_me_then_logout(app, anonymous_client, make_user):
    operations = await make_user("platform_operations")
    tokens = await anonymous_client.login_with_totp(operations.email, operations.totp_secret)
    assert tokens["__typename"] == "AuthTokens" and tokens["viewer"]["role"] == "PLATFORM_OPERATIONS"
    async with http_client(app, tokens["accessToken"]) as http:
        api = Api(http)
        me = (await api.execute(ME))["me"]
        assert me["email"] == operations.email and me["party"]["kind"] == "PLATFORM" and me["mfaPassed"]
        assert "merchants:write" in me["permissions"] and "payouts:approve" not in me["permissions"]
        assert (await api.execute("mutation { logout { ... on LogoutSuccess { sessionEnded } } }"))["logout"][
            "sessionEnded"
        ]
        response = await http.post("/graphql", json={"query": ME})
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"


async def test_wrong_password_and_unknown_email_get_one_answer(anonymous_client, world):
    wrong_password = await anonymous_client.login(world.emails["merchant_admin"], "wrong-password-123")
    unknown_email = await anonymous_client.login("nobody@nowhere.example", TEST_PASSWORD)
    assert wrong_password == unknown_email
    assert wrong_password["__typename"] == "AuthFailure" and wrong_password["code"] == "AUTHENTICATION_FAILED"


async def test_refresh_rotates_and_a_reused_token_ends_the_session(anonymous_client, make_user):
    staff = await make_user("merchant_staff")
    tokens = await anonymous_client.login_with_totp(staff.email, staff.totp_secret)
    rotated = (await anonymous_client.execute(REFRESH, {"t": tokens["refreshToken"]}))["refreshToken"]
    assert rotated["__typename"] == "AuthTokens"
    reused = (await anonymous_client.execute(REFRESH, {"t": tokens["refreshToken"]}))["refreshToken"]
    assert reused["__typename"] == "AuthFailure" and reused["code"] == "INVALID_REFRESH_TOKEN"
    after = (await anonymous_client.execute(REFRESH, {"t": rotated["refreshToken"]}))["refreshToken"]
    assert after["__typename"] == "AuthFailure"


async def test_an_expired_access_token_is_answered_with_401(settings, runtime, make_user, anonymous_client):
    later = Runtime(
        signing_keys=runtime.signing_keys,
        data_keys=runtime.data_keys,
        clock=lambda: runtime.now() + timedelta(minutes=16),
    )
    future_app = create_app(settings, manage_database=False, runtime=later)
    finance = await make_user("merchant_finance")
    tokens = await anonymous_client.login_with_totp(finance.email, finance.totp_secret)
    async with http_client(future_app, tokens["accessToken"]) as http:
        response = await http.post("/graphql", json={"query": ME})
    assert response.status_code == 401
    assert "expired" in response.json()["errors"][0]["message"]


async def test_a_malformed_authorization_header_is_401(app):
    async with http_client(app) as http:
        for header in ("Basic abc", "Bearer", "Bearer not.a.jwt"):
            response = await http.post("/graphql", json={"query": ME}, headers={"authorization": header})
            assert response.status_code == 401, header
            assert response.json()["errors"][0]["message"]
