"""API keys for partner systems: shown once, stored hashed, scoped to one party and to permissions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from auth import api_keys
from auth.principal import Principal
from auth.roles import MFA_REQUIRED_PERMISSIONS, PERMISSIONS, grantable_to
from auth.scoping import readable, writable
from domain.errors import Forbidden, InvalidInput, NotFound
from domain.models import ApiKey, Party, User
from domain.parties import normalize_name
from domain.services import auth_events
from domain.services.authorization import require
from domain.services.pagination import Page, PageRequest, fetch_page
from domain.services.runtime import Runtime


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    key: str  # the only time the full key exists outside the caller's system


async def create_api_key(
    principal: Principal,
    runtime: Runtime,
    party_id: int,
    name: str,
    permissions: list[str],
    expires_at: datetime | None = None,
) -> CreatedApiKey:
    require(principal, "apikeys:write")
    label = normalize_name(name)
    wanted = frozenset(permissions)
    if not wanted:
        raise InvalidInput("INVALID_INPUT", "give the key at least one permission", field="permissions")
    unknown = wanted - set(PERMISSIONS)
    if unknown:
        raise InvalidInput(
            "UNKNOWN_PERMISSION", f"unknown permissions: {', '.join(sorted(unknown))}", field="permissions"
        )
    sensitive = wanted & MFA_REQUIRED_PERMISSIONS
    if sensitive:
        raise InvalidInput(
            "PERMISSION_NOT_GRANTABLE",
            f"API keys cannot hold two-factor permissions: {', '.join(sorted(sensitive))}",
            field="permissions",
        )
    beyond = wanted - principal.permissions
    if beyond:
        raise Forbidden(f"you cannot grant permissions you do not hold: {', '.join(sorted(beyond))}")
    if expires_at is not None and expires_at <= runtime.now():
        raise InvalidInput("INVALID_EXPIRY", "expiresAt must be in the future", field="expiresAt")
    party = await writable(principal, Party).get_or_none(id=party_id)
    if party is None:
        raise NotFound("party", field="partyId")
    unfit = wanted - grantable_to(party.kind)
    if unfit:
        raise InvalidInput(
            "PERMISSION_NOT_GRANTABLE",
            f"a {party.kind.lower()} cannot hold: {', '.join(sorted(unfit))}",
            field="permissions",
        )
    key, public_id, secret_hash = api_keys.new_api_key()
    async with in_transaction():
        row = await ApiKey.create(
            public_id=public_id,
            secret_hash=secret_hash,
            name=label,
            party_id=party.id,
            permissions=" ".join(sorted(wanted)),
            created_by_id=principal.user_id,
            expires_at=expires_at,
        )
        await auth_events.record(
            "api_key_created",
            party_id=party.id,
            actor=principal,
            detail=f"key {public_id} ({label}): {' '.join(sorted(wanted))}",
        )
    return CreatedApiKey(api_key=row, key=key)


async def revoke_api_key(principal: Principal, runtime: Runtime, key_id: int) -> ApiKey:
    require(principal, "apikeys:write")
    async with in_transaction():
        row = await writable(principal, ApiKey).select_for_update().get_or_none(id=key_id)
        if row is None:
            raise NotFound("API key")
        if row.revoked_at is None:
            row.revoked_at = runtime.now()
            await row.save(update_fields=["revoked_at"])
            await auth_events.record(
                "api_key_revoked", party_id=row.party_id, actor=principal, detail=f"key {row.public_id}"
            )
    return row


async def list_api_keys(principal: Principal, runtime: Runtime, page: PageRequest) -> Page[ApiKey]:
    require(principal, "apikeys:read")
    return await fetch_page(readable(principal, ApiKey), page.checked(runtime.max_page_size))


async def creators_by_ids(principal: Principal, creator_ids: list[int]) -> dict[int, User]:
    """The users who created keys, in one query, as far as the caller may see users (the rest are missing)."""
    if not creator_ids or not principal.holds("users:read"):
        return {}
    found = await readable(principal, User).filter(id__in=creator_ids).select_related("party")
    return {user.id: user for user in found}


async def revoke_keys_created_by(principal: Principal, runtime: Runtime, user: User) -> int:
    """A key acts for its party but was vouched for by its creator: when the creator is disabled, the keys
    they made stop working too (an administrator makes new ones for the partner). Call inside the caller's
    transaction."""
    keys = await ApiKey.filter(created_by_id=user.id, revoked_at__isnull=True).select_for_update()
    if not keys:
        return 0
    await ApiKey.filter(id__in=[key.id for key in keys]).update(revoked_at=runtime.now())
    for key in keys:
        await auth_events.record(
            "api_key_revoked",
            party_id=key.party_id,
            actor=principal,
            detail=f"key {key.public_id}: its creator (user {user.id}) was disabled",
        )
    return len(keys)


async def api_keys_by_ids(principal: Principal, key_ids: list[int]) -> dict[int, ApiKey]:
    """For node lookups: keys out of scope are simply missing."""
    require(principal, "apikeys:read")
    rows = await readable(principal, ApiKey).filter(id__in=key_ids)
    return {row.id: row for row in rows}
