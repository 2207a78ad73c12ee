"""Read fields of the auth area."""

from __future__ import annotations

import strawberry
from strawberry import relay

from domain.services import api_keys as api_key_service
from domain.services import auth_events, identity, platform_settings, viewers
from domain.services import users as user_service
from schema.auth.types import (
    ApiKey,
    AuthEvent,
    PlatformSettings,
    Session,
    User,
    Viewer,
    api_key_from_row,
    auth_event_from_row,
    settings_type,
    user_from_row,
    viewer_of,
)
from schema.context import Info
from schema.merchants.types import party_from_row
from schema.pagination import PAGE_ARGS_HELP, Connection, page_request, to_connection
from schema.permissions import describe, requires


@strawberry.type
class AuthQuery:
    @strawberry.field(
        description=describe(
            "Who is calling, for users and API keys alike: kind, party, permissions, whether two-factor "
            "login passed, and (with ledger:read) the party's balances.",
            None,
        ),
        extensions=[requires()],
    )
    async def viewer(self, info: Info) -> Viewer:
        principal = info.context.principal
        return viewer_of(await viewers.current_caller(principal), principal)

    @strawberry.field(
        description=describe("The logged-in user: role, permissions and party. Users only; see `viewer`.", None),
        extensions=[requires()],
        deprecation_reason="Use `viewer`, which also answers for API keys.",
    )
    async def me(self, info: Info) -> Viewer:
        principal = info.context.principal
        user = await identity.current_user(principal)
        return Viewer(
            id=strawberry.ID(str(user.id)),
            email=user.email,
            display_name=user.display_name,
            role=user.role,
            permissions=sorted(principal.permissions),
            mfa_passed=principal.mfa_passed,
            mfa_enabled=user.totp_enabled,
            party=party_from_row(user.party),
        )

    @strawberry.field(
        description=describe(f"The caller's open sessions. {PAGE_ARGS_HELP}", None), extensions=[requires()]
    )
    async def sessions(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Session]:
        principal = info.context.principal
        page = await identity.list_sessions(principal, info.context.runtime, page_request(first, after))
        return to_connection(
            page,
            lambda row: Session(
                id=relay.GlobalID("Session", str(row.id)),
                current=row.id == principal.session_id,
                mfa_passed=row.mfa_passed,
                created_at=row.created_at,
                last_used_at=row.last_used_at,
                expires_at=row.expires_at,
                ip_address=row.ip_address,
                user_agent=row.user_agent,
            ),
        )

    @strawberry.field(
        description=describe(f"Users in the caller's scope. {PAGE_ARGS_HELP}", "users:read"),
        extensions=[requires("users:read")],
    )
    async def users(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[User]:
        page = await user_service.list_users(info.context.principal, info.context.runtime, page_request(first, after))
        return to_connection(page, user_from_row)

    @strawberry.field(
        description=describe(f"API keys in the caller's scope, with their last use. {PAGE_ARGS_HELP}", "apikeys:read"),
        extensions=[requires("apikeys:read")],
    )
    async def api_keys(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[ApiKey]:
        page = await api_key_service.list_api_keys(
            info.context.principal, info.context.runtime, page_request(first, after)
        )
        return to_connection(page, api_key_from_row)

    @strawberry.field(
        description=describe(
            f"Authentication events: logins, failures, lockouts, enrolments, resets, keys. {PAGE_ARGS_HELP}",
            "audit:read",
        ),
        extensions=[requires("audit:read")],
    )
    async def auth_events(
        self, info: Info, first: int | None = None, after: str | None = None, kind: str | None = None
    ) -> Connection[AuthEvent]:
        page = await auth_events.list_events(
            info.context.principal, info.context.runtime, page_request(first, after), kind=kind
        )
        return to_connection(page, auth_event_from_row)

    @strawberry.field(
        description=describe("Platform-wide settings.", "platform:read"), extensions=[requires("platform:read")]
    )
    async def platform_settings(self, info: Info) -> PlatformSettings:
        return settings_type(await platform_settings.current())
