"""Platform-wide settings kept in the database, so an admin can change them without a deploy."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from tortoise.transactions import in_transaction

from auth.principal import Principal
from domain.disputes import DEFAULT_LOST_DISPUTE_BEARER, LostDisputeBearer
from domain.errors import FieldErrors, InvalidInput
from domain.models import AuthSession, PlatformSetting
from domain.money import Money, normalize_currency, parse_amount
from domain.services import auth_events
from domain.services.authorization import require
from domain.services.runtime import Runtime

PARTY_USERS_REQUIRE_MFA = "party_users_require_mfa"
RULES_NEED_SECOND_APPROVER = "rules_need_second_approver"
PAYOUT_APPROVAL_THRESHOLDS = "payout_approval_thresholds"
PAYOUT_BANK_CHANGE_HOURS = "payout_bank_change_hours"
LOST_DISPUTE_BEARER = "lost_dispute_bearer"

# Payouts above these amounts (minor units per currency) need an approver other than the person who started the
# settlement run; a currency missing here has no threshold, so every payout in it needs another person.
DEFAULT_PAYOUT_APPROVAL_THRESHOLDS: Mapping[str, int] = {"CNY": 5_000_000}  # CNY 50,000.00
# A payout to a bank account changed within this many hours needs two approvals by two people, whatever its amount.
DEFAULT_PAYOUT_BANK_CHANGE_HOURS = 72
MAX_PAYOUT_BANK_CHANGE_HOURS = 720


@dataclass(frozen=True)
class PlatformSettings:
    # On unless a platform admin turned it off: every person logs in with two factors, platform staff or not.
    party_users_require_mfa: bool = True
    rules_need_second_approver: bool = False
    payout_approval_thresholds: Mapping[str, int] = field(
        default_factory=lambda: dict(DEFAULT_PAYOUT_APPROVAL_THRESHOLDS)
    )
    payout_bank_change_hours: int = DEFAULT_PAYOUT_BANK_CHANGE_HOURS
    # Who bears a lost dispute (domain/disputes.py, LOST_DISPUTE_BEARER): the merchant alone unless changed.
    lost_dispute_bearer: LostDisputeBearer = DEFAULT_LOST_DISPUTE_BEARER


@dataclass(frozen=True)
class ThresholdDraft:
    """A payout approval threshold as a caller sends it: major units of `currency`."""

    currency: str
    amount: str | int | Decimal


async def current() -> PlatformSettings:
    rows = {row.key: json.loads(row.value) for row in await PlatformSetting.all()}
    thresholds = rows.get(PAYOUT_APPROVAL_THRESHOLDS, DEFAULT_PAYOUT_APPROVAL_THRESHOLDS)
    return PlatformSettings(
        party_users_require_mfa=bool(rows.get(PARTY_USERS_REQUIRE_MFA, True)),
        rules_need_second_approver=bool(rows.get(RULES_NEED_SECOND_APPROVER, False)),
        payout_approval_thresholds={str(currency): int(amount) for currency, amount in thresholds.items()},
        payout_bank_change_hours=int(rows.get(PAYOUT_BANK_CHANGE_HOURS, DEFAULT_PAYOUT_BANK_CHANGE_HOURS)),
        lost_dispute_bearer=LostDisputeBearer(rows.get(LOST_DISPUTE_BEARER, DEFAULT_LOST_DISPUTE_BEARER)),
    )


def _threshold(draft: ThresholdDraft, place: str) -> Money:
    currency = normalize_currency(draft.currency, field=f"{place}.currency")
    return parse_amount(draft.amount, currency, field=f"{place}.amount")


def _checked_thresholds(drafts: Sequence[ThresholdDraft]) -> dict[str, int]:
    """Currency -> amount in minor units; every amount and currency is checked, and all problems are reported."""
    errors = FieldErrors()
    thresholds: dict[str, int] = {}
    for index, draft in enumerate(drafts):
        place = f"payoutApprovalThresholds[{index}]"
        money = errors.check(partial(_threshold, draft, place))
        if money is None:
            continue
        if money.currency in thresholds:
            errors.errors.append(
                InvalidInput("INVALID_INPUT", f"{place}: {money.currency} is listed twice", field=f"{place}.currency")
            )
        thresholds[money.currency] = money.amount_minor
    errors.raise_any()
    return dict(sorted(thresholds.items()))


def _checked_hours(hours: int) -> int:
    if isinstance(hours, bool) or not isinstance(hours, int) or not 0 <= hours <= MAX_PAYOUT_BANK_CHANGE_HOURS:
        raise InvalidInput(
            "INVALID_INPUT",
            f"bankChangeSecondApprovalHours must be a whole number of hours from 0 to {MAX_PAYOUT_BANK_CHANGE_HOURS}",
            field="bankChangeSecondApprovalHours",
        )
    return hours


async def update(
    principal: Principal,
    runtime: Runtime,
    *,
    party_users_require_mfa: bool | None = None,
    rules_need_second_approver: bool | None = None,
    payout_approval_thresholds: Sequence[ThresholdDraft] | None = None,
    payout_bank_change_hours: int | None = None,
    lost_dispute_bearer: LostDisputeBearer | None = None,
) -> PlatformSettings:
    """Changes settings (platform:configure, so a two-factor session); each change is an auth event. Turning
    two-factor for party users on ends every open session that did not pass two-factor login: those users
    log in again and enrol. `payout_approval_thresholds` replaces the whole list (an empty list: no threshold in
    any currency, so every payout needs a second person). Everything is checked before anything is written."""
    require(principal, "platform:configure")
    thresholds = None if payout_approval_thresholds is None else _checked_thresholds(payout_approval_thresholds)
    hours = None if payout_bank_change_hours is None else _checked_hours(payout_bank_change_hours)
    before = await current()
    async with in_transaction():
        changes: tuple[tuple[str, object], ...] = (
            (PARTY_USERS_REQUIRE_MFA, party_users_require_mfa),
            (RULES_NEED_SECOND_APPROVER, rules_need_second_approver),
            (PAYOUT_APPROVAL_THRESHOLDS, thresholds),
            (PAYOUT_BANK_CHANGE_HOURS, hours),
            (LOST_DISPUTE_BEARER, None if lost_dispute_bearer is None else LostDisputeBearer(lost_dispute_bearer)),
        )
        for key, value in changes:
            if value is None:
                continue
            await PlatformSetting.update_or_create(
                key=key, defaults={"value": json.dumps(value), "updated_by_id": principal.user_id}
            )
            await auth_events.record(
                "platform_setting_changed",
                actor=principal,
                party_id=principal.party_id,
                detail=f"{key}={json.dumps(value) if isinstance(value, dict) else value}",
            )
        if party_users_require_mfa and not before.party_users_require_mfa:
            ended = await AuthSession.filter(revoked_at__isnull=True, mfa_passed=False).update(
                revoked_at=runtime.now(), revoke_reason="two_factor_required"
            )
            await auth_events.record(
                "sessions_ended",
                actor=principal,
                party_id=principal.party_id,
                detail=f"{ended} sessions without two-factor ended: two-factor is now required for everyone",
            )
    return await current()
