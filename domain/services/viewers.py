"""Who the caller is, for `viewer`: the user or the API key behind a principal and the party it acts for, read
through the same scoping as every other read (a caller always sees itself and its own party)."""

from __future__ import annotations

from dataclasses import dataclass

from auth.principal import Principal
from auth.scoping import readable
from domain.errors import AuthenticationFailed, NotFound
from domain.models import ApiKey, Party, User


@dataclass(frozen=True)
class Caller:
    party: Party
    user: User | None = None
    api_key: ApiKey | None = None


async def current_caller(principal: Principal) -> Caller:
    if not principal.is_authenticated or principal.party_id is None:
        raise AuthenticationFailed("authentication required", code="UNAUTHENTICATED")
    party = await readable(principal, Party).get_or_none(id=principal.party_id)
    if principal.user_id is not None:
        user = await readable(principal, User).get_or_none(id=principal.user_id)
        if user is None or party is None:
            raise NotFound("user")
        return Caller(party=party, user=user)
    api_key = await readable(principal, ApiKey).get_or_none(id=principal.api_key_id)
    if api_key is None or party is None:
        raise NotFound("API key")
    return Caller(party=party, api_key=api_key)
