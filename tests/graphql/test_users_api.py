"""Managing users and sessions: who may create whom, no escalation, disabling, resets, password changes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from domain.models import AuthSession, User
from tests.conftest import TEST_PASSWORD, Api, gid, http_client

CREATE_USER = """mutation($email: String!, $role: Role!, $party: ID!) {
  createUser(input: {email: $email, password: "a-long-enough-password", role: $role, partyId: $party}) {
    __typename ... on CreateUserSuccess { user { id email role party { id } } } ... on UserError { code } } }"""
USERS = "{ users(first: 100) { edges { node { id email party { id } } } } }"


async def _merchant_admin_api(app, anonymous_client, make_user):
    admin = await make_user("merchant_admin", mfa=True)
    tokens = await anonymous_client.login_with_totp(admin.email, admin.totp_secret)
    return admin, http_client(app, tokens["accessToken"])


async def test_a_merchant_admin_manages_its_own_staff_only(app, anonymous_client, make_user, world):
    admin, http = await _merchant_admin_api(app, anonymous_client, make_user)
    async with http:
        api = Api(http)
        created = (
            await api.execute(
                CREATE_USER,
                {
                    "email": f"staff.{admin.user_id}@test.example",
                    "role": "MERCHANT_STAFF",
                    "party": gid("Merchant", world.merchant_a_id),
                },
            )
        )["createUser"]
        assert created["__typename"] == "CreateUserSuccess" and created["user"]["role"] == "MERCHANT_STAFF"
        other = (
            await api.execute(
                CREATE_USER,
                {
                    "email": f"x.{admin.user_id}@test.example",
                    "role": "MERCHANT_STAFF",
                    "party": gid("Merchant", world.merchant_b_id),
                },
            )
        )["createUser"]
        assert other["__typename"] == "NotFoundError"
        escalate = await api.execute(
            CREATE_USER,
            {
                "email": f"y.{admin.user_id}@test.example",
                "role": "PLATFORM_ADMIN",
                "party": gid("Platform", world.platform_id),
            },
            expect_errors=True,
        )
        assert escalate["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        seen = {e["node"]["party"]["id"] for e in (await api.execute(USERS))["users"]["edges"]}
        assert seen == {gid("Merchant", world.merchant_a_id)}


async def test_role_must_fit_the_party(client_for, world):
    admin = await client_for("platform_admin")
    result = (
        await admin.execute(
            CREATE_USER,
            {
                "email": "misfit.role@test.example",
                "role": "LOGISTICS_PARTNER",
                "party": gid("Merchant", world.merchant_a_id),
            },
        )
    )["createUser"]
    assert (result["__typename"], result["code"]) == ("ValidationError", "ROLE_PARTY_MISMATCH")


async def test_disabling_a_user_ends_their_sessions(app, client_for, anonymous_client, make_user):
    admin = await client_for("platform_admin")
    staff = await make_user("merchant_staff")
    tokens = await anonymous_client.login_with_totp(staff.email, staff.totp_secret)
    result = await admin.execute(
        "mutation($id: ID!) { disableUser(input: {id: $id}) { ... on UpdateUserSuccess { user { isActive } } } }",
        {"id": gid("User", staff.user_id)},
    )
    assert result["disableUser"]["user"]["isActive"] is False
    async with http_client(app, tokens["accessToken"]) as http:
        assert (await http.post("/graphql", json={"query": "{ me { email } }"})).status_code == 401
    assert (await anonymous_client.login(staff.email))["__typename"] == "AuthFailure"


async def test_updating_a_role_and_not_ones_own(client_for, make_user, world):
    admin = await client_for("platform_admin")
    staff = await make_user("merchant_staff")
    change = (
        "mutation($id: ID!, $r: Role!) { updateUserRole(input: {id: $id, role: $r}) { __typename "
        "... on UpdateUserSuccess { user { role } } ... on UserError { code } } }"
    )
    done = (await admin.execute(change, {"id": gid("User", staff.user_id), "r": "MERCHANT_FINANCE"}))["updateUserRole"]
    assert done["user"]["role"] == "MERCHANT_FINANCE"
    me = await User.get(email=world.emails["platform_admin"])
    own = (await admin.execute(change, {"id": gid("User", me.id), "r": "PLATFORM_AUDITOR"}))["updateUserRole"]
    assert own["code"] == "CANNOT_CHANGE_SELF"


async def test_resetting_two_factor_makes_the_user_enrol_again(client_for, anonymous_client, make_user):
    admin = await client_for("platform_admin")
    risk = await make_user("platform_risk")
    await admin.execute(
        "mutation($id: ID!) { resetUserMfa(input: {id: $id}) { __typename } }", {"id": gid("User", risk.user_id)}
    )
    assert (await anonymous_client.login(risk.email))["__typename"] == "MfaEnrollmentRequired"


async def test_sessions_list_and_revoke_and_password_change(app, anonymous_client, make_user):
    staff = await make_user("merchant_staff")
    # Three two-factor logins in a row: each TOTP code works once, so each takes the next time step.
    now = datetime.now(UTC)
    first = await anonymous_client.login_with_totp(staff.email, staff.totp_secret, at=now - timedelta(seconds=30))
    second = await anonymous_client.login_with_totp(staff.email, staff.totp_secret, at=now)
    async with http_client(app, first["accessToken"]) as http:
        api = Api(http)
        sessions = (await api.execute("{ sessions { edges { node { id current } } } }"))["sessions"]["edges"]
        assert len(sessions) == 2 and sum(e["node"]["current"] for e in sessions) == 1
        other = next(e["node"]["id"] for e in sessions if not e["node"]["current"])
        # Session ids are global ids like every other id; a raw number names nothing.
        assert base64.b64decode(other).decode().startswith("Session:")
        raw = base64.b64decode(other).decode().split(":")[1]
        refused = await api.execute(
            "mutation($id: ID!) { revokeSession(input: {id: $id}) { __typename } }", {"id": raw}, expect_errors=True
        )
        assert refused.get("errors") or refused["data"]["revokeSession"]["__typename"] == "NotFoundError"
        revoked = await api.execute(
            "mutation($id: ID!) { revokeSession(input: {id: $id}) { __typename } }", {"id": other}
        )
        assert revoked["revokeSession"]["__typename"] == "RevokeSessionSuccess"
        third = await anonymous_client.login_with_totp(staff.email, staff.totp_secret, at=now + timedelta(seconds=30))
        wrong = await api.execute(
            'mutation { changePassword(input: {currentPassword: "nope", newPassword: '
            '"another-long-password"}) { __typename ... on UserError { code } } }'
        )
        assert wrong["changePassword"]["code"] == "WRONG_PASSWORD"
        changed = await api.execute(
            "mutation($c: String!) { changePassword(input: {currentPassword: $c, "
            'newPassword: "another-long-password"}) { __typename } }',
            {"c": TEST_PASSWORD},
        )
        assert changed["changePassword"]["__typename"] == "ChangePasswordSuccess"
        assert (await api.execute("{ me { email } }"))["me"]["email"] == staff.email
    for other_tokens in (second, third):
        async with http_client(app, other_tokens["accessToken"]) as http:
            assert (await http.post("/graphql", json={"query": "{ me { email } }"})).status_code == 401
    assert (await anonymous_client.login(staff.email))["__typename"] == "AuthFailure"
    assert (await anonymous_client.login(staff.email, "another-long-password"))["__typename"] == "MfaChallenge"
    assert await AuthSession.filter(user_id=staff.user_id, revoke_reason="password_changed").count() == 1


UNLOCK = """mutation($id: ID!) { unlockUser(input: {id: $id}) {
  __typename ... on UpdateUserSuccess { user { lockedUntil } } } }"""


async def test_an_administrator_unlocks_a_locked_user_and_it_is_recorded(app, anonymous_client, make_user, world):
    from domain.models import AuthEvent

    staff = await make_user("merchant_staff", mfa=True)
    for n in range(5):
        await anonymous_client.login(staff.email, f"wrong-password-{n}")
    assert (await User.get(id=staff.user_id)).locked_until is not None
    assert (await anonymous_client.login(staff.email))["__typename"] == "AuthFailure"
    other_admin = await make_user("merchant_admin", world.merchant_b_id, mfa=True)
    tokens = await anonymous_client.login_with_totp(other_admin.email, other_admin.totp_secret)
    async with http_client(app, tokens["accessToken"]) as http:
        assert (await Api(http).execute(UNLOCK, {"id": gid("User", staff.user_id)}))["unlockUser"][
            "__typename"
        ] == "NotFoundError"
    admin, http = await _merchant_admin_api(app, anonymous_client, make_user)
    async with http:
        unlocked = (await Api(http).execute(UNLOCK, {"id": gid("User", staff.user_id)}))["unlockUser"]
    assert unlocked == {"__typename": "UpdateUserSuccess", "user": {"lockedUntil": None}}
    assert (await anonymous_client.login(staff.email))["__typename"] == "MfaChallenge"
    assert await AuthEvent.filter(kind="user_unlocked", user_id=staff.user_id, actor_user_id=admin.user_id).exists()
