"""Logging in (password, then a second factor), sessions and refresh-token rotation, two-factor enrolment,
and turning an access token or an API key into a Principal."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta

import segno
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from auth import api_keys, passwords, totp
from auth.principal import Principal
from auth.roles import ROLE_PARTY_KIND, permissions_for, role_requires_mfa
from auth.scoping import readable, writable
from auth.tokens import InvalidToken, decode_access_token, hash_opaque_token, issue_access_token, new_refresh_token
from domain.errors import AlreadyExists, AuthenticationFailed, ErrorCode, InvalidInput, NotFound
from domain.models import ApiKey, AuthSession, MfaTicket, Party, RecoveryCode, RefreshToken, User
from domain.parties import normalize_name
from domain.services import auth_events, platform_settings
from domain.services.auth_events import NO_CLIENT, ClientInfo
from domain.services.pagination import Page, PageRequest, fetch_page
from domain.services.runtime import Runtime

__all__ = ["ClientInfo", "hash_opaque_token"]

# One answer for every way a login can fail (email, password, code, lockout), so it never tells which.
LOGIN_FAILED = "email, password or code is incorrect, or the account is temporarily locked"
TOTP_SECRET_PURPOSE = "user.totp_secret"
CHALLENGE, ENROLLMENT = "CHALLENGE", "ENROLLMENT"
TICKET_TTL = timedelta(minutes=5)
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedTokens:
    user: User  # with .party loaded
    mfa_passed: bool
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime


@dataclass(frozen=True)
class MfaTicketIssued:
    """The password was right; the caller must now give a code (CHALLENGE) or enrol (ENROLLMENT)."""

    purpose: str
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class TotpEnrollmentStarted:
    secret: str
    otpauth_uri: str
    qr_code_svg: str


@dataclass(frozen=True)
class TotpEnrollmentConfirmed:
    recovery_codes: list[str]
    tokens: IssuedTokens | None  # when enrolment finished a login


def normalize_email(email: str) -> str:
    too_long = passwords.credential_too_long(email, None)
    if too_long:
        raise InvalidInput(ErrorCode.CREDENTIAL_TOO_LONG, too_long[1], field="email")
    cleaned = email.strip().lower()
    local, at, domain = cleaned.partition("@")
    if not at or not local or "." not in domain or " " in cleaned:
        raise InvalidInput("INVALID_EMAIL", f"{email[:80]!r} is not an email address", field="email")
    return cleaned


def refuse_oversized_credentials(email: str | None, password: str | None) -> None:
    """A typed client error, before any lookup or hashing, for input no account can have."""
    too_long = passwords.credential_too_long(email, password)
    if too_long:
        raise InvalidInput(ErrorCode.CREDENTIAL_TOO_LONG, too_long[1], field=too_long[0])


MAX_CODE_LENGTH = 64  # a TOTP code is 6 digits and a recovery code 11 characters; anything far longer is junk


# --- login ---------------------------------------------------------------------------------------------


async def login(
    runtime: Runtime, email: str, password: str, client: ClientInfo = NO_CLIENT
) -> IssuedTokens | MfaTicketIssued:
    """Step one: the password. Returns tokens, or a ticket for the second step."""
    refuse_oversized_credentials(email, password)
    address = email.strip().lower()
    await _throttle(runtime, client, address)
    now = runtime.now()
    # The gate comes first, in one statement: concurrent guesses each take a slot or are refused, so no more
    # passwords are ever checked than the lockout allows, however many arrive at once.
    admitted = await _take_attempt(runtime, now, email=address)
    user = await User.filter(email=address).select_related("party").first()
    password_ok = await passwords.verify_password_off_loop(
        password, user.password_hash if user is not None and admitted else None
    )
    if user is None or not user.is_active or not user.party.is_active:
        await runtime.login_throttle.count_failure(address)
        await auth_events.record("login_failed", client=client, detail="unknown or disabled user or party")
        raise AuthenticationFailed(LOGIN_FAILED)
    if not admitted:
        await auth_events.record("login_refused_locked", user_id=user.id, party_id=user.party_id, client=client)
        raise AuthenticationFailed(LOGIN_FAILED)
    if not password_ok:
        await runtime.login_throttle.count_failure(address)
        await _register_failure(runtime, user, client, "wrong password")
        raise AuthenticationFailed(LOGIN_FAILED)
    if passwords.needs_rehash(user.password_hash):
        await User.filter(id=user.id).update(password_hash=await passwords.hash_password_off_loop(password))
    if user.totp_enabled:
        await _give_back_attempt(user.id)  # the password was right; the code will take a slot of its own
        return await _issue_ticket(user, CHALLENGE, now)
    settings = await platform_settings.current()
    if role_requires_mfa(user.role, party_users_require_mfa=settings.party_users_require_mfa):
        await _give_back_attempt(user.id)
        return await _issue_ticket(user, ENROLLMENT, now)
    return await _open_session(runtime, user, mfa_passed=False, client=client)


async def verify_mfa(runtime: Runtime, challenge_token: str, code: str, client: ClientInfo = NO_CLIENT) -> IssuedTokens:
    """Step two: a TOTP code or an unused recovery code for a challenge from `login`.

    A challenge is spent by the first code sent with it, right or wrong: a wrong code means logging in again
    (where the password gate counts), so one challenge can never carry more than one guess."""
    if len(code) > MAX_CODE_LENGTH:
        raise InvalidInput(
            ErrorCode.CREDENTIAL_TOO_LONG, f"a code has at most {MAX_CODE_LENGTH} characters", field="code"
        )
    await _throttle(runtime, client, None)
    now = runtime.now()
    ticket = await _spend_ticket(challenge_token, CHALLENGE, now)
    if not await _take_attempt(runtime, now, user_id=ticket.user_id):
        raise AuthenticationFailed(LOGIN_FAILED)
    user = await User.filter(id=ticket.user_id).select_related("party").get()
    if not user.is_active or not user.party.is_active or not user.totp_enabled:
        raise AuthenticationFailed(LOGIN_FAILED)
    if not await _accept_second_factor(runtime, user, code, now):
        await _register_failure(runtime, user, client, "wrong two-factor code")
        raise AuthenticationFailed(LOGIN_FAILED)
    return await _open_session(runtime, user, mfa_passed=True, client=client)


TOO_MANY_ATTEMPTS = "too many attempts from this address or for this account: wait a minute and try again"


async def _throttle(runtime: Runtime, client: ClientInfo, email: str | None) -> None:
    """Per client address and per email, before the account's own gate: a throttled attempt checks nothing
    and does not count toward the account's lockout."""
    if not await runtime.login_throttle.admit(address=client.ip_address, email=email):
        raise AuthenticationFailed(TOO_MANY_ATTEMPTS, code=ErrorCode.TOO_MANY_ATTEMPTS)


