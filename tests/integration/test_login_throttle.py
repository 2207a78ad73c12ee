"""Throttling per client address and per email, in the process and in Redis: strangers are slowed before
they can lock an account, and a throttled attempt checks no password."""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import replace

import pytest

from api.app import runtime_from
from api.settings import Settings
from auth.throttle import LoginThrottle
from domain.errors import AuthenticationFailed, ErrorCode
from domain.models import User
from domain.services import identity
from domain.services.auth_events import ClientInfo
from tests.conftest import TEST_PASSWORD

REDIS_URL = os.environ.get("SPLITLEDGER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_reachable() -> bool:
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(REDIS_URL)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1).close()
    except OSError:
        return False
    return True


STORES = [
    pytest.param("memory://", id="in-process"),
    pytest.param(
        REDIS_URL,
        id="redis",
        marks=pytest.mark.skipif(not _redis_reachable(), reason=f"no Redis at {REDIS_URL}"),
    ),
]


async def _attempt(runtime, email: str, address: str, password: str = "wrong-password-x") -> ErrorCode:
    with pytest.raises(AuthenticationFailed) as failed:
        await identity.login(runtime, email, password, ClientInfo(ip_address=address))
    return failed.value.code


@pytest.mark.parametrize("store", STORES)
async def test_one_address_over_its_limit_is_refused_before_any_password_is_checked(runtime, make_user, store):
    throttle = LoginThrottle(store, per_address="3/minute", per_email="100/minute", namespace=secrets.token_hex(4))
    throttled = replace(runtime, login_throttle=throttle)
    victim = await make_user("merchant_staff", mfa=True)
    codes = [await _attempt(throttled, victim.email, "203.0.113.7") for _ in range(4)]
    assert codes == [ErrorCode.AUTHENTICATION_FAILED] * 3 + [ErrorCode.TOO_MANY_ATTEMPTS]
    # The throttled attempt did not count: the stranger has not locked the account.
    user = await User.get(id=victim.user_id)
    assert user.failed_attempts == 3 and user.locked_until is None
    # Another address is not slowed by the first one.
    assert await _attempt(throttled, victim.email, "198.51.100.1") == ErrorCode.AUTHENTICATION_FAILED


@pytest.mark.parametrize("store", STORES)
async def test_one_email_tried_from_many_addresses_is_throttled_before_the_lockout(runtime, make_user, store):
    throttle = LoginThrottle(store, per_address="100/minute", per_email="2/minute", namespace=secrets.token_hex(4))
    throttled = replace(runtime, login_throttle=throttle)
    victim = await make_user("merchant_staff", mfa=True)
    codes = [await _attempt(throttled, victim.email, f"203.0.113.{n}") for n in range(5)]
    assert codes == [ErrorCode.AUTHENTICATION_FAILED] * 2 + [ErrorCode.TOO_MANY_ATTEMPTS] * 3
    assert (await User.get(id=victim.user_id)).locked_until is None
    # The same throttle answers the same way for an email that has no account: it tells nothing.
    nobody = f"nobody.{secrets.token_hex(4)}@test.example"
    codes = [await _attempt(throttled, nobody, f"192.0.2.{n}") for n in range(3)]
    assert codes == [ErrorCode.AUTHENTICATION_FAILED] * 2 + [ErrorCode.TOO_MANY_ATTEMPTS]


@pytest.mark.skipif(not _redis_reachable(), reason=f"no Redis at {REDIS_URL}")
async def test_processes_sharing_redis_share_the_counts(runtime, make_user):
    namespace = secrets.token_hex(4)
    first, second = (
        replace(runtime, login_throttle=LoginThrottle(REDIS_URL, per_address="2/minute", namespace=namespace))
        for _ in range(2)
    )
    victim = await make_user("merchant_staff", mfa=True)
    assert await _attempt(first, victim.email, "203.0.113.9") == ErrorCode.AUTHENTICATION_FAILED
    assert await _attempt(second, victim.email, "203.0.113.9") == ErrorCode.AUTHENTICATION_FAILED
    assert await _attempt(first, victim.email, "203.0.113.9") == ErrorCode.TOO_MANY_ATTEMPTS


async def test_a_throttled_right_password_gets_no_challenge(runtime, make_user):
    throttled = replace(runtime, login_throttle=LoginThrottle(per_address="1/minute", namespace=secrets.token_hex(4)))
    victim = await make_user("merchant_staff", mfa=True)
    assert await _attempt(throttled, victim.email, "203.0.113.20") == ErrorCode.AUTHENTICATION_FAILED
    code = await _attempt(throttled, victim.email, "203.0.113.20", TEST_PASSWORD)
    assert code == ErrorCode.TOO_MANY_ATTEMPTS


def test_the_redis_url_setting_moves_the_counts_to_redis():
    settings = Settings.from_env({"SPLITLEDGER_REDIS_URL": "redis://127.0.0.1:6379/3"})
    assert runtime_from(settings).login_throttle.storage_url == "redis://127.0.0.1:6379/3"
    assert runtime_from(Settings.from_env({})).login_throttle.storage_url == "memory://"


async def test_a_throttle_whose_store_is_down_admits(runtime):
    throttle = LoginThrottle("redis://127.0.0.1:1/0", per_address="1/minute")
    async with asyncio.timeout(10):
        assert await throttle.admit(address="203.0.113.30", email="x@test.example")


@pytest.mark.parametrize("store", STORES)
async def test_the_owners_right_passwords_never_use_up_the_emails_budget(runtime, make_user, store):
    """Only failures count per email: the owner logging in often is never throttled by its own logins."""
    throttle = LoginThrottle(store, per_address="100/minute", per_email="2/minute", namespace=secrets.token_hex(4))
    throttled = replace(runtime, login_throttle=throttle)
    owner = await make_user("merchant_staff", mfa=True)
    for _ in range(4):
        step = await identity.login(throttled, owner.email, TEST_PASSWORD, ClientInfo(ip_address="198.51.100.7"))
        assert isinstance(step, identity.MfaTicketIssued)


@pytest.mark.parametrize("store", STORES)
async def test_attempts_refused_for_their_address_do_not_count_against_the_email(runtime, make_user, store):
    """A stranger hammering from one address is stopped by the address limit and cannot use up the email's."""
    throttle = LoginThrottle(store, per_address="1/minute", per_email="2/minute", namespace=secrets.token_hex(4))
    throttled = replace(runtime, login_throttle=throttle)
    victim = await make_user("merchant_staff", mfa=True)
    codes = [await _attempt(throttled, victim.email, "203.0.113.40") for _ in range(5)]
    assert codes == [ErrorCode.AUTHENTICATION_FAILED] + [ErrorCode.TOO_MANY_ATTEMPTS] * 4
    # One failure counted for the email: from another address the account may still be tried.
    assert await _attempt(throttled, victim.email, "198.51.100.41") == ErrorCode.AUTHENTICATION_FAILED
