"""Personal data at rest: AES-GCM with key ids, bound to its purpose, tamper-evident, rotatable."""

from __future__ import annotations

import base64

import pytest

from auth.encryption import DataKeys, DecryptionFailed

KEYS = DataKeys(keys={"d1": b"\x01" * 32}, active_kid="d1")


def test_encrypting_twice_gives_different_ciphertexts_that_both_decrypt():
    first = KEYS.encrypt("6222021001234567", purpose="bank")
    second = KEYS.encrypt("6222021001234567", purpose="bank")
    assert first != second and "6222021001234567" not in first
    assert KEYS.decrypt(first, purpose="bank") == KEYS.decrypt(second, purpose="bank") == "6222021001234567"


def test_a_changed_ciphertext_does_not_decrypt():
    version, kid, body = KEYS.encrypt("6222021001234567", purpose="bank").split(":")
    raw = bytearray(base64.urlsafe_b64decode(body))
    for position in (0, 12, len(raw) - 1):  # nonce, ciphertext, tag
        altered = bytearray(raw)
        altered[position] ^= 0x01
        tampered = f"{version}:{kid}:{base64.urlsafe_b64encode(bytes(altered)).decode()}"
        with pytest.raises(DecryptionFailed):
            KEYS.decrypt(tampered, purpose="bank")


def test_a_ciphertext_moved_to_another_purpose_does_not_decrypt():
    with pytest.raises(DecryptionFailed):
        KEYS.decrypt(KEYS.encrypt("secret", purpose="bank"), purpose="email")


def test_old_ciphertexts_decrypt_after_rotation_and_new_ones_use_the_new_key():
    old = KEYS.encrypt("secret", purpose="bank")
    rotated = DataKeys(keys={"d2": b"\x02" * 32, "d1": b"\x01" * 32}, active_kid="d2")
    assert rotated.decrypt(old, purpose="bank") == "secret"
    assert rotated.key_id_of(rotated.encrypt("secret", purpose="bank")) == "d2"


def test_a_ciphertext_of_a_retired_key_fails_clearly():
    retired = DataKeys(keys={"d2": b"\x02" * 32}, active_kid="d2")
    with pytest.raises(DecryptionFailed, match="no key"):
        retired.decrypt(KEYS.encrypt("secret", purpose="bank"), purpose="bank")
