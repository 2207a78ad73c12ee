"""Permission checks inside services: the schema declares permissions on fields, services check again."""

from __future__ import annotations

from auth.principal import Principal
from domain.errors import AuthenticationFailed, Forbidden, MfaRequired


def require(principal: Principal, permission: str) -> None:
    if not principal.is_authenticated:
        raise AuthenticationFailed("authentication required", code="UNAUTHENTICATED")
    if not principal.holds(permission):
        raise Forbidden(f"this action needs the permission {permission!r}")
    if not principal.has(permission):
        raise MfaRequired(f"the permission {permission!r}")


def require_mfa(principal: Principal, action: str) -> None:
    """For sensitive actions inside a broader permission (changing a bank account under merchants:write)."""
    if not principal.mfa_passed:
        raise MfaRequired(action)
