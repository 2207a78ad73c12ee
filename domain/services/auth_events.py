"""The record of authentication events: who logged in or failed to, lockouts, enrolments, keys."""

from __future__ import annotations

from dataclasses import dataclass

from auth.principal import Principal
from auth.scoping import readable
from domain.models import AuthEvent
from domain.services.authorization import require
from domain.services.pagination import Page, PageRequest, fetch_page
from domain.services.runtime import Runtime


@dataclass(frozen=True)
class ClientInfo:
    ip_address: str | None = None
    user_agent: str | None = None


NO_CLIENT = ClientInfo()


async def record(
    kind: str,
    *,
    user_id: int | None = None,
    party_id: int | None = None,
    actor: Principal | None = None,
    client: ClientInfo = NO_CLIENT,
    detail: str | None = None,
) -> None:
    await AuthEvent.create(
        kind=kind,
        user_id=user_id,
        party_id=party_id,
        actor_user_id=actor.user_id if actor else None,
        api_key_id=actor.api_key_id if actor else None,
        ip_address=client.ip_address,
        user_agent=(client.user_agent or "")[:400] or None,
        detail=(detail or "")[:400] or None,
    )


async def list_events(
    principal: Principal, runtime: Runtime, page: PageRequest, *, kind: str | None = None, user_id: int | None = None
) -> Page[AuthEvent]:
    require(principal, "audit:read")
    query = readable(principal, AuthEvent)
    if kind:
        query = query.filter(kind=kind)
    if user_id is not None:
        query = query.filter(user_id=user_id)
    return await fetch_page(query, page.checked(runtime.max_page_size))
