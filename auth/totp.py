"""Time-based one-time passwords (RFC 6238: 30 s steps, 6 digits, one step of drift) and recovery codes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import pyotp

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
ISSUER = "Splitledger"
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def new_secret() -> str:
    """160 random bits in base32, as authenticator apps expect."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=email, issuer_name=ISSUER)


def time_step(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def code_at(secret: str, at: datetime, *, digits: int = DIGITS, digest: str = "sha1") -> str:
    """The code for the step containing `at` (digits and digest parameters exist for the RFC test vectors)."""
    return pyotp.TOTP(secret, digits=digits, interval=STEP_SECONDS, digest=getattr(hashlib, digest)).at(at)


def matching_step(secret: str, code: str, at: datetime, *, last_used_step: int | None) -> int | None:
    """The time step whose code is `code`, within one step of `at`, and later than the last step used.

    Returning the step lets the caller record it, so each code (and every earlier one) is accepted once.
    """
    candidate = "".join(code.split())
    if len(candidate) != DIGITS or not candidate.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = time_step(at)
    for step in (current, current - DRIFT_STEPS, current + DRIFT_STEPS):
        if last_used_step is not None and step <= last_used_step:
            continue
        if secrets.compare_digest(totp.generate_otp(step), candidate):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes like 'k7fq-9wzm-x2tb' (about 70 bits each): shown once, stored only as hashes."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def normalize_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def hash_recovery_code(code: str) -> str:
    """SHA-256 suffices: the codes are long random strings, not passwords people choose."""
    return hashlib.sha256(normalize_recovery_code(code).encode()).hexdigest()


def looks_like_recovery_code(code: str) -> bool:
    return len(normalize_recovery_code(code)) == 12 and not normalize_recovery_code(code).isdigit()
