"""Permissions declared on fields: strawberry's PermissionExtension over auth's permission strings."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission, PermissionExtension

from auth.roles import MFA_REQUIRED_PERMISSIONS
from domain.errors import ErrorCode


class IsAuthenticated(BasePermission):
    message = "authentication required: send 'Authorization: Bearer <access token>'"
    error_extensions = {"code": ErrorCode.UNAUTHENTICATED.value}

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return info.context.principal.is_authenticated


class HasPermission(BasePermission):
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def __init__(self, permission: str) -> None:
        self.permission = permission
        self.message = f"this field needs the permission {permission!r}"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return info.context.principal.holds(self.permission)


class PassedTwoFactor(BasePermission):
    """Second check for sensitive permissions: the caller holds it, but is this session two-factor?"""

    error_extensions = {"code": ErrorCode.MFA_REQUIRED.value}

    def __init__(self, permission: str) -> None:
        self.permission = permission
        self.message = f"the permission {permission!r} needs a session that passed two-factor login"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return info.context.principal.has(self.permission)


def requires(permission: str | None = None) -> PermissionExtension:
    """The field needs an authenticated caller and, when given, `permission`."""
    checks: list[BasePermission] = [IsAuthenticated()]
    if permission is not None:
        checks.append(HasPermission(permission))
        if permission in MFA_REQUIRED_PERMISSIONS:
            checks.append(PassedTwoFactor(permission))
    return PermissionExtension(permissions=checks, use_directives=False)


def describe(text: str, permission: str | None) -> str:
    """Field description that states the permission it needs (the SDL is the front ends' documentation)."""
    if permission is None:
        return f"{text} Requires a logged-in caller."
    if permission in MFA_REQUIRED_PERMISSIONS:
        return f"{text} Requires `{permission}` in a session that passed two-factor login."
    return f"{text} Requires `{permission}`."
