"""Logging in and out, refresh-token rotation, and turning an access token into a Principal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from auth import passwords
from auth.principal import Principal
from auth.roles import ROLE_PARTY_KIND, permissions_for
from auth.tokens import (
    InvalidToken,
    decode_access_token,
    hash_opaque_token,
    issue_access_token,
    new_refresh_token,
)
from domain.errors import AlreadyExists, AuthenticationFailed, InvalidInput, NotFound
from domain.models import AuthSession, Party, RefreshToken, User
from domain.parties import normalize_name
from domain.services.runtime import Runtime

# One answer for every way a login can fail, so the response never tells which part was wrong.
LOGIN_FAILED = "email or password is incorrect"


@dataclass(frozen=True)
class IssuedTokens:
    user: User  # with .party loaded
    mfa_passed: bool
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime


@dataclass(frozen=True)
class ClientInfo:
    ip_address: str | None = None
    user_agent: str | None = None


def normalize_email(email: str) -> str:
    cleaned = email.strip().lower()
    local, at, domain = cleaned.partition("@")
    if not at or not local or "." not in domain or " " in cleaned or len(cleaned) > 254:
        raise InvalidInput("INVALID_EMAIL", f"{email!r} is not an email address", field="email")
    return cleaned


async def login(runtime: Runtime, email: str, password: str, client: ClientInfo = ClientInfo()) -> IssuedTokens:
    """Checks the password and opens a session. Two-factor login will put a challenge between these steps."""
    user = await User.filter(email=email.strip().lower()).select_related("party").first()
    password_ok = passwords.verify_password(password, user.password_hash if user else None)
    if user is None or not password_ok or not user.is_active:
        raise AuthenticationFailed(LOGIN_FAILED)
    now = runtime.now()
    async with in_transaction():
        session = await AuthSession.create(
            user_id=user.id,
            mfa_passed=False,
            last_used_at=now,
            expires_at=now + runtime.refresh_token_ttl,
            ip_address=(client.ip_address or None),
            user_agent=(client.user_agent or "")[:400] or None,
        )
        refresh_token = await _new_refresh_token(session, now, runtime)
        user.last_login_at = now
        if passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash_password(password)
        await user.save(update_fields=["last_login_at", "password_hash"])
    access_token, access_expires = issue_access_token(
        runtime.signing_keys,
        user_id=user.id,
        session_id=session.id,
        mfa_passed=session.mfa_passed,
        now=now,
        ttl=runtime.access_token_ttl,
    )
    return IssuedTokens(user, session.mfa_passed, access_token, access_expires, refresh_token, session.expires_at)


async def _new_refresh_token(session: AuthSession, now: datetime, runtime: Runtime) -> str:
    token = new_refresh_token()
    await RefreshToken.create(
        session_id=session.id,
        token_hash=hash_opaque_token(token),
        expires_at=min(session.expires_at, now + runtime.refresh_token_ttl),
    )
    return token


async def refresh(runtime: Runtime, refresh_token: str) -> IssuedTokens:
    """Trades a refresh token for a new pair. A token used twice means it was stolen: the session ends."""
    now = runtime.now()
    reused = False
    async with in_transaction():
        stored = await RefreshToken.filter(token_hash=hash_opaque_token(refresh_token)).select_for_update().first()
        if stored is None:
            raise AuthenticationFailed("refresh token is invalid", code="INVALID_REFRESH_TOKEN")
        session = await AuthSession.filter(id=stored.session_id).select_for_update().get()
        if stored.rotated_at is not None:
            reused = True
            if session.revoked_at is None:
                session.revoked_at, session.revoke_reason = now, "refresh_token_reused"
                await session.save(update_fields=["revoked_at", "revoke_reason"])
        else:
            user = await User.filter(id=session.user_id).select_related("party").get()
            if (
                session.revoked_at is not None
                or session.expires_at <= now
                or stored.expires_at <= now
                or not user.is_active
            ):
                raise AuthenticationFailed("refresh token is invalid", code="INVALID_REFRESH_TOKEN")
            stored.rotated_at = now
            await stored.save(update_fields=["rotated_at"])
            session.last_used_at = now
            await session.save(update_fields=["last_used_at"])
            new_token = await _new_refresh_token(session, now, runtime)
    if reused:
        # Raised after the commit, so the revocation of the whole family stays.
        raise AuthenticationFailed(
            "refresh token was already used; the session has been ended", code="INVALID_REFRESH_TOKEN"
        )
    access_token, access_expires = issue_access_token(
        runtime.signing_keys,
        user_id=user.id,
        session_id=session.id,
        mfa_passed=session.mfa_passed,
        now=now,
        ttl=runtime.access_token_ttl,
    )
    return IssuedTokens(user, session.mfa_passed, access_token, access_expires, new_token, session.expires_at)


async def logout(principal: Principal, runtime: Runtime) -> None:
    """Ends the caller's session: its access tokens stop working and its refresh tokens with it."""
    if principal.session_id is None:
        raise AuthenticationFailed("authentication required", code="UNAUTHENTICATED")
    await AuthSession.filter(id=principal.session_id, revoked_at__isnull=True).update(
        revoked_at=runtime.now(), revoke_reason="logout"
    )


