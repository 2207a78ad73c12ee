"""Platform-wide settings kept in the database, so an admin can change them without a deploy."""

from __future__ import annotations

import json
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from auth.principal import Principal
from domain.models import AuthSession, PlatformSetting
from domain.services import auth_events
from domain.services.authorization import require
from domain.services.runtime import Runtime

PARTY_USERS_REQUIRE_MFA = "party_users_require_mfa"
RULES_NEED_SECOND_APPROVER = "rules_need_second_approver"


@dataclass(frozen=True)
class PlatformSettings:
    # On unless a platform admin turned it off: every person logs in with two factors, platform staff or not.
    party_users_require_mfa: bool = True
    rules_need_second_approver: bool = False


async def current() -> PlatformSettings:
    rows = {row.key: json.loads(row.value) for row in await PlatformSetting.all()}
    return PlatformSettings(
        party_users_require_mfa=bool(rows.get(PARTY_USERS_REQUIRE_MFA, True)),
        rules_need_second_approver=bool(rows.get(RULES_NEED_SECOND_APPROVER, False)),
    )


async def update(
    principal: Principal,
    runtime: Runtime,
    *,
    party_users_require_mfa: bool | None = None,
    rules_need_second_approver: bool | None = None,
) -> PlatformSettings:
    """Changes settings (platform:configure, so a two-factor session); each change is an auth event. Turning
    two-factor for party users on ends every open session that did not pass two-factor login: those users
    log in again and enrol."""
    require(principal, "platform:configure")
    before = await current()
    async with in_transaction():
        for key, value in (
            (PARTY_USERS_REQUIRE_MFA, party_users_require_mfa),
            (RULES_NEED_SECOND_APPROVER, rules_need_second_approver),
        ):
            if value is None:
                continue
            await PlatformSetting.update_or_create(
                key=key, defaults={"value": json.dumps(value), "updated_by_id": principal.user_id}
            )
            await auth_events.record(
                "platform_setting_changed", actor=principal, party_id=principal.party_id, detail=f"{key}={value}"
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
