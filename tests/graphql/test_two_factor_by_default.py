"""Two-factor login for every person by default: merchant, logistics and supplier users too, unless a platform
admin turns it off deliberately; turning it on ends the sessions that did not pass two-factor."""

from __future__ import annotations

from domain.models import AuthEvent, PlatformSetting
from domain.services import identity, platform_settings
from tests.conftest import TEST_PASSWORD, http_client

SET_MFA = (
    "mutation($on: Boolean!) { updatePlatformSettings(input: {partyUsersRequireMfa: $on}) { "
    "... on UpdatePlatformSettingsSuccess { settings { partyUsersRequireMfa } } } }"
)
REFRESH = """mutation($t: String!) { refreshToken(input: {refreshToken: $t}) {
  __typename ... on AuthFailure { code } } }"""


async def test_a_new_installation_requires_two_factor_of_every_person(runtime, make_user):
    saved = await PlatformSetting.filter(key=platform_settings.PARTY_USERS_REQUIRE_MFA).first()
    await PlatformSetting.filter(key=platform_settings.PARTY_USERS_REQUIRE_MFA).delete()
    try:
        assert (await platform_settings.current()).party_users_require_mfa is True
        for role in ("merchant_staff", "logistics_partner", "supplier"):
            login = await make_user(role, mfa=False)
            outcome = await identity.login(runtime, login.email, TEST_PASSWORD)
            assert isinstance(outcome, identity.MfaTicketIssued) and outcome.purpose == identity.ENROLLMENT, role
    finally:
        if saved is not None:
            await saved.save()


async def test_turning_two_factor_off_is_deliberate_and_recorded_and_turning_it_on_ends_password_sessions(
    app, client_for, anonymous_client, make_user, world
):
    admin = await client_for("platform_admin")
    staff = await make_user("merchant_staff", mfa=False)
    courier = await make_user("logistics_partner")
    try:
        await admin.execute(SET_MFA, {"on": False})
        off = await AuthEvent.filter(kind="platform_setting_changed").order_by("-id").first()
        assert off.detail == "party_users_require_mfa=False" and off.actor_user_id is not None
        password_only = await anonymous_client.login(staff.email)
        assert password_only["__typename"] == "AuthTokens"
        with_code = await anonymous_client.login_with_totp(courier.email, courier.totp_secret)
    finally:
        await admin.execute(SET_MFA, {"on": True})
    async with http_client(app, password_only["accessToken"]) as http:
        assert (await http.post("/graphql", json={"query": "{ me { email } }"})).status_code == 401
    refused = (await anonymous_client.execute(REFRESH, {"t": password_only["refreshToken"]}))["refreshToken"]
    assert refused == {"__typename": "AuthFailure", "code": "INVALID_REFRESH_TOKEN"}
    # A session that passed two-factor goes on.
    async with http_client(app, with_code["accessToken"]) as http:
        assert (await http.post("/graphql", json={"query": "{ me { email } }"})).status_code == 200
    assert await AuthEvent.filter(kind="sessions_ended", detail__contains="without two-factor").exists()


async def test_a_password_session_cannot_be_refreshed_once_two_factor_is_required_elsewhere(
    client_for, anonymous_client, make_user
):
    admin = await client_for("platform_admin")
    staff = await make_user("merchant_staff", mfa=False)
    try:
        await admin.execute(SET_MFA, {"on": False})
        password_only = await anonymous_client.login(staff.email)
        # Another process (or an upgrade) turns the policy on without ending this session.
        await PlatformSetting.filter(key=platform_settings.PARTY_USERS_REQUIRE_MFA).update(value="true")
        refused = (await anonymous_client.execute(REFRESH, {"t": password_only["refreshToken"]}))["refreshToken"]
        assert refused == {"__typename": "AuthFailure", "code": "INVALID_REFRESH_TOKEN"}
    finally:
        await admin.execute(SET_MFA, {"on": True})
