"""Password hashing with argon2 through passlib's CryptContext (from the maintained libpass distribution)."""

from __future__ import annotations

import anyio
import anyio.to_thread
from passlib.context import CryptContext

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
# What a login accepts at all: longer input is refused before any hashing (argon2 would hash megabytes).
MAX_PASSWORD_INPUT_BYTES = 4096
MAX_EMAIL_LENGTH = 254  # RFC 5321's limit for a forward path

_context = CryptContext(schemes=["argon2"], deprecated="auto")
# Verified against when the email is unknown, so that a wrong email costs as long as a wrong password.
_DUMMY_HASH = _context.hash("splitledger-timing-equaliser")


# argon2 takes a few hundred milliseconds of CPU and 64 MB per hash. It runs in worker threads, never on the event
# loop (one request's login would stall every other request of the process), and only this many at once, so a
# burst of logins queues here instead of exhausting memory or starving the thread pool.
HASHING_CONCURRENCY = 4
_hashing_slots = anyio.CapacityLimiter(HASHING_CONCURRENCY)


async def hash_password_off_loop(password: str) -> str:
    return await anyio.to_thread.run_sync(hash_password, password, limiter=_hashing_slots)


async def verify_password_off_loop(password: str, password_hash: str | None) -> bool:
    return await anyio.to_thread.run_sync(verify_password, password, password_hash, limiter=_hashing_slots)


def hash_password(password: str) -> str:
    return _context.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when `password` matches; with no hash (unknown user) it still spends the same time."""
    if password_hash is None:
        _context.verify(password, _DUMMY_HASH)
        return False
    return _context.verify(password, password_hash)


def needs_rehash(password_hash: str) -> bool:
    return _context.needs_update(password_hash)


def credential_too_long(email: str | None, password: str | None) -> tuple[str, str] | None:
    """(field, message) when an email or a password is over what any login accepts, else None."""
    if email is not None and len(email) > MAX_EMAIL_LENGTH:
        return "email", f"an email has at most {MAX_EMAIL_LENGTH} characters"
    if password is not None and len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_INPUT_BYTES:
        return "password", f"a password has at most {MAX_PASSWORD_INPUT_BYTES} bytes"
    return None


def password_problem(password: str) -> str | None:
    """Why a new password is unacceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"password must have at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"password must have at most {MAX_PASSWORD_LENGTH} characters"
    return None
