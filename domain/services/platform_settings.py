"""Platform-wide settings kept in the database, so an admin can change them without a deploy."""

from __future__ import annotations

import json
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from auth.principal import Principal
from domain.models import PlatformSetting
from domain.services import auth_events
from domain.services.authorization import require

PARTY_USERS_REQUIRE_MFA = "party_users_require_mfa"
RULES_NEED_SECOND_APPROVER = "rules_need_second_approver"


@dataclass(frozen=True)
class PlatformSettings:
    party_users_require_mfa: bool = False
    rules_need_second_approver: bool = False


async def current() -> PlatformSettings:
    rows = {row.key: json.loads(row.value) for row in await PlatformSetting.all()}
    return PlatformSettings(
        party_users_require_mfa=bool(rows.get(PARTY_USERS_REQUIRE_MFA, False)),
        rules_need_second_approver=bool(rows.get(RULES_NEED_SECOND_APPROVER, False)),
    )


async def update(
    principal: Principal, *, party_users_require_mfa: bool | None = None, rules_need_second_approver: bool | None = None
) -> PlatformSettings:
    require(principal, "platform:configure")
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
    return await current()