async def _take_attempt(
    runtime: Runtime, now: datetime, *, email: str | None = None, user_id: int | None = None
) -> bool:
    """Takes one of the account's attempts, atomically: true unless it is locked or every attempt is taken.

    `failed_attempts` counts attempts failed or still being checked; success resets it, a right password
    followed by a second step gives its slot back, and a failure that fills the last slot locks the account."""
    query = User.filter(email=email) if email is not None else User.filter(id=user_id)
    admitted = await (
        query.filter(failed_attempts__lt=runtime.lockout_attempts)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .update(failed_attempts=F("failed_attempts") + 1)
    )
    return bool(admitted)


async def _give_back_attempt(user_id: int) -> None:
    await User.filter(id=user_id, failed_attempts__gt=0).update(failed_attempts=F("failed_attempts") - 1)


async def _register_failure(runtime: Runtime, user: User, client: ClientInfo, why: str) -> None:
    """Records a failed attempt (its slot was taken at the gate); the failure that fills the last slot locks."""
    await auth_events.record("login_failed", user_id=user.id, party_id=user.party_id, client=client, detail=why)
    locked_until = runtime.now() + runtime.lockout_duration
    locked = await User.filter(id=user.id, failed_attempts__gte=runtime.lockout_attempts).update(
        locked_until=locked_until, failed_attempts=0
    )
    if locked:
        await auth_events.record(
            "account_locked",
            user_id=user.id,
            party_id=user.party_id,
            client=client,
            detail=f"{runtime.lockout_attempts} failed attempts; locked until {locked_until.isoformat()}",
        )


async def _accept_second_factor(runtime: Runtime, user: User, code: str, now: datetime) -> bool:
    if totp.looks_like_recovery_code(code):
        spent = await RecoveryCode.filter(
            user_id=user.id, code_hash=totp.hash_recovery_code(code), used_at__isnull=True
        ).update(used_at=now)
        if spent:
            await auth_events.record("recovery_code_used", user_id=user.id, party_id=user.party_id)
        return bool(spent)
    secret = runtime.data_keys.decrypt(user.totp_secret_ciphertext or "", purpose=TOTP_SECRET_PURPOSE)
    step = totp.matching_step(secret, code, now, last_used_step=user.totp_last_step)
    if step is None:
        return False
    # Conditional update: of two requests with the same code, only one moves the last step forward.
    claimed = await _claim_step(user.id, step)
    return claimed


