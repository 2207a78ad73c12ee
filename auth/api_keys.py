"""API keys: 'slk_<public id>_<secret>'. The public id finds the row; only the secret's SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "slk_"


def new_api_key() -> tuple[str, str, str]:
    """(full key to show once, public id, secret hash)."""
    public_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{PREFIX}{public_id}_{secret}", public_id, hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_api_key(key: str) -> tuple[str, str] | None:
    """(public id, secret) of a well-formed key, else None."""
    if not key.startswith(PREFIX):
        return None
    public_id, sep, secret = key[len(PREFIX) :].partition("_")
    if not sep or len(public_id) != 12 or not secret:
        return None
    return public_id, secret


def secret_matches(secret: str, stored_hash: str) -> bool:
    return secrets.compare_digest(hash_secret(secret), stored_hash)


def looks_like_api_key(token: str) -> bool:
    return token.startswith(PREFIX)
