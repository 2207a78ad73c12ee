"""Login, token refresh and logout."""

from __future__ import annotations

from typing import Annotated

import strawberry

from auth.roles import permissions_for
from domain.errors import AuthenticationFailed
from domain.services import identity
from domain.services.identity import ClientInfo, IssuedTokens
from schema.auth.types import AuthFailure, AuthTokens, LogoutSuccess, Viewer
from schema.context import Info
from schema.merchants.types import party_from_row
from schema.permissions import describe, requires

LoginResult = Annotated[
    AuthTokens | AuthFailure, strawberry.union("LoginResult", description="Tokens, or why login failed.")
]
RefreshTokenResult = Annotated[
    AuthTokens | AuthFailure,
    strawberry.union("RefreshTokenResult", description="New tokens, or why the refresh token was refused."),
]
LogoutResult = Annotated[LogoutSuccess, strawberry.union("LogoutResult", description="The session was ended.")]


@strawberry.input(description="Email and password.")
class LoginInput:
    email: str = strawberry.field(description="Login email.")
    password: str = strawberry.field(description="Password.")


@strawberry.input(description="A refresh token from `login` or an earlier `refreshToken`.")
class RefreshTokenInput:
    refresh_token: str = strawberry.field(description="The refresh token; it can be used once.")


def _tokens(issued: IssuedTokens) -> AuthTokens:
    user = issued.user
    viewer = Viewer(
        id=strawberry.ID(str(user.id)),
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        permissions=sorted(permissions_for(user.role)),
        mfa_passed=issued.mfa_passed,
        party=party_from_row(user.party),
    )
    return AuthTokens(
        access_token=issued.access_token,
        access_token_expires_at=issued.access_token_expires_at,
        refresh_token=issued.refresh_token,
        refresh_token_expires_at=issued.refresh_token_expires_at,
        viewer=viewer,
    )


def _client(info: Info) -> ClientInfo:
    request = info.context.request
    if request is None:
        return ClientInfo()
    return ClientInfo(
        ip_address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


@strawberry.type
class AuthMutation:
    @strawberry.mutation(
        description="Logs in with email and password. A wrong email and a wrong password get the same answer."
    )
    async def login(self, info: Info, input: LoginInput) -> LoginResult:
        try:
            issued = await identity.login(info.context.runtime, input.email, input.password, _client(info))
        except AuthenticationFailed as exc:
            return AuthFailure(code=exc.code, message=exc.message)
        return _tokens(issued)

    @strawberry.mutation(
        description="Trades a refresh token for a new access token and refresh token. A "
        "refresh token works once; using it again ends the whole session."
    )
    async def refresh_token(self, info: Info, input: RefreshTokenInput) -> RefreshTokenResult:
        try:
            issued = await identity.refresh(info.context.runtime, input.refresh_token)
        except AuthenticationFailed as exc:
            return AuthFailure(code=exc.code, message=exc.message)
        return _tokens(issued)

    @strawberry.mutation(
        description=describe("Ends the caller's session and all its tokens.", None), extensions=[requires()]
    )
    async def logout(self, info: Info) -> LogoutResult:
        await identity.logout(info.context.principal, info.context.runtime)
        return LogoutSuccess(session_ended=True)
