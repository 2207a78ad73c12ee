"""Two-factor login over the API: challenge, enrolment, single-use codes, lockout, recovery codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from auth import totp
from domain.models import AuthEvent, User
from tests.conftest import Api, http_client

BEGIN = """mutation($t: String) { beginTotpEnrollment(input: {enrollmentToken: $t}) {
  __typename ... on TotpEnrollment { secret otpauthUri qrCodeSvg } ... on AuthFailure { code }
  ... on UserError { code message } } }"""
CONFIRM = """mutation($t: String, $c: String!) { confirmTotpEnrollment(input: {enrollmentToken: $t, code: $c}) {
  __typename ... on TotpEnrollmentConfirmed { recoveryCodes tokens { accessToken viewer { mfaPassed } } }
  ... on AuthFailure { code } ... on UserError { code message } } }"""


async def test_an_enrolled_user_gets_a_challenge_then_tokens(anonymous_client, make_user):
    finance = await make_user("platform_finance")
    challenge = await anonymous_client.login(finance.email)
    assert challenge["__typename"] == "MfaChallenge" and challenge["challengeToken"].startswith("slm_")
    tokens = await anonymous_client.verify_mfa(
        challenge["challengeToken"], totp.code_at(finance.totp_secret, datetime.now(UTC))
    )
    assert tokens["__typename"] == "AuthTokens" and tokens["viewer"]["mfaPassed"] is True


async def test_a_replayed_code_is_rejected(anonymous_client, make_user):
    finance = await make_user("platform_finance")
    code = totp.code_at(finance.totp_secret, datetime.now(UTC))
    first = await anonymous_client.login(finance.email)
    assert (await anonymous_client.verify_mfa(first["challengeToken"], code))["__typename"] == "AuthTokens"
    second = await anonymous_client.login(finance.email)
    replay = await anonymous_client.verify_mfa(second["challengeToken"], code)
    assert replay["__typename"] == "AuthFailure" and replay["code"] == "AUTHENTICATION_FAILED"


async def test_a_challenge_token_works_once(anonymous_client, make_user):
    finance = await make_user("platform_finance")
    challenge = await anonymous_client.login(finance.email)
    now = datetime.now(UTC)
    assert (await anonymous_client.verify_mfa(challenge["challengeToken"], totp.code_at(finance.totp_secret, now)))[
        "__typename"
    ] == "AuthTokens"
    again = await anonymous_client.verify_mfa(
        challenge["challengeToken"], totp.code_at(finance.totp_secret, now + timedelta(seconds=30))
    )
    assert again["__typename"] == "AuthFailure" and again["code"] == "INVALID_MFA_TICKET"


async def test_wrong_code_wrong_password_and_unknown_email_look_the_same(anonymous_client, make_user):
    finance = await make_user("platform_finance")
    challenge = await anonymous_client.login(finance.email)
    wrong_code = await anonymous_client.verify_mfa(challenge["challengeToken"], "000000")
    wrong_password = await anonymous_client.login(finance.email, "not-the-password!")
    unknown = await anonymous_client.login("nobody.at.all@test.example")
    assert wrong_code == wrong_password == unknown


async def test_five_failures_in_a_row_lock_the_account(anonymous_client, make_user):
    # (Aliases cannot repeat login within one request: tests/graphql/test_hardening.py.)
    staff = await make_user("merchant_staff")
    for attempt in range(5):
        assert (await anonymous_client.login(staff.email, f"wrong-password-{attempt}"))["__typename"] == "AuthFailure"
    user = await User.get(id=staff.user_id)
    assert user.locked_until is not None and user.locked_until > datetime.now(UTC) + timedelta(minutes=14)
    # Locked: even the right password gets the same failure.
    assert (await anonymous_client.login(staff.email))["__typename"] == "AuthFailure"
    assert await AuthEvent.filter(user_id=staff.user_id, kind="account_locked").exists()


async def test_four_failures_then_a_success_resets_the_count(anonymous_client, make_user):
    staff = await make_user("merchant_staff")
    for _ in range(4):
        await anonymous_client.login(staff.email, "wrong-password-x")
    assert (await anonymous_client.login_with_totp(staff.email, staff.totp_secret))["__typename"] == "AuthTokens"
    assert (await User.get(id=staff.user_id)).failed_attempts == 0


async def test_wrong_codes_count_toward_the_lockout(anonymous_client, make_user):
    finance = await make_user("platform_finance")
    for _ in range(5):
        challenge = await anonymous_client.login(finance.email)
        assert challenge["__typename"] == "MfaChallenge"
        await anonymous_client.verify_mfa(challenge["challengeToken"], "123456")
    assert (await User.get(id=finance.user_id)).locked_until is not None
    assert (await anonymous_client.login(finance.email))["__typename"] == "AuthFailure"


async def test_a_wrong_code_spends_the_challenge(anonymous_client, make_user):
    finance = await make_user("platform_finance")
    challenge = await anonymous_client.login(finance.email)
    wrong = await anonymous_client.verify_mfa(challenge["challengeToken"], "123456")
    assert wrong["__typename"] == "AuthFailure" and wrong["code"] == "AUTHENTICATION_FAILED"
    right = await anonymous_client.verify_mfa(
        challenge["challengeToken"], totp.code_at(finance.totp_secret, datetime.now(UTC))
    )
    assert right["__typename"] == "AuthFailure" and right["code"] == "INVALID_MFA_TICKET"


async def test_a_platform_user_without_two_factor_must_enrol_before_any_token(anonymous_client, make_user):
    risk = await make_user("platform_risk", mfa=False)
    login = await anonymous_client.login(risk.email)
    assert login["__typename"] == "MfaEnrollmentRequired" and "accessToken" not in login
    started = (await anonymous_client.execute(BEGIN, {"t": login["enrollmentToken"]}))["beginTotpEnrollment"]
    assert started["__typename"] == "TotpEnrollment"
    assert (
        started["otpauthUri"].startswith("otpauth://totp/Splitledger:")
        and "issuer=Splitledger" in started["otpauthUri"]
    )
    assert started["qrCodeSvg"].lstrip().startswith("<svg")
    wrong = (await anonymous_client.execute(CONFIRM, {"t": login["enrollmentToken"], "c": "000000"}))[
        "confirmTotpEnrollment"
    ]
    assert wrong["__typename"] == "ValidationError" and wrong["code"] == "INVALID_MFA_CODE"
    code = totp.code_at(started["secret"], datetime.now(UTC))
    done = (await anonymous_client.execute(CONFIRM, {"t": login["enrollmentToken"], "c": code}))[
        "confirmTotpEnrollment"
    ]
    assert done["__typename"] == "TotpEnrollmentConfirmed" and len(set(done["recoveryCodes"])) == 10
    assert done["tokens"]["viewer"]["mfaPassed"] is True
    assert (await anonymous_client.login(risk.email))["__typename"] == "MfaChallenge"


async def test_a_recovery_code_works_once(anonymous_client, make_user):
    risk = await make_user("platform_risk", mfa=False)
    login = await anonymous_client.login(risk.email)
    started = (await anonymous_client.execute(BEGIN, {"t": login["enrollmentToken"]}))["beginTotpEnrollment"]
    done = (
        await anonymous_client.execute(
            CONFIRM, {"t": login["enrollmentToken"], "c": totp.code_at(started["secret"], datetime.now(UTC))}
        )
    )["confirmTotpEnrollment"]
    recovery = done["recoveryCodes"][3]
    first = await anonymous_client.login(risk.email)
    assert (await anonymous_client.verify_mfa(first["challengeToken"], recovery))["__typename"] == "AuthTokens"
    second = await anonymous_client.login(risk.email)
    assert (await anonymous_client.verify_mfa(second["challengeToken"], recovery))["__typename"] == "AuthFailure"


SET_MFA = (
    "mutation($on: Boolean!) { updatePlatformSettings(input: {partyUsersRequireMfa: $on}) { "
    "... on UpdatePlatformSettingsSuccess { settings { partyUsersRequireMfa } } } }"
)


async def test_the_platform_setting_may_let_merchant_users_log_in_with_a_password(
    client_for, anonymous_client, make_user
):
    admin = await client_for("platform_admin")
    staff = await make_user("merchant_staff", mfa=False)
    assert (await anonymous_client.login(staff.email))["__typename"] == "MfaEnrollmentRequired"
    try:
        assert not (await admin.execute(SET_MFA, {"on": False}))["updatePlatformSettings"]["settings"][
            "partyUsersRequireMfa"
        ]
        assert (await anonymous_client.login(staff.email))["__typename"] == "AuthTokens"
    finally:
        await admin.execute(SET_MFA, {"on": True})
    assert (await anonymous_client.login(staff.email))["__typename"] == "MfaEnrollmentRequired"


async def test_sensitive_actions_need_a_two_factor_session(app, anonymous_client, client_for, make_user, world):
    # Where the platform lets merchant users log in with a password alone, such a session may not reveal PII
    # or create API keys.
    platform_admin = await client_for("platform_admin")
    admin = await make_user("merchant_admin", mfa=False)
    await platform_admin.execute(SET_MFA, {"on": False})
    try:
        tokens = await anonymous_client.login(admin.email)
        assert tokens["__typename"] == "AuthTokens"
        async with http_client(app, tokens["accessToken"]) as http:
            api = Api(http)
            body = await api.execute(
                'mutation($p: ID!) { createApiKey(input: {partyId: $p, name: "x", permissions: ["parties:read"]}) '
                "{ __typename } }",
                {"p": _gid("Merchant", world.merchant_a_id)},
                expect_errors=True,
            )
            assert body["errors"][0]["extensions"]["code"] == "MFA_REQUIRED"
            # Enrolling while logged in works, and the next login is a two-factor one.
            started = (await api.execute(BEGIN))["beginTotpEnrollment"]
            confirmed = (await api.execute(CONFIRM, {"c": totp.code_at(started["secret"], datetime.now(UTC))}))[
                "confirmTotpEnrollment"
            ]
            assert len(confirmed["recoveryCodes"]) == 10 and confirmed["tokens"] is None
        assert (await anonymous_client.login(admin.email))["__typename"] == "MfaChallenge"
    finally:
        await platform_admin.execute(SET_MFA, {"on": True})


async def test_changing_a_bank_account_needs_two_factor(app, anonymous_client, make_user, make_merchant):
    merchant = await make_merchant()
    operations = await make_user("platform_operations")
    tokens = await anonymous_client.login_with_totp(operations.email, operations.totp_secret)
    update = """mutation($id: ID!) { updateMerchant(input: {id: $id, bankAccount: {holderName: "H", bankName: "B",
      accountNumber: "6222000011112222"}}) { __typename } }"""
    async with http_client(app, tokens["accessToken"]) as http:
        assert (await Api(http).execute(update, {"id": _gid("Merchant", merchant.id)}))["updateMerchant"][
            "__typename"
        ] == "UpdateMerchantSuccess"


def _gid(type_name: str, row_id: int) -> str:
    import base64

    return base64.b64encode(f"{type_name}:{row_id}".encode()).decode()


async def test_auth_events_record_logins_and_failures(client_for, make_user, anonymous_client):
    staff = await make_user("merchant_staff")
    await anonymous_client.login(staff.email, "wrong-password-zz")
    await anonymous_client.login_with_totp(staff.email, staff.totp_secret)
    kinds = [e.kind for e in await AuthEvent.filter(user_id=staff.user_id).order_by("id")]
    assert kinds == ["login_failed", "login_succeeded"]
    auditor = await client_for("platform_auditor")
    data = await auditor.execute(
        '{ authEvents(first: 100, kind: "login_failed") { edges { node { kind userId ipAddress } } } }'
    )
    assert any(e["node"]["userId"] == _gid("User", staff.user_id) for e in data["authEvents"]["edges"])