async def _claim_step(user_id: int, step: int) -> bool:
    query = User.filter(id=user_id).filter(totp_last_step__isnull=True)
    if await query.update(totp_last_step=step):
        return True
    return bool(await User.filter(id=user_id, totp_last_step__lt=step).update(totp_last_step=step))


async def _issue_ticket(user: User, purpose: str, now: datetime) -> MfaTicketIssued:
    token = new_refresh_token().replace("slr_", "slm_", 1)
    expires_at = now + TICKET_TTL
    await MfaTicket.create(user_id=user.id, purpose=purpose, token_hash=hash_opaque_token(token), expires_at=expires_at)
    return MfaTicketIssued(purpose=purpose, token=token, expires_at=expires_at)


async def _spend_ticket(token: str, purpose: str, now: datetime) -> MfaTicket:
    """Marks a live ticket used, in one statement (of concurrent requests with it, exactly one gets it)."""
    token_hash = hash_opaque_token(token)
    spent = await MfaTicket.filter(
        token_hash=token_hash, purpose=purpose, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if not spent:
        raise AuthenticationFailed(
            "the two-factor step has expired or was already used: log in again", code=ErrorCode.INVALID_MFA_TICKET
        )
    return await MfaTicket.get(token_hash=token_hash)


async def _live_ticket(token: str, purpose: str, now: datetime) -> MfaTicket:
    ticket = await MfaTicket.filter(token_hash=hash_opaque_token(token), purpose=purpose).first()
    if ticket is None or ticket.used_at is not None or ticket.expires_at <= now:
        raise AuthenticationFailed(
            "the two-factor step has expired or was already used: log in again", code=ErrorCode.INVALID_MFA_TICKET
        )
    return ticket


async def _open_session(runtime: Runtime, user: User, *, mfa_passed: bool, client: ClientInfo) -> IssuedTokens:
    now = runtime.now()
    async with in_transaction():
        session = await AuthSession.create(
            user_id=user.id,
            mfa_passed=mfa_passed,
            last_used_at=now,
            expires_at=now + runtime.refresh_token_ttl,
            ip_address=client.ip_address,
            user_agent=(client.user_agent or "")[:400] or None,
        )
        refresh_token = await _new_refresh_token(session, now, runtime)
        await User.filter(id=user.id).update(last_login_at=now, failed_attempts=0, locked_until=None)
        await auth_events.record(
            "login_succeeded",
            user_id=user.id,
            party_id=user.party_id,
            client=client,
            detail="with two-factor" if mfa_passed else "password only",
        )
    return _tokens(runtime, user, session, refresh_token, now)


def _tokens(runtime: Runtime, user: User, session: AuthSession, refresh_token: str, now: datetime) -> IssuedTokens:
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
                or not user.party.is_active
                or not await _session_meets_policy(session, user)
            ):
                raise AuthenticationFailed("refresh token is invalid", code="INVALID_REFRESH_TOKEN")
            stored.rotated_at = now
            await stored.save(update_fields=["rotated_at"])
            session.last_used_at = now
            await session.save(update_fields=["last_used_at"])
            new_token = await _new_refresh_token(session, now, runtime)
    if reused:
        # Raised after the commit, so the revocation of the whole family stays.
        await auth_events.record("refresh_token_reused", user_id=session.user_id, detail=f"session {session.id}")
        raise AuthenticationFailed(
            "refresh token was already used; the session has been ended", code="INVALID_REFRESH_TOKEN"
        )
    return _tokens(runtime, user, session, new_token, now)


async def _session_meets_policy(session: AuthSession, user: User) -> bool:
    """A session without two-factor lives on only while the user's role may log in without it (the policy
    may have changed since, in this process or another)."""
    if session.mfa_passed:
        return True
    settings = await platform_settings.current()
    return not role_requires_mfa(user.role, party_users_require_mfa=settings.party_users_require_mfa)


# --- sessions ------------------------------------------------------------------------------------------


