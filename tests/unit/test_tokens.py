"""Access tokens: the server pins the algorithm and requires exp, iat, iss, aud; keys rotate by key id."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from auth.tokens import InvalidToken, SigningKeys, decode_access_token, hash_opaque_token, issue_access_token

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
KEY = b"k" * 32
KEYS = SigningKeys(keys={"k1": KEY}, active_kid="k1", issuer="splitledger", audience="splitledger-api")


def token(**overrides):
    claims = {
        "sub": "7",
        "sid": "9",
        "mfa": True,
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(minutes=15)).timestamp()),
        "iss": "splitledger",
        "aud": "splitledger-api",
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, KEY, algorithm="HS256", headers={"kid": "k1"})


def test_an_issued_token_decodes_to_its_claims():
    issued, expires = issue_access_token(
        KEYS, user_id=7, session_id=9, mfa_passed=True, now=NOW, ttl=timedelta(minutes=15)
    )
    claims = decode_access_token(KEYS, issued, now=NOW)
    assert (claims.user_id, claims.session_id, claims.mfa_passed) == (7, 9, True)
    assert claims.expires_at == expires


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud", "sub", "sid"])
def test_a_token_missing_a_required_claim_is_rejected(claim):
    with pytest.raises(InvalidToken):
        decode_access_token(KEYS, token(**{claim: None}), now=NOW)


def test_expired_token_is_rejected():
    with pytest.raises(InvalidToken, match="expired"):
        decode_access_token(KEYS, token(), now=NOW + timedelta(minutes=15))


@pytest.mark.parametrize(("claim", "value"), [("aud", "someone-else"), ("iss", "evil")])
def test_wrong_audience_or_issuer_is_rejected(claim, value):
    with pytest.raises(InvalidToken):
        decode_access_token(KEYS, token(**{claim: value}), now=NOW)


def test_alg_none_is_rejected():
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": "k1"}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps({"sub": "7"}).encode()).rstrip(b"=")
    with pytest.raises(InvalidToken):
        decode_access_token(KEYS, f"{header.decode()}.{body.decode()}.", now=NOW)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_another_algorithm_is_rejected():
    forged = jwt.encode({"sub": "7"}, KEY, algorithm="HS512", headers={"kid": "k1"})
    with pytest.raises(InvalidToken):
        decode_access_token(KEYS, forged, now=NOW)


def test_a_token_signed_with_another_key_is_rejected():
    claims = jwt.decode(token(), KEY, algorithms=["HS256"], audience="splitledger-api", options={"verify_exp": False})
    forged = jwt.encode(claims, b"x" * 32, algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(InvalidToken):
        decode_access_token(KEYS, forged, now=NOW)


def test_a_tampered_payload_is_rejected():
    header, _, signature = token().split(".")
    payload = base64.urlsafe_b64encode(json.dumps({"sub": "1", "sid": "9"}).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        decode_access_token(KEYS, f"{header}.{payload}.{signature}", now=NOW)


def test_unknown_key_id_is_rejected():
    stray = jwt.encode({"sub": "7"}, KEY, algorithm="HS256", headers={"kid": "k9"})
    with pytest.raises(InvalidToken, match="unknown signing key"):
        decode_access_token(KEYS, stray, now=NOW)


def test_after_rotation_old_tokens_verify_until_the_old_key_is_retired():
    old_token = token()
    rotated = SigningKeys(
        keys={"k2": b"n" * 32, "k1": KEY}, active_kid="k2", issuer="splitledger", audience="splitledger-api"
    )
    assert decode_access_token(rotated, old_token, now=NOW).user_id == 7
    new_token, _ = issue_access_token(
        rotated, user_id=1, session_id=2, mfa_passed=False, now=NOW, ttl=timedelta(minutes=1)
    )
    assert jwt.get_unverified_header(new_token)["kid"] == "k2"
    retired = SigningKeys(keys={"k2": b"n" * 32}, active_kid="k2", issuer="splitledger", audience="splitledger-api")
    with pytest.raises(InvalidToken):
        decode_access_token(retired, old_token, now=NOW)


def test_short_signing_keys_are_refused():
    with pytest.raises(ValueError, match="at least 32"):
        SigningKeys(keys={"k": b"short"}, active_kid="k", issuer="i", audience="a")


def test_opaque_tokens_are_stored_as_sha256():
    assert hash_opaque_token("slr_abc") == hash_opaque_token("slr_abc")
    assert len(hash_opaque_token("slr_abc")) == 64 and "slr_abc" not in hash_opaque_token("slr_abc")
