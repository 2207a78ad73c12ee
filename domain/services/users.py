"""Managing people: creating users, changing roles, disabling, resetting two-factor, changing passwords."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from auth import passwords
from auth.principal import Principal
from auth.roles import ROLE_PARTY_KIND, permissions_for
from auth.scoping import readable, writable
from domain.errors import AlreadyExists, DomainError, ErrorCode, Forbidden, InvalidInput, NotFound
from domain.models import AuthSession, Party, RecoveryCode, User
from domain.services import api_keys, auth_events, identity
from domain.services.auth_events import NO_CLIENT, ClientInfo
from domain.services.authorization import require
from domain.services.pagination import Page, PageRequest, fetch_page
from domain.services.runtime import Runtime


@dataclass(frozen=True)
class NewUser:
    email: str
    password: str
    role: str
    party_id: int
    display_name: str | None = None


def _check_grant(principal: Principal, role: str) -> None:
    """Nobody hands out more than they hold."""
    if role not in ROLE_PARTY_KIND:
        raise InvalidInput("UNKNOWN_ROLE", f"unknown role {role!r}; one of: {', '.join(ROLE_PARTY_KIND)}", field="role")
    beyond = permissions_for(role) - principal.permissions
    if beyond:
        raise Forbidden(f"role {role} grants permissions you do not hold: {', '.join(sorted(beyond))}")


async def create_user(principal: Principal, runtime: Runtime, new: NewUser) -> User:
    require(principal, "users:write")
    _check_grant(principal, new.role)
    if not await writable(principal, Party).filter(id=new.party_id).exists():
        raise NotFound("party", field="partyId")
    address = identity.normalize_email(new.email)
    actor = f"user:{principal.user_id}" if principal.user_id is not None else f"key:{principal.api_key_id}"
    if not await runtime.login_throttle.may_probe_emails(actor):
        raise InvalidInput(ErrorCode.TOO_MANY_ATTEMPTS, TOO_MANY_PROBES, field="email")
    await _refuse_taken_email(principal, runtime, actor, address, new.party_id)
    try:
        user = await identity.create_user_unchecked(address, new.password, new.role, new.party_id, new.display_name)
    except AlreadyExists:
        # Lost a race with a create of the same email: answer as if it had been seen above.
        await _refuse_taken_email(principal, runtime, actor, address, new.party_id)
        raise
    await auth_events.record(
        "user_created", user_id=user.id, party_id=user.party_id, actor=principal, detail=f"role {user.role}"
    )
    return await User.filter(id=user.id).select_related("party").get()


EMAIL_NOT_AVAILABLE = "this email cannot be used for a new user: choose another address, or ask the platform"
TOO_MANY_PROBES = "too many addresses were not available: no user can be created by you for a while; ask the platform"


async def _refuse_taken_email(principal: Principal, runtime: Runtime, actor: str, address: str, party_id: int) -> None:
    """A taken email is named as a duplicate only to a caller who may see its owner. Anyone else (a merchant
    admin, for an email of another party's user) gets an answer that names no user and no party; the attempt is
    recorded and counted, and a caller who gets it too often may create no user for a while (see
    LoginThrottle.may_probe_emails), so addresses cannot be enumerated."""
    existing = await User.filter(email=address).first()
    if existing is None:
        return
    if await readable(principal, User).filter(id=existing.id).exists():
        raise AlreadyExists("DUPLICATE_EMAIL", f"a user with email {address} already exists", field="email")
    await runtime.login_throttle.count_email_probe(actor)
    await auth_events.record(
        "user_create_refused", party_id=party_id, actor=principal, detail="email not available to this caller"
    )
    raise InvalidInput(ErrorCode.EMAIL_NOT_AVAILABLE, EMAIL_NOT_AVAILABLE, field="email")


async def _writable_user(principal: Principal, user_id: int) -> User:
    user = await writable(principal, User).select_for_update().get_or_none(id=user_id)
    if user is None:
        raise NotFound("user")
    if user.id == principal.user_id:
        raise InvalidInput("CANNOT_CHANGE_SELF", "ask another administrator to change your own account", field="id")
    return user


async def update_user_role(principal: Principal, runtime: Runtime, user_id: int, role: str) -> User:
    require(principal, "users:write")
    _check_grant(principal, role)
    async with in_transaction():
        user = await _writable_user(principal, user_id)
        party = await Party.get(id=user.party_id)
        if party.kind != ROLE_PARTY_KIND[role]:
            raise InvalidInput(
                "ROLE_PARTY_MISMATCH", f"role {role} is not for a {party.kind.lower()} user", field="role"
            )
        _check_grant(principal, user.role)  # no demoting someone who holds more than you
        old_role, user.role = user.role, role
        await user.save(update_fields=["role"])
        await auth_events.record(
            "user_role_changed",
            user_id=user.id,
            party_id=user.party_id,
            actor=principal,
            detail=f"{old_role} -> {role}",
        )
    return await User.filter(id=user.id).select_related("party").get()


async def disable_user(principal: Principal, runtime: Runtime, user_id: int) -> User:
    require(principal, "users:write")
    async with in_transaction():
        user = await _writable_user(principal, user_id)
        _check_grant(principal, user.role)
        user.is_active = False
        await user.save(update_fields=["is_active"])
        await api_keys.revoke_keys_created_by(principal, runtime, user)
        await AuthSession.filter(user_id=user.id, revoked_at__isnull=True).update(
            revoked_at=runtime.now(), revoke_reason="user_disabled"
        )
        await auth_events.record("user_disabled", user_id=user.id, party_id=user.party_id, actor=principal)
    return await User.filter(id=user.id).select_related("party").get()


async def unlock_user(principal: Principal, runtime: Runtime, user_id: int) -> User:
    """Lifts a lockout (failed attempts) at once, after the administrator has checked with the person."""
    require(principal, "users:write")
    async with in_transaction():
        user = await _writable_user(principal, user_id)
        _check_grant(principal, user.role)
        was_locked_until = user.locked_until
        await User.filter(id=user.id).update(locked_until=None, failed_attempts=0)
        await auth_events.record(
            "user_unlocked",
            user_id=user.id,
            party_id=user.party_id,
            actor=principal,
            detail=f"was locked until {was_locked_until.isoformat()}" if was_locked_until else "was not locked",
        )
    return await User.filter(id=user.id).select_related("party").get()


async def reset_user_mfa(principal: Principal, runtime: Runtime, user_id: int) -> User:
    """Turns two-factor off (a lost phone); the user enrols again at the next login. Ends their sessions."""
    require(principal, "users:write")
    now = runtime.now()
    async with in_transaction():
        user = await _writable_user(principal, user_id)
        _check_grant(principal, user.role)
        await User.filter(id=user.id).update(
            totp_secret_ciphertext=None, totp_pending_ciphertext=None, totp_enabled_at=None, totp_last_step=None
        )
        await RecoveryCode.filter(user_id=user.id, used_at__isnull=True).update(used_at=now)
        await AuthSession.filter(user_id=user.id, revoked_at__isnull=True).update(
            revoked_at=now, revoke_reason="mfa_reset"
        )
        await auth_events.record("mfa_reset", user_id=user.id, party_id=user.party_id, actor=principal)
    return await User.filter(id=user.id).select_related("party").get()


async def change_password(
    principal: Principal, runtime: Runtime, current_password: str, new_password: str, client: ClientInfo = NO_CLIENT
) -> None:
    """Changes the caller's own password and ends their other sessions."""
    for field, value in (("currentPassword", current_password), ("newPassword", new_password)):
        too_long = passwords.credential_too_long(None, value)
        if too_long:
            raise InvalidInput(ErrorCode.CREDENTIAL_TOO_LONG, too_long[1], field=field)
    user = await identity.current_user(principal)
    if not await passwords.verify_password_off_loop(current_password, user.password_hash):
        raise InvalidInput("WRONG_PASSWORD", "the current password is not right", field="currentPassword")
    problem = passwords.password_problem(new_password)
    if problem:
        raise InvalidInput("WEAK_PASSWORD", problem, field="newPassword")
    new_hash = await passwords.hash_password_off_loop(new_password)
    async with in_transaction():
        await User.filter(id=user.id).update(password_hash=new_hash)
        await (
            AuthSession.filter(user_id=user.id, revoked_at__isnull=True)
            .exclude(id=principal.session_id)
            .update(revoked_at=runtime.now(), revoke_reason="password_changed")
        )
        await auth_events.record("password_changed", user_id=user.id, party_id=user.party_id, client=client)


async def list_users(principal: Principal, runtime: Runtime, page: PageRequest) -> Page[User]:
    require(principal, "users:read")
    query = readable(principal, User).select_related("party")
    return await fetch_page(query, page.checked(runtime.max_page_size))


__all__ = ["DomainError", "NewUser"]


async def users_by_ids(principal: Principal, user_ids: list[int]) -> dict[int, User]:
    """For node lookups: users out of scope are simply missing."""
    require(principal, "users:read")
    rows = await readable(principal, User).filter(id__in=user_ids).select_related("party")
    return {row.id: row for row in rows}
