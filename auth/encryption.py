"""Authenticated encryption (AES-256-GCM) of personal data at rest, with key ids so keys can rotate."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_FORMAT = "v1"
_NONCE_BYTES = 12


class DecryptionFailed(Exception):
    """The ciphertext was altered, or was made with a key we no longer have."""


@dataclass(frozen=True)
class DataKeys:
    """Named 256-bit keys; the first encrypts, all decrypt."""

    keys: Mapping[str, bytes]
    active_kid: str

    def __post_init__(self) -> None:
        assert self.active_kid in self.keys
        for kid, key in self.keys.items():
            if len(key) != 32:
                raise ValueError(f"data key {kid!r} must be 32 bytes, got {len(key)}")
            if ":" in kid:
                raise ValueError(f"data key id {kid!r} must not contain ':'")

    def encrypt(self, plaintext: str, *, purpose: str) -> str:
        """`purpose` is bound as associated data: a ciphertext moved to another column will not decrypt."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self.keys[self.active_kid]).encrypt(nonce, plaintext.encode(), purpose.encode())
        return f"{_FORMAT}:{self.active_kid}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, ciphertext: str, *, purpose: str) -> str:
        try:
            version, kid, body = ciphertext.split(":", 2)
            if version != _FORMAT or kid not in self.keys:
                raise DecryptionFailed(f"no key {kid!r} for this ciphertext")
            raw = base64.urlsafe_b64decode(body.encode())
            plain = AESGCM(self.keys[kid]).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], purpose.encode())
        except (ValueError, InvalidTag) as exc:
            raise DecryptionFailed("ciphertext is corrupt or was tampered with") from exc
        return plain.decode()

    def key_id_of(self, ciphertext: str) -> str:
        return ciphertext.split(":", 2)[1]
