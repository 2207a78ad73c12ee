"""Who is calling: a user or an API key, acting for one party, with a role's permissions."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.parties import PartyKind


@dataclass(frozen=True)
class Principal:
    """Built once per request by the authentication backend; everything downstream reads only this."""

    user_id: int | None
    party_id: int | None
    party_kind: PartyKind | None
    role: str | None
    permissions: frozenset[str] = field(default_factory=frozenset)
    mfa_passed: bool = False
    session_id: int | None = None
    api_key_id: int | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None or self.api_key_id is not None

    def has(self, permission: str) -> bool:
        return permission in self.permissions


ANONYMOUS = Principal(user_id=None, party_id=None, party_kind=None, role=None)
