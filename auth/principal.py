"""Who is calling: a user or an API key, acting for one party, with a role's permissions."""

from __future__ import annotations

from dataclasses import dataclass, field

from auth.roles import MFA_REQUIRED_PERMISSIONS
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
        """Holds `permission` and may use it now (sensitive ones need a two-factor session)."""
        if permission not in self.permissions:
            return False
        return self.mfa_passed or permission not in MFA_REQUIRED_PERMISSIONS

    def holds(self, permission: str) -> bool:
        """Holds `permission` through its role or key, whether or not this session may use it now."""
        return permission in self.permissions


ANONYMOUS = Principal(user_id=None, party_id=None, party_kind=None, role=None)
