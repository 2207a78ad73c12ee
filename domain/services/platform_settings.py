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


@dataclass(frozen=True)
class PlatformSettings:
    party_users_require_mfa: bool = False


async def current() -> PlatformSettings:
    rows = {row.key: json.loads(row.value) for row in await PlatformSetting.all()}
    return PlatformSettings(party_users_require_mfa=bool(rows.get(PARTY_USERS_REQUIRE_MFA, False)))


async def update(principal: Principal, *, party_users_require_mfa: bool | None = None) -> PlatformSettings:
    require(principal, "platform:configure")
    async with in_transaction():
        if party_users_require_mfa is not None:
            await PlatformSetting.update_or_create(
                key=PARTY_USERS_REQUIRE_MFA,
                defaults={"value": json.dumps(party_users_require_mfa), "updated_by_id": principal.user_id},
            )
            await auth_events.record(
                "platform_setting_changed",
                actor=principal,
                party_id=principal.party_id,
                detail=f"{PARTY_USERS_REQUIRE_MFA}={party_users_require_mfa}",
            )
    return await current()