async def principal_for_access_token(runtime: Runtime, token: str) -> Principal:
    """Verifies an access token and the session behind it; raises AuthenticationFailed otherwise."""
    now = runtime.now()
    try:
        claims = decode_access_token(runtime.signing_keys, token, now=now)
    except InvalidToken as exc:
        raise AuthenticationFailed(f"access token rejected: {exc}", code="INVALID_TOKEN") from None
    session = (
        await AuthSession.filter(id=claims.session_id, user_id=claims.user_id).select_related("user__party").first()
    )
    if session is None or session.revoked_at is not None or session.expires_at <= now:
        raise AuthenticationFailed("access token rejected: session ended", code="INVALID_TOKEN")
    user: User = session.user
    if not user.is_active:
        raise AuthenticationFailed("access token rejected: user disabled", code="INVALID_TOKEN")
    party: Party = user.party
    return Principal(
        user_id=user.id,
        party_id=party.id,
        party_kind=party.kind,
        role=user.role,
        permissions=permissions_for(user.role),
        mfa_passed=session.mfa_passed and claims.mfa_passed,
        session_id=session.id,
    )


async def current_user(principal: Principal) -> User:
    if principal.user_id is None:
        raise AuthenticationFailed("authentication required", code="UNAUTHENTICATED")
    user = await User.filter(id=principal.user_id).select_related("party").first()
    if user is None:
        raise NotFound("user")
    return user


async def create_user_unchecked(
    email: str, password: str, role: str, party_id: int, display_name: str | None = None
) -> User:
    """Creates a user without asking who is asking: for the bootstrap command and demo data only."""
    address = normalize_email(email)
    problem = passwords.password_problem(password)
    if problem:
        raise InvalidInput("WEAK_PASSWORD", problem, field="password")
    if role not in ROLE_PARTY_KIND:
        raise InvalidInput("UNKNOWN_ROLE", f"unknown role {role!r}; one of: {', '.join(ROLE_PARTY_KIND)}", field="role")
    party = await Party.get_or_none(id=party_id)
    if party is None:
        raise NotFound("party", field="partyId")
    if party.kind != ROLE_PARTY_KIND[role]:
        raise InvalidInput(
            "ROLE_PARTY_MISMATCH",
            f"role {role} belongs to a {ROLE_PARTY_KIND[role].lower()} party, not a {party.kind.lower()}",
            field="role",
        )
    name = normalize_name(display_name or address.split("@")[0], field="displayName")
    if await User.filter(email=address).exists():
        raise AlreadyExists("DUPLICATE_EMAIL", f"a user with email {address} already exists", field="email")
    try:
        async with in_transaction():
            return await User.create(
                email=address,
                display_name=name,
                role=role,
                party_id=party.id,
                password_hash=passwords.hash_password(password),
            )
    except IntegrityError:
        raise AlreadyExists("DUPLICATE_EMAIL", f"a user with email {address} already exists", field="email") from None
