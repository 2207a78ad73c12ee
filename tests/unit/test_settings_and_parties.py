"""Settings from the environment, production refusals, and the pure party rules."""

from __future__ import annotations

import base64

import pytest

from api.settings import Settings, SettingsError
from auth.roles import PERMISSIONS, ROLE_PARTY_KIND, ROLE_PERMISSIONS, permissions_for
from domain.errors import ErrorCode, InvalidInput
from domain.money import Money
from domain.parties import (
    SettlementCycle,
    SettlementProfile,
    mask_account_number,
    name_key,
    normalize_name,
    validate_account_number,
)

PROD_KEYS = {
    "SPLITLEDGER_ENV": "production",
    "SPLITLEDGER_JWT_KEYS": "2026-11:" + "p" * 48,
    "SPLITLEDGER_DATA_KEYS": "2026-11:" + base64.urlsafe_b64encode(b"\x07" * 32).decode(),
}


def test_defaults_need_no_environment():
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite://") and not settings.is_production


def test_production_with_development_keys_is_unfit():
    problems = Settings.from_env({"SPLITLEDGER_ENV": "production"}).production_problems()
    assert any("SPLITLEDGER_JWT_KEYS" in p for p in problems)
    assert any("SPLITLEDGER_DATA_KEYS" in p for p in problems)


def test_production_with_own_keys_is_fit():
    assert Settings.from_env(PROD_KEYS).production_problems() == []


def test_create_app_refuses_production_with_default_keys():
    from api.app import create_app

    with pytest.raises(SettingsError, match="refusing to start in production"):
        create_app(Settings.from_env({"SPLITLEDGER_ENV": "production"}))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SPLITLEDGER_ENV": "staging"}, "SPLITLEDGER_ENV"),
        ({"SPLITLEDGER_JWT_KEYS": "no-colon"}, "key-id:secret"),
        ({"SPLITLEDGER_JWT_KEYS": "k:short"}, "at least 32"),
        ({"SPLITLEDGER_DATA_KEYS": "k:" + base64.urlsafe_b64encode(b"x" * 16).decode()}, "32 bytes"),
        ({"SPLITLEDGER_ACCESS_TOKEN_TTL_SECONDS": "soon"}, "whole number"),
    ],
)
def test_bad_settings_name_the_variable(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_key_lists_keep_order_so_the_first_key_is_active():
    settings = Settings.from_env({"SPLITLEDGER_JWT_KEYS": "new:" + "n" * 32 + ",old:" + "o" * 32})
    assert settings.signing_keys.active_kid == "new" and set(settings.signing_keys.keys) == {"new", "old"}


def test_every_role_grants_only_known_permissions_and_belongs_to_a_party_kind():
    assert set(ROLE_PERMISSIONS) == set(ROLE_PARTY_KIND)
    for granted in ROLE_PERMISSIONS.values():
        assert granted <= set(PERMISSIONS)
    assert "pii:reveal" not in permissions_for("platform_auditor")
    assert permissions_for("retired_role") == frozenset()


def test_names_fold_case_and_spacing():
    assert normalize_name("  Acme   Trading ") == "Acme Trading"
    assert name_key("ACME  trading") == name_key("acme trading")
    with pytest.raises(InvalidInput):
        normalize_name("   ")


@pytest.mark.parametrize(
    ("cycle", "anchor", "ok"),
    [
        (SettlementCycle.DAILY, 0, True),
        (SettlementCycle.DAILY, 3, False),
        (SettlementCycle.WEEKLY, 1, True),
        (SettlementCycle.WEEKLY, 8, False),
        (SettlementCycle.MONTHLY, 28, True),
        (SettlementCycle.MONTHLY, 31, True),
        (SettlementCycle.MONTHLY, 32, False),
    ],
)
def test_anchor_day_must_fit_the_cycle(cycle, anchor, ok):
    def build():
        return SettlementProfile("CNY", cycle, anchor, 1, Money(0, "CNY"), 7)

    if ok:
        build()
    else:
        with pytest.raises(InvalidInput) as caught:
            build()
        assert caught.value.code == ErrorCode.INVALID_ANCHOR_DAY


def test_minimum_payout_must_be_in_the_profile_currency():
    with pytest.raises(InvalidInput) as caught:
        SettlementProfile("CNY", SettlementCycle.DAILY, 0, 1, Money(100, "USD"), 7)
    assert caught.value.code == ErrorCode.CURRENCY_MISMATCH


def test_account_numbers_are_compacted_and_masked_to_the_last_four():
    assert validate_account_number("6222 0210 0123 4567") == "6222021001234567"
    assert mask_account_number("4567") == "****4567"
    with pytest.raises(InvalidInput):
        validate_account_number("12-34")
