"""Login in two steps, two-factor enrolment, token refresh, sessions, logout and password changes."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import relay

from auth.roles import permissions_for
from domain.errors import AuthenticationFailed, DomainError, InvalidInput
from domain.services import identity
from domain.services import users as user_service
from domain.services.identity import ClientInfo, IssuedTokens, MfaTicketIssued
from schema.auth.types import (
    AuthFailure,
    AuthTokens,
    LogoutSuccess,
    MfaChallenge,
    MfaEnrollmentRequired,
    TotpEnrollment,
    TotpEnrollmentConfirmed,
    Viewer,
)
from schema.context import Info
from schema.errors import NotFoundError, ValidationError, user_error
from schema.ids import required_id
from schema.merchants.types import party_from_row
from schema.permissions import describe, requires

LoginResult = Annotated[
    AuthTokens | MfaChallenge | MfaEnrollmentRequired | AuthFailure | ValidationError,
    strawberry.union(
        "LoginResult",
        description="Tokens, the next two-factor step, why login failed, or an email or password over the limits.",
    ),
]
VerifyMfaResult = Annotated[
    AuthTokens | AuthFailure | ValidationError,
    strawberry.union("VerifyMfaResult", description="Tokens, why the code was refused, or a code over the limits."),
]
RefreshTokenResult = Annotated[
    AuthTokens | AuthFailure,
    strawberry.union("RefreshTokenResult", description="New tokens, or why the refresh token was refused."),
]
LogoutResult = Annotated[LogoutSuccess, strawberry.union("LogoutResult", description="The session was ended.")]
BeginTotpEnrollmentResult = Annotated[
    TotpEnrollment | AuthFailure | ValidationError,
    strawberry.union("BeginTotpEnrollmentResult", description="A secret to confirm, or why enrolment cannot start."),
]
ConfirmTotpEnrollmentResult = Annotated[
    TotpEnrollmentConfirmed | AuthFailure | ValidationError,
    strawberry.union("ConfirmTotpEnrollmentResult", description="Recovery codes, or why the code was refused."),
]


@strawberry.type(description="The session was revoked.")
class RevokeSessionSuccess:
    session_id: relay.GlobalID = strawberry.field(description="The revoked session (a `Session` global id).")


RevokeSessionResult = Annotated[
    RevokeSessionSuccess | NotFoundError,
    strawberry.union("RevokeSessionResult", description="The revoked session, or not found."),
]


@strawberry.type(description="The password was changed; the caller's other sessions were ended.")
class ChangePasswordSuccess:
    changed: bool = strawberry.field(description="Always true.")


ChangePasswordResult = Annotated[
    ChangePasswordSuccess | ValidationError,
    strawberry.union("ChangePasswordResult", description="Done, or why the password was refused."),
]


@strawberry.input(description="Email and password.")
class LoginInput:
    email: str = strawberry.field(description="Login email.")
    password: str = strawberry.field(description="Password.")


@strawberry.input(description="The second login step.")
class VerifyMfaInput:
    challenge_token: str = strawberry.field(description="From `MfaChallenge`.")
    code: str = strawberry.field(description="The 6-digit code from the authenticator app, or a recovery code.")


@strawberry.input(description="A refresh token from `login` or an earlier `refreshToken`.")
class RefreshTokenInput:
    refresh_token: str = strawberry.field(description="The refresh token; it can be used once.")


@strawberry.input(description="Starts two-factor enrolment: logged in, or with the token from `login`.")
class BeginTotpEnrollmentInput:
    enrollment_token: str | None = strawberry.field(
        default=None, description="From `MfaEnrollmentRequired`, when not logged in."
    )


@strawberry.input(description="Confirms enrolment with the first code the app shows.")
class ConfirmTotpEnrollmentInput:
    code: str = strawberry.field(description="The 6-digit code.")
    enrollment_token: str | None = strawberry.field(
        default=None, description="From `MfaEnrollmentRequired`, when not logged in."
    )


@strawberry.input(description="A session to end.")
class RevokeSessionInput:
    id: relay.GlobalID = strawberry.field(description="A `Session` id, from `sessions`.")


@strawberry.input(description="A new password for the caller.")
class ChangePasswordInput:
    current_password: str = strawberry.field(description="The password now.")
    new_password: str = strawberry.field(description="At least 12 characters.")


def tokens_type(issued: IssuedTokens) -> AuthTokens:
    user = issued.user
    viewer = Viewer(
        id=strawberry.ID(str(user.id)),
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        permissions=sorted(permissions_for(user.role)),
        mfa_passed=issued.mfa_passed,
        mfa_enabled=user.totp_enabled,
        party=party_from_row(user.party),
    )
    return AuthTokens(
        access_token=issued.access_token,
        access_token_expires_at=issued.access_token_expires_at,
        refresh_token=issued.refresh_token,
        refresh_token_expires_at=issued.refresh_token_expires_at,
        viewer=viewer,
    )


def client_of(info: Info) -> ClientInfo:
    request = info.context.request
    if request is None:
        return ClientInfo()
    return ClientInfo(
        ip_address=request.client.host if request.client else None, user_agent=request.headers.get("user-agent")
    )


def _failure(exc: AuthenticationFailed) -> AuthFailure:
    return AuthFailure(code=exc.code, message=exc.message)


def _no_store(info: Info) -> None:
    """Answers that may carry tokens must not be kept by a browser, a proxy or a shared cache."""
    response = info.context.response
    if response is not None:
        response.headers["cache-control"] = "no-store"
        response.headers["pragma"] = "no-cache"


@strawberry.type
class AuthMutation:
    @strawberry.mutation(
        description="Step one of login: email and password. A wrong email, a wrong password and a locked account "
        "get the same answer; 5 failures in a row lock the account for 15 minutes. Attempts are also limited per "
        "client address and per email (TOO_MANY_ATTEMPTS)."
    )
    async def login(self, info: Info, input: LoginInput) -> LoginResult:
        _no_store(info)
        try:
            outcome = await identity.login(info.context.runtime, input.email, input.password, client_of(info))
        except AuthenticationFailed as exc:
            return _failure(exc)
        except InvalidInput as exc:
            return user_error(exc)
        if isinstance(outcome, MfaTicketIssued):
            if outcome.purpose == identity.CHALLENGE:
                return MfaChallenge(challenge_token=outcome.token, expires_at=outcome.expires_at)
            return MfaEnrollmentRequired(enrollment_token=outcome.token, expires_at=outcome.expires_at)
        return tokens_type(outcome)

    @strawberry.mutation(
        description="Step two of login: a TOTP code (each accepted once) or an unused recovery "
        "code. Wrong codes count toward the lockout."
    )
    async def verify_mfa(self, info: Info, input: VerifyMfaInput) -> VerifyMfaResult:
        _no_store(info)
        try:
            issued = await identity.verify_mfa(info.context.runtime, input.challenge_token, input.code, client_of(info))
        except AuthenticationFailed as exc:
            return _failure(exc)
        except InvalidInput as exc:
            return user_error(exc)
        return tokens_type(issued)

    @strawberry.mutation(
        description="Starts two-factor enrolment: returns a new secret, its otpauth:// URI and "
        "a QR code. Logged in, or with the token from `MfaEnrollmentRequired`."
    )
    async def begin_totp_enrollment(self, info: Info, input: BeginTotpEnrollmentInput) -> BeginTotpEnrollmentResult:
        principal = info.context.principal if info.context.principal.is_authenticated else None
        try:
            started = await identity.begin_totp_enrollment(
                info.context.runtime, principal=principal, enrollment_token=input.enrollment_token
            )
        except AuthenticationFailed as exc:
            return _failure(exc)
        except InvalidInput as exc:
            return user_error(exc)
        return TotpEnrollment(secret=started.secret, otpauth_uri=started.otpauth_uri, qr_code_svg=started.qr_code_svg)

    @strawberry.mutation(
        description="Turns two-factor login on with the first code from the app; returns 10 "
        "recovery codes (shown once) and, when enrolling during login, the tokens."
    )
    async def confirm_totp_enrollment(
        self, info: Info, input: ConfirmTotpEnrollmentInput
    ) -> ConfirmTotpEnrollmentResult:
        _no_store(info)
        principal = info.context.principal if info.context.principal.is_authenticated else None
        try:
            confirmed = await identity.confirm_totp_enrollment(
                info.context.runtime,
                input.code,
                principal=principal,
                enrollment_token=input.enrollment_token,
                client=client_of(info),
            )
        except AuthenticationFailed as exc:
            return _failure(exc)
        except InvalidInput as exc:
            return user_error(exc)
        return TotpEnrollmentConfirmed(
            recovery_codes=confirmed.recovery_codes,
            tokens=tokens_type(confirmed.tokens) if confirmed.tokens else None,
        )

    @strawberry.mutation(
        description="Trades a refresh token for a new access token and refresh token. A "
        "refresh token works once; using it again ends the whole session."
    )
    async def refresh_token(self, info: Info, input: RefreshTokenInput) -> RefreshTokenResult:
        _no_store(info)
        try:
            issued = await identity.refresh(info.context.runtime, input.refresh_token)
        except AuthenticationFailed as exc:
            return _failure(exc)
        return tokens_type(issued)

    @strawberry.mutation(
        description=describe("Ends the caller's session and all its tokens.", None), extensions=[requires()]
    )
    async def logout(self, info: Info) -> LogoutResult:
        await identity.logout(info.context.principal, info.context.runtime)
        return LogoutSuccess(session_ended=True)

    @strawberry.mutation(
        description=describe("Ends one of the caller's sessions (another device).", None), extensions=[requires()]
    )
    async def revoke_session(self, info: Info, input: RevokeSessionInput) -> RevokeSessionResult:
        try:
            session_id = required_id(input.id, "Session", "session")
            session = await identity.revoke_session(info.context.principal, info.context.runtime, session_id)
        except DomainError as exc:
            return user_error(exc)
        return RevokeSessionSuccess(session_id=relay.GlobalID("Session", str(session.id)))

    @strawberry.mutation(
        description=describe("Changes the caller's password and ends their other sessions.", None),
        extensions=[requires()],
    )
    async def change_password(self, info: Info, input: ChangePasswordInput) -> ChangePasswordResult:
        try:
            await user_service.change_password(
                info.context.principal,
                info.context.runtime,
                input.current_password,
                input.new_password,
                client_of(info),
            )
        except DomainError as exc:
            return user_error(exc)
        return ChangePasswordSuccess(changed=True)