async def logout(principal: Principal, runtime: Runtime) -> None:
    """Ends the caller's session: its access tokens stop working and its refresh tokens with it."""
    if principal.session_id is None:
        raise AuthenticationFailed("authentication required", code="UNAUTHENTICATED")
    await AuthSession.filter(id=principal.session_id, revoked_at__isnull=True).update(
        revoked_at=runtime.now(), revoke_reason="logout"
    )


async def list_sessions(principal: Principal, runtime: Runtime, page: PageRequest) -> Page[AuthSession]:
    _require_user(principal)
    query = readable(principal, AuthSession).filter(revoked_at__isnull=True, expires_at__gt=runtime.now())
    return await fetch_page(query, page.checked(runtime.max_page_size))


async def revoke_session(principal: Principal, runtime: Runtime, session_id: int) -> AuthSession:
    _require_user(principal)
    async with in_transaction():
        session = await writable(principal, AuthSession).select_for_update().get_or_none(id=session_id)
        if session is None:
            raise NotFound("session")
        if session.revoked_at is None:
            session.revoked_at, session.revoke_reason = runtime.now(), "revoked_by_user"
            await session.save(update_fields=["revoked_at", "revoke_reason"])
    return session


def _require_user(principal: Principal) -> int:
    if principal.user_id is None:
        raise AuthenticationFailed("this needs a logged-in user (not an API key)", code="UNAUTHENTICATED")
    return principal.user_id


# --- principals ----------------------------------------------------------------------------------------


async def principal_for_bearer(runtime: Runtime, token: str) -> Principal:
    if api_keys.looks_like_api_key(token):
        return await principal_for_api_key(runtime, token)
    return await principal_for_access_token(runtime, token)


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
    party: Party = user.party
    if not user.is_active or not party.is_active:
        raise AuthenticationFailed("access token rejected: user or party disabled", code="INVALID_TOKEN")
    return Principal(
        user_id=user.id,
        party_id=party.id,
        party_kind=party.kind,
        role=user.role,
        permissions=permissions_for(user.role),
        mfa_passed=session.mfa_passed and claims.mfa_passed,
        session_id=session.id,
    )


async def principal_for_api_key(runtime: Runtime, key: str) -> Principal:
    parsed = api_keys.parse_api_key(key)
    now = runtime.now()
    stored = await ApiKey.filter(public_id=parsed[0]).select_related("party", "created_by").first() if parsed else None
    if (
        parsed is None
        or stored is None
        or not api_keys.secret_matches(parsed[1], stored.secret_hash)
        or stored.revoked_at is not None
        or (stored.expires_at is not None and stored.expires_at <= now)
        or not stored.party.is_active
        # Keys die with their creator (disabling revokes them too); this holds if a user is disabled otherwise.
        or (stored.created_by is not None and not stored.created_by.is_active)
    ):
        raise AuthenticationFailed("API key rejected: unknown, revoked or expired", code="INVALID_TOKEN")
    if stored.last_used_at is None or stored.last_used_at < now - API_KEY_TOUCH_INTERVAL:
        # Written at most once a minute per key, so a busy partner system does not write on every request.
        await ApiKey.filter(id=stored.id).update(last_used_at=now)
    return Principal(
        user_id=None,
        party_id=stored.party_id,
        party_kind=stored.party.kind,
        role=None,
        permissions=stored.permission_set,
        mfa_passed=False,
        api_key_id=stored.id,
    )


async def current_user(principal: Principal) -> User:
    user_id = _require_user(principal)
    user = await User.filter(id=user_id).select_related("party").first()
    if user is None:
        raise NotFound("user")
    return user


# --- two-factor enrolment ------------------------------------------------------------------------------


async def _enrolling_user(principal: Principal | None, enrollment_token: str | None, now: datetime) -> User:
    if enrollment_token:
        ticket = await _live_ticket(enrollment_token, ENROLLMENT, now)
        return await User.filter(id=ticket.user_id).select_related("party").get()
    if principal is None or principal.user_id is None:
        raise AuthenticationFailed("log in, or pass the enrollmentToken from login", code="UNAUTHENTICATED")
    return await current_user(principal)


async def begin_totp_enrollment(
    runtime: Runtime, *, principal: Principal | None = None, enrollment_token: str | None = None
) -> TotpEnrollmentStarted:
    now = runtime.now()
    user = await _enrolling_user(principal, enrollment_token, now)
    if user.totp_enabled:
        raise InvalidInput(
            "MFA_ALREADY_ENABLED", "two-factor login is already on; an administrator can reset it", field=None
        )
    secret = totp.new_secret()
    await User.filter(id=user.id).update(
        totp_pending_ciphertext=runtime.data_keys.encrypt(secret, purpose=TOTP_SECRET_PURPOSE)
    )
    uri = totp.provisioning_uri(secret, user.email)
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, xmldecl=False)
    return TotpEnrollmentStarted(secret=secret, otpauth_uri=uri, qr_code_svg=buffer.getvalue().decode())


