"""GraphQL types of the auth area."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.errors import ErrorCodeEnum
from schema.merchants.types import Party


@strawberry.type(description="The logged-in caller.")
class Viewer:
    id: strawberry.ID = strawberry.field(description="The user's id.")
    email: str = strawberry.field(description="Login email.")
    display_name: str = strawberry.field(description="Name shown in consoles.")
    role: str = strawberry.field(description="Role, which grants `permissions`.")
    permissions: list[str] = strawberry.field(description="Every permission the caller holds, sorted.")
    mfa_passed: bool = strawberry.field(description="Whether this session passed two-factor login.")
    party: Party = strawberry.field(description="The party the user acts for.")


@strawberry.type(
    description="Tokens of a session. Send the access token as `Authorization: Bearer <token>`; "
    "trade the refresh token for a new pair before the access token expires."
)
class AuthTokens:
    access_token: str = strawberry.field(description="Short-lived JWT.")
    access_token_expires_at: datetime = strawberry.field(description="When the access token stops working.")
    refresh_token: str = strawberry.field(description="Single-use token for `refreshToken`; store it safely.")
    refresh_token_expires_at: datetime = strawberry.field(description="When the session ends at the latest.")
    viewer: Viewer = strawberry.field(description="Who is logged in.")


@strawberry.type(description="Login or refresh failed. The message never says which part was wrong.")
class AuthFailure:
    code: ErrorCodeEnum = strawberry.field(description="AUTHENTICATION_FAILED or INVALID_REFRESH_TOKEN.")
    message: str = strawberry.field(description="For people.")


@strawberry.type(description="The session was ended.")
class LogoutSuccess:
    session_ended: bool = strawberry.field(description="Always true.")
