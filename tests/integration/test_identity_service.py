"""Login, refresh-token rotation and logout on a real database."""

from __future__ import annotations

import pytest

from domain.errors import AlreadyExists, AuthenticationFailed, ErrorCode, InvalidInput
from domain.models import AuthSession, RefreshToken, User
from domain.services import identity
from tests.conftest import TEST_PASSWORD, signed_in


async def test_login_opens_a_session_and_the_token_names_it(runtime, world, make_user):
    issued = await signed_in(runtime, await make_user("merchant_admin"))
    principal = await identity.principal_for_access_token(runtime, issued.access_token)
    assert principal.party_id == world.merchant_a_id and principal.role == "merchant_admin"
    assert "parties:read" in principal.permissions and principal.mfa_passed


async def test_wrong_email_and_wrong_password_get_the_same_answer(runtime, world):
    with pytest.raises(AuthenticationFailed) as wrong_password:
        await identity.login(runtime, world.emails["merchant_admin"], "not-the-password")
    with pytest.raises(AuthenticationFailed) as wrong_email:
        await identity.login(runtime, "nobody@test.example", TEST_PASSWORD)
    assert (wrong_password.value.code, wrong_password.value.message) == (
        wrong_email.value.code,
        wrong_email.value.message,
    )


async def test_refresh_rotates_and_reuse_ends_the_whole_session(runtime, make_user):
    issued = await signed_in(runtime, await make_user("merchant_staff"))
    rotated = await identity.refresh(runtime, issued.refresh_token)
    assert rotated.refresh_token != issued.refresh_token
    await identity.principal_for_access_token(runtime, rotated.access_token)

    with pytest.raises(AuthenticationFailed) as reuse:
        await identity.refresh(runtime, issued.refresh_token)
    assert reuse.value.code == ErrorCode.INVALID_REFRESH_TOKEN
    # The family is revoked: the newer refresh token and the access tokens are dead too.
    with pytest.raises(AuthenticationFailed):
        await identity.refresh(runtime, rotated.refresh_token)
    with pytest.raises(AuthenticationFailed):
        await identity.principal_for_access_token(runtime, rotated.access_token)
    session = await AuthSession.get(
        id=(await RefreshToken.get(token_hash=identity.hash_opaque_token(issued.refresh_token))).session_id
    )
    assert session.revoke_reason == "refresh_token_reused"


async def test_logout_revokes_the_session(runtime, make_user):
    issued = await signed_in(runtime, await make_user("merchant_finance"))
    principal = await identity.principal_for_access_token(runtime, issued.access_token)
    await identity.logout(principal, runtime)
    with pytest.raises(AuthenticationFailed):
        await identity.principal_for_access_token(runtime, issued.access_token)
    with pytest.raises(AuthenticationFailed):
        await identity.refresh(runtime, issued.refresh_token)


async def test_a_disabled_user_cannot_log_in_or_use_old_tokens(runtime, make_user):
    login = await make_user("merchant_staff")
    issued = await signed_in(runtime, login)
    await User.filter(id=login.user_id).update(is_active=False)
    with pytest.raises(AuthenticationFailed):
        await identity.principal_for_access_token(runtime, issued.access_token)
    with pytest.raises(AuthenticationFailed):
        await identity.login(runtime, login.email, TEST_PASSWORD)


async def test_passwords_are_stored_as_argon2_hashes(world):
    user = await User.get(email=world.emails["platform_admin"])
    assert user.password_hash.startswith("$argon2") and TEST_PASSWORD not in user.password_hash


@pytest.mark.parametrize(
    ("email", "password", "role", "code"),
    [
        ("not-an-email", TEST_PASSWORD, "platform_admin", ErrorCode.INVALID_EMAIL),
        ("short@test.example", "short", "platform_admin", ErrorCode.WEAK_PASSWORD),
        ("role@test.example", TEST_PASSWORD, "emperor", ErrorCode.UNKNOWN_ROLE),
        ("mismatch@test.example", TEST_PASSWORD, "merchant_admin", ErrorCode.ROLE_PARTY_MISMATCH),
    ],
)
async def test_bad_user_input_is_refused_with_a_code(world, email, password, role, code):
    with pytest.raises(InvalidInput) as caught:
        await identity.create_user_unchecked(email, password, role, world.platform_id)
    assert caught.value.code == code


async def test_emails_are_unique_case_insensitively(world):
    with pytest.raises(AlreadyExists):
        await identity.create_user_unchecked(
            world.emails["platform_admin"].upper(), TEST_PASSWORD, "platform_admin", world.platform_id
        )