async def confirm_totp_enrollment(
    runtime: Runtime,
    code: str,
    *,
    principal: Principal | None = None,
    enrollment_token: str | None = None,
    client: ClientInfo = NO_CLIENT,
) -> TotpEnrollmentConfirmed:
    now = runtime.now()
    user = await _enrolling_user(principal, enrollment_token, now)
    if user.totp_enabled:
        raise InvalidInput("MFA_ALREADY_ENABLED", "two-factor login is already on", field=None)
    if user.totp_pending_ciphertext is None:
        raise InvalidInput("MFA_NOT_STARTED", "call beginTotpEnrollment first", field=None)
    secret = runtime.data_keys.decrypt(user.totp_pending_ciphertext, purpose=TOTP_SECRET_PURPOSE)
    step = totp.matching_step(secret, code, now, last_used_step=None)
    if step is None:
        raise InvalidInput(
            "INVALID_MFA_CODE",
            "that code does not match: check the clock of the device and try the next code",
            field="code",
        )
    codes = totp.new_recovery_codes()
    async with in_transaction():
        changed = await User.filter(id=user.id, totp_enabled_at__isnull=True).update(
            totp_secret_ciphertext=user.totp_pending_ciphertext,
            totp_pending_ciphertext=None,
            totp_enabled_at=now,
            totp_last_step=step,
        )
        if not changed:
            raise InvalidInput("MFA_ALREADY_ENABLED", "two-factor login is already on", field=None)
        await RecoveryCode.filter(user_id=user.id, used_at__isnull=True).update(used_at=now)
        await RecoveryCode.bulk_create(
            [RecoveryCode(user_id=user.id, code_hash=totp.hash_recovery_code(c)) for c in codes]
        )
        await auth_events.record("mfa_enrolled", user_id=user.id, party_id=user.party_id, client=client)
        if enrollment_token:
            spent = await MfaTicket.filter(token_hash=hash_opaque_token(enrollment_token), used_at__isnull=True).update(
                used_at=now
            )
            if not spent:
                raise AuthenticationFailed("the enrolment step was already used", code=ErrorCode.INVALID_MFA_TICKET)
    user = await User.filter(id=user.id).select_related("party").get()
    tokens = await _open_session(runtime, user, mfa_passed=True, client=client) if enrollment_token else None
    return TotpEnrollmentConfirmed(recovery_codes=codes, tokens=tokens)


# --- bootstrap -----------------------------------------------------------------------------------------


async def create_user_unchecked(
    email: str, password: str, role: str, party_id: int, display_name: str | None = None
) -> User:
    """Creates a user without asking who is asking: for the bootstrap command, demo data and `users`."""
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
    password_hash = await passwords.hash_password_off_loop(password)
    try:
        async with in_transaction():
            return await User.create(
                email=address,
                display_name=name,
                role=role,
                party_id=party.id,
                password_hash=password_hash,
            )
    except IntegrityError:
        raise AlreadyExists("DUPLICATE_EMAIL", f"a user with email {address} already exists", field="email") from None


async def enroll_totp_unchecked(runtime: Runtime, user_id: int, secret: str) -> None:
    """Turns two-factor on with a known secret: for demo data (printed for an authenticator app) only."""
    await User.filter(id=user_id).update(
        totp_secret_ciphertext=runtime.data_keys.encrypt(secret, purpose=TOTP_SECRET_PURPOSE),
        totp_enabled_at=runtime.now(),
        totp_pending_ciphertext=None,
    )


async def demo_totp_secret(runtime: Runtime, email: str) -> str | None:
    """The TOTP secret of a demo user, to print next to its password: demo data only."""
    user = await User.filter(email=email.strip().lower()).first()
    if user is None or user.totp_secret_ciphertext is None:
        return None
    return runtime.data_keys.decrypt(user.totp_secret_ciphertext, purpose=TOTP_SECRET_PURPOSE)


async def demo_user_id(email: str) -> int | None:
    """The id of a demo user, for the demo's own approvals: demo data only."""
    user = await User.filter(email=email.strip().lower()).first()
    return user.id if user is not None else None
