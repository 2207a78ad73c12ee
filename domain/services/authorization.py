"""Permission checks inside services: the schema declares permissions on fields, services check again."""

from __future__ import annotations

from auth.principal import Principal
from domain.errors import AuthenticationFailed, Forbidden


def require(principal: Principal, permission: str) -> None:
    if not principal.is_authenticated:
        raise AuthenticationFailed("authentication required", code="UNAUTHENTICATED")
    if not principal.has(permission):
        raise Forbidden(f"this action needs the permission {permission!r}")
