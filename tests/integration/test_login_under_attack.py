"""Login under attack: concurrent guesses stay within the lockout, and argon2 never runs on the event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime

import pytest

from auth import passwords, totp
from domain.errors import AuthenticationFailed
from domain.models import AuthEvent, User
from domain.services import identity
from tests.conftest import TEST_PASSWORD


async def _checked(user_id: int, why: str) -> int:
    return await AuthEvent.filter(user_id=user_id, kind="login_failed", detail=why).count()


@pytest.mark.postgres_only
async def test_two_hundred_concurrent_wrong_codes_on_one_challenge_check_at_most_one(runtime, make_user):
    finance = await make_user("platform_finance")
    challenge = await identity.login(runtime, finance.email, TEST_PASSWORD)
    assert isinstance(challenge, identity.MfaTicketIssued)
    right = totp.code_at(finance.totp_secret, datetime.now(UTC))
    wrong = [f"{(int(right) + n) % 1_000_000:06d}" for n in range(1, 201)]

    outcomes = await asyncio.gather(
        *(identity.verify_mfa(runtime, challenge.token, code) for code in wrong), return_exceptions=True
    )

    assert all(isinstance(outcome, AuthenticationFailed) for outcome in outcomes), outcomes[:3]
    assert await _checked(finance.user_id, "wrong two-factor code") <= 1
    # The challenge is spent: even the right code no longer opens a session with it.
    with pytest.raises(AuthenticationFailed):
        await identity.verify_mfa(runtime, challenge.token, right)


@pytest.mark.postgres_only
async def test_a_burst_of_wrong_passwords_with_the_right_one_last_gets_no_tokens(runtime, make_user):
    """Which of 30 concurrent statements PostgreSQL takes first is not ours to choose, so the test holds what is
    true whatever the order: no more wrong passwords are checked than the lockout allows (before the gate, 29
    were), the account ends locked, and the right password yields no tokens, inside the burst or after it."""
    staff = await make_user("merchant_staff", mfa=False)
    guesses = [f"wrong-password-{n:03d}" for n in range(29)] + [TEST_PASSWORD]

    outcomes = await asyncio.gather(
        *(identity.login(runtime, staff.email, guess) for guess in guesses), return_exceptions=True
    )

    assert all(isinstance(outcome, AuthenticationFailed) for outcome in outcomes[:-1]), outcomes[:3]
    # Checked before the account filled up, the right password gets a ticket for the second factor at most.
    assert not isinstance(outcomes[-1], identity.IssuedTokens), outcomes[-1]
    assert await _checked(staff.user_id, "wrong password") <= runtime.lockout_attempts
    assert (await User.get(id=staff.user_id)).locked_until is not None
    with pytest.raises(AuthenticationFailed):
        await identity.login(runtime, staff.email, TEST_PASSWORD)


async def test_argon2_runs_in_worker_threads_a_few_at_a_time(runtime, monkeypatch):
    real_verify = passwords._context.verify
    lock, running, seen = threading.Lock(), [0], {"threads": set(), "most_at_once": 0}

    def slow_verify(secret, hash_, **kwargs):
        with lock:
            running[0] += 1
            seen["threads"].add(threading.current_thread() is threading.main_thread())
            seen["most_at_once"] = max(seen["most_at_once"], running[0])
        try:
            time.sleep(0.05)
            return real_verify(secret, hash_, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(passwords._context, "verify", slow_verify)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    beat = asyncio.create_task(ticker())
    try:
        outcomes = await asyncio.gather(
            *(identity.login(runtime, f"nobody.{n}@test.example", "some-password") for n in range(20)),
            return_exceptions=True,
        )
    finally:
        beat.cancel()
    assert all(isinstance(outcome, AuthenticationFailed) for outcome in outcomes)
    assert seen["threads"] == {False}, "argon2 ran on the event loop's thread"
    assert 1 < seen["most_at_once"] <= passwords.HASHING_CONCURRENCY
    assert ticks > 20, "the event loop stalled while passwords were checked"
