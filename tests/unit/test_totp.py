"""TOTP against RFC 6238's Appendix B vectors and, where installed, an independent implementation (oathtool)."""

from __future__ import annotations

import base64
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from auth import totp

# RFC 6238 Appendix B: the seed "12345678901234567890" (SHA-1), 8 digits.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]
NOW = datetime(2026, 11, 21, 12, 0, 10, tzinfo=UTC)


@pytest.mark.parametrize(("unix_time", "code"), RFC_VECTORS)
def test_codes_match_rfc_6238_appendix_b(unix_time, code):
    assert totp.code_at(RFC_SECRET, datetime.fromtimestamp(unix_time, UTC), digits=8) == code


@pytest.mark.skipif(shutil.which("oathtool") is None, reason="oathtool is not installed")
def test_codes_match_oathtool():
    secret = totp.new_secret()
    for offset in (0, 30, 3600, 86400 * 365):
        at = NOW + timedelta(seconds=offset)
        expected = subprocess.run(
            ["oathtool", "--totp", "-b", "--now", at.strftime("%Y-%m-%d %H:%M:%S UTC"), secret],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert totp.code_at(secret, at) == expected


def test_the_current_code_is_accepted_and_names_its_step():
    secret = totp.new_secret()
    assert totp.matching_step(secret, totp.code_at(secret, NOW), NOW, last_used_step=None) == totp.time_step(NOW)


@pytest.mark.parametrize("steps", [-1, 1])
def test_one_step_of_drift_is_accepted(steps):
    secret = totp.new_secret()
    code = totp.code_at(secret, NOW + timedelta(seconds=30 * steps))
    assert totp.matching_step(secret, code, NOW, last_used_step=None) == totp.time_step(NOW) + steps


@pytest.mark.parametrize("steps", [-2, 2, 10])
def test_two_steps_of_drift_are_rejected(steps):
    secret = totp.new_secret()
    code = totp.code_at(secret, NOW + timedelta(seconds=30 * steps))
    assert totp.matching_step(secret, code, NOW, last_used_step=None) is None


def test_a_code_is_not_accepted_twice_nor_an_older_one_after_it():
    secret = totp.new_secret()
    step = totp.matching_step(secret, totp.code_at(secret, NOW), NOW, last_used_step=None)
    assert totp.matching_step(secret, totp.code_at(secret, NOW), NOW, last_used_step=step) is None
    earlier = totp.code_at(secret, NOW - timedelta(seconds=30))
    assert totp.matching_step(secret, earlier, NOW, last_used_step=step) is None


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_malformed_codes_are_rejected(code):
    assert totp.matching_step(totp.new_secret(), code, NOW, last_used_step=None) is None


def test_provisioning_uri_names_the_issuer_and_the_user():
    uri = totp.provisioning_uri("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "ann@example.com")
    assert uri.startswith("otpauth://totp/Splitledger:ann%40example.com?")
    assert "issuer=Splitledger" in uri and "secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" in uri


def test_recovery_codes_are_ten_distinct_hashed_codes():
    codes = totp.new_recovery_codes()
    assert len(set(codes)) == 10 and all(totp.looks_like_recovery_code(code) for code in codes)
    assert totp.hash_recovery_code(codes[0].upper()) == totp.hash_recovery_code(codes[0].replace("-", ""))
    assert not totp.looks_like_recovery_code("123456")
