"""Access tokens (JWT, HS256 pinned, key ids for rotation) and opaque refresh tokens stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

ALGORITHM = "HS256"  # pinned: the token's own `alg` header is never trusted
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "sid")
REFRESH_TOKEN_PREFIX = "slr_"
MIN_SIGNING_KEY_BYTES = 32


class InvalidToken(Exception):
    """The token is malformed, expired, signed with an unknown key or algorithm, or has wrong claims."""


@dataclass(frozen=True)
class SigningKeys:
    """Named HMAC keys; the first signs, all verify (so an old key works until it is retired)."""

    keys: Mapping[str, bytes]
    active_kid: str
    issuer: str
    audience: str

    def __post_init__(self) -> None:
        assert self.active_kid in self.keys, "the active key id must be one of the keys"
        for kid, key in self.keys.items():
            if len(key) < MIN_SIGNING_KEY_BYTES:
                raise ValueError(f"signing key {kid!r} is {len(key)} bytes; at least {MIN_SIGNING_KEY_BYTES} needed")


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    session_id: int
    mfa_passed: bool
    issued_at: datetime
    expires_at: datetime


def issue_access_token(
    keys: SigningKeys, *, user_id: int, session_id: int, mfa_passed: bool, now: datetime, ttl: timedelta
) -> tuple[str, datetime]:
    expires_at = now + ttl
    payload = {
        "sub": str(user_id),
        "sid": str(session_id),
        "mfa": mfa_passed,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "iss": keys.issuer,
        "aud": keys.audience,
    }
    token = jwt.encode(payload, keys.keys[keys.active_kid], algorithm=ALGORITHM, headers={"kid": keys.active_kid})
    return token, expires_at


def decode_access_token(keys: SigningKeys, token: str, *, now: datetime) -> AccessClaims:
    try:
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if not isinstance(kid, str) or kid not in keys.keys:
            raise InvalidToken("unknown signing key")
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("unexpected signing algorithm")
        payload = jwt.decode(
            token,
            keys.keys[kid],
            algorithms=[ALGORITHM],
            audience=keys.audience,
            issuer=keys.issuer,
            options={"require": list(REQUIRED_CLAIMS), "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    # Expiry is checked against the caller's clock (not the process clock) so it can be tested exactly.
    if int(payload["exp"]) <= int(now.timestamp()):
        raise InvalidToken("token expired")
    try:
        return AccessClaims(
            user_id=int(payload["sub"]),
            session_id=int(payload["sid"]),
            mfa_passed=bool(payload.get("mfa", False)),
            issued_at=datetime.fromtimestamp(int(payload["iat"]), tz=now.tzinfo),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), tz=now.tzinfo),
        )
    except (TypeError, ValueError):
        raise InvalidToken("malformed claims") from None


def new_refresh_token() -> str:
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_opaque_token(token: str) -> str:
    """SHA-256 of a high-entropy random token: safe to store, useless to a thief of the database."""
    return hashlib.sha256(token.encode()).hexdigest()
