"""GraphQL types of the auth area: the viewer, tokens, two-factor steps, sessions, users, API keys, events."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

import strawberry
from strawberry import relay
from strawberry.dataloader import DataLoader

from auth.api_keys import PREFIX as API_KEY_PREFIX
from auth.roles import ROLE_PARTY_KIND
from domain.money import Money as DomainMoney
from domain.services import api_keys as api_key_service
from domain.services import ledger as ledger_service
from domain.services import users as user_service
from schema.context import Info
from schema.disputes.types import LostDisputeBearerEnum
from schema.errors import ErrorCodeEnum
from schema.ledger.types import Balance, balance_from_row
from schema.merchants.types import Party, party_from_row, party_global_id
from schema.money import Money
from schema.permissions import describe, requires

Role = strawberry.enum(
    enum.Enum("Role", {role.upper(): role for role in ROLE_PARTY_KIND}),
    description="Roles; each grants a set of permissions (see the README's table).",
)


ViewerKind = strawberry.enum(
    enum.Enum("ViewerKind", {"USER": "USER", "API_KEY": "API_KEY"}),
    description="What is calling: USER (a person who logged in) or API_KEY (a partner system's key).",
)


@strawberry.type(
    description="Who is calling, a user or an API key, acting for one party: what it may do and, with "
    "`ledger:read`, what its party is owed, in one request."
)
class Viewer:
    # `id` and `role` are given as stored (a database id, a role name); the fields below expose them typed.
    id: strawberry.Private[object]
    role: strawberry.Private[str | None]
    email: str | None = strawberry.field(description="Login email; null for an API key.")
    display_name: str | None = strawberry.field(description="Name shown in consoles; an API key's name for a key.")
    permissions: list[str] = strawberry.field(description="Every permission the caller holds, sorted.")
    mfa_passed: bool = strawberry.field(
        description="Whether this session passed two-factor login (never for an API key, which cannot use the "
        "permissions that need it)."
    )
    mfa_enabled: bool = strawberry.field(
        description="Whether the user has two-factor login turned on; false for an API key."
    )
    party: Party = strawberry.field(description="The party the caller acts for.")
    api_key_row_id: strawberry.Private[int | None] = None

    @strawberry.field(name="id", description="A `User` id, or an `ApiKey` id when a key is calling.")
    def global_id(self) -> relay.GlobalID:
        if self.api_key_row_id is not None:
            return relay.GlobalID("ApiKey", str(self.api_key_row_id))
        return relay.GlobalID("User", str(self.id))

    @strawberry.field(description="USER or API_KEY.")
    def kind(self) -> ViewerKind:
        return ViewerKind.API_KEY if self.api_key_row_id is not None else ViewerKind.USER

    @strawberry.field(name="role", description="The user's role, which grants `permissions`; null for an API key.")
    def role_name(self) -> Role | None:
        return Role(self.role) if self.role else None

    @strawberry.field(
        description=describe("What the caller's own party is owed, per currency and bucket.", "ledger:read"),
        extensions=[requires("ledger:read")],
    )
    async def balances(self, info: Info) -> list[Balance]:
        rows = await ledger_service.balances(info.context.principal, int(self.party.id))
        return [balance_from_row(row) for row in rows]


def viewer_of(caller: Any, principal: Any) -> Viewer:
    """The viewer of a request, from `domain.services.viewers.current_caller`."""
    if caller.api_key is not None:
        return Viewer(
            id=caller.api_key.id,
            api_key_row_id=caller.api_key.id,
            role=None,
            email=None,
            display_name=caller.api_key.name,
            permissions=sorted(principal.permissions),
            mfa_passed=False,
            mfa_enabled=False,
            party=party_from_row(caller.party),
        )
    return Viewer(
        id=caller.user.id,
        role=caller.user.role,
        email=caller.user.email,
        display_name=caller.user.display_name,
        permissions=sorted(principal.permissions),
        mfa_passed=principal.mfa_passed,
        mfa_enabled=caller.user.totp_enabled,
        party=party_from_row(caller.party),
    )


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


@strawberry.type(
    description="The password was right; now send a code from the authenticator app (or a recovery "
    "code) with `verifyMfa`."
)
class MfaChallenge:
    challenge_token: str = strawberry.field(description="Pass to `verifyMfa`; valid for 5 minutes, once.")
    expires_at: datetime = strawberry.field(description="When the challenge expires.")


@strawberry.type(
    description="The password was right, but this role requires two-factor login and none is set "
    "up: call `beginTotpEnrollment` then `confirmTotpEnrollment` with this token."
)
class MfaEnrollmentRequired:
    enrollment_token: str = strawberry.field(description="Pass to the enrolment mutations; valid 5 minutes.")
    expires_at: datetime = strawberry.field(description="When the token expires.")


@strawberry.type(description="Login, a code or a token was refused. The message never says which part was wrong.")
class AuthFailure:
    code: ErrorCodeEnum = strawberry.field(
        description="AUTHENTICATION_FAILED, INVALID_REFRESH_TOKEN, INVALID_MFA_TICKET, or TOO_MANY_ATTEMPTS when "
        "this address or this email tried too often (wait and retry; the account is not locked by it)."
    )
    message: str = strawberry.field(description="For people.")


@strawberry.type(description="The session was ended.")
class LogoutSuccess:
    session_ended: bool = strawberry.field(description="Always true.")


@strawberry.type(description="A new TOTP secret to add to an authenticator app; confirm it with a code.")
class TotpEnrollment:
    secret: str = strawberry.field(description="Base32 secret, for typing into an app by hand.")
    otpauth_uri: str = strawberry.field(description="otpauth:// URI (issuer Splitledger, the user's email).")
    qr_code_svg: str = strawberry.field(description="The URI as a QR code, an SVG document.")


@strawberry.type(description="Two-factor login is on.")
class TotpEnrollmentConfirmed:
    recovery_codes: list[str] = strawberry.field(
        description="Ten single-use codes for when the phone is lost. Shown this once; store them safely."
    )
    tokens: AuthTokens | None = strawberry.field(
        description="A two-factor session, when enrolment was part of a login."
    )


@strawberry.type(description="A login session of the caller.")
class Session:
    id: relay.GlobalID = strawberry.field(description="Session id (a global id), for `revokeSession`.")
    current: bool = strawberry.field(description="Whether this is the session making the request.")
    mfa_passed: bool = strawberry.field(description="Whether it passed two-factor login.")
    created_at: datetime = strawberry.field(description="When it started.")
    last_used_at: datetime = strawberry.field(description="When its refresh token was last used.")
    expires_at: datetime = strawberry.field(description="When it ends at the latest.")
    ip_address: str | None = strawberry.field(description="Address it logged in from.")
    user_agent: str | None = strawberry.field(description="Client it logged in with.")


@strawberry.type(description="A person who logs in.")
class User(relay.Node):
    id: relay.NodeID[int]
    email: str = strawberry.field(description="Login email.")
    display_name: str = strawberry.field(description="Name shown in consoles.")
    role: Role = strawberry.field(description="Role.")
    is_active: bool = strawberry.field(description="Disabled users cannot log in.")
    mfa_enabled: bool = strawberry.field(description="Whether two-factor login is on.")
    locked_until: datetime | None = strawberry.field(description="Set while locked after failed attempts.")
    last_login_at: datetime | None = strawberry.field(description="Last successful login.")
    created_at: datetime = strawberry.field(description="When the user was created.")
    party: Party = strawberry.field(description="The party the user acts for.")

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False) -> list[Any]:
        rows = await user_service.users_by_ids(info.context.principal, [int(i) for i in node_ids])
        return [user_from_row(rows[int(i)]) if int(i) in rows else None for i in node_ids]


def user_from_row(row: Any) -> User:
    return User(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        role=Role(row.role),
        is_active=row.is_active,
        mfa_enabled=row.totp_enabled,
        locked_until=row.locked_until,
        last_login_at=row.last_login_at,
        created_at=row.created_at,
        party=party_from_row(row.party),
    )


@strawberry.type(description="A key a partner system uses as `Authorization: Bearer <key>`.")
class ApiKey(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="What the key is for.")
    key_prefix: str = strawberry.field(description="The start of the key, to recognise it (the rest is secret).")
    permissions: list[str] = strawberry.field(description="What the key may do.")
    created_at: datetime = strawberry.field(description="When it was created.")
    expires_at: datetime | None = strawberry.field(description="When it stops working, if ever.")
    revoked_at: datetime | None = strawberry.field(description="When it was revoked.")
    last_used_at: datetime | None = strawberry.field(description="Last use, to the minute.")
    party_id: strawberry.Private[int]
    created_by_id: strawberry.Private[int | None] = None

    @strawberry.field(description="The party the key acts for.")
    async def party(self, info: Info) -> Party | None:
        row = await info.context.loaders.party.load(self.party_id)
        return party_from_row(row) if row is not None else None

    @strawberry.field(
        description="The user who created the key; null when you may not see that user (or a command made it). "
        "Disabling the creator revokes the key."
    )
    async def created_by(self, info: Info) -> User | None:
        if self.created_by_id is None:
            return None
        row = await _creator_loader(info).load(self.created_by_id)
        return user_from_row(row) if row is not None else None

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False) -> list[Any]:
        ids = [int(i) for i in node_ids]
        rows = await api_key_service.api_keys_by_ids(info.context.principal, ids)
        return [api_key_from_row(rows[i]) if i in rows else None for i in ids]


def api_key_from_row(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        key_prefix=f"{API_KEY_PREFIX}{row.public_id}_",
        permissions=sorted(row.permission_set),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        party_id=row.party_id,
        created_by_id=row.created_by_id,
    )


# One loader of key creators per request (keyed by the request's loaders), so a page of keys costs one query.
_creator_loaders: WeakKeyDictionary[Any, DataLoader[int, Any]] = WeakKeyDictionary()


def _creator_loader(info: Info) -> DataLoader[int, Any]:
    loaders = info.context.loaders
    if loaders not in _creator_loaders:
        principal = info.context.principal

        async def load(ids: list[int]) -> list[Any]:
            found = await api_key_service.creators_by_ids(principal, list(ids))
            return [found.get(user_id) for user_id in ids]

        _creator_loaders[loaders] = DataLoader(load_fn=load)
    return _creator_loaders[loaders]


@strawberry.type(description="Something that happened to an identity.")
class AuthEvent:
    id: relay.GlobalID = strawberry.field(description="Event id (an `AuthEvent` id).")
    occurred_at: datetime = strawberry.field(description="When.")
    kind: str = strawberry.field(
        description="login_succeeded, login_failed, account_locked, mfa_enrolled, "
        "mfa_reset, api_key_created, api_key_revoked, user_created, ..."
    )
    user_id: relay.GlobalID | None = strawberry.field(description="The user it concerns (a `User` id).")
    actor_user_id: relay.GlobalID | None = strawberry.field(description="Who did it, when not the user (a `User` id).")
    api_key_id: relay.GlobalID | None = strawberry.field(description="The API key that did it (an `ApiKey` id).")
    ip_address: str | None = strawberry.field(description="Client address.")
    user_agent: str | None = strawberry.field(description="Client software.")
    detail: str | None = strawberry.field(description="More about it.")
    party_row_id: strawberry.Private[int | None]

    @strawberry.field(description="The party it concerns: a global id of its kind's type.")
    async def party_id(self, info: Info) -> relay.GlobalID | None:
        return await party_global_id(info, self.party_row_id) if self.party_row_id is not None else None


def _gid(type_name: str, value: int | None) -> relay.GlobalID | None:
    return relay.GlobalID(type_name, str(value)) if value is not None else None


def auth_event_from_row(row: Any) -> AuthEvent:
    return AuthEvent(
        id=relay.GlobalID("AuthEvent", str(row.id)),
        occurred_at=row.occurred_at,
        kind=row.kind,
        user_id=_gid("User", row.user_id),
        party_row_id=row.party_id,
        actor_user_id=_gid("User", row.actor_user_id),
        api_key_id=_gid("ApiKey", row.api_key_id),
        ip_address=row.ip_address,
        user_agent=row.user_agent,
        detail=row.detail,
    )


@strawberry.type(description="Platform-wide settings.")
class PlatformSettings:
    party_users_require_mfa: bool = strawberry.field(
        description="Whether merchant, logistics and supplier users must use two-factor login (platform staff "
        "always must)."
    )
    rules_need_second_approver: bool = strawberry.field(
        description="Whether a rule version must be activated by someone other than its author."
    )
    payout_approval_thresholds: list[Money] = strawberry.field(
        description="Per currency, the amount above which a payout must be approved by someone other than the "
        "person who started its settlement run. A currency not listed has no threshold: every payout in it needs "
        "another person."
    )
    bank_change_second_approval_hours: int = strawberry.field(
        description="A payout to a bank account changed within this many hours needs two approvals by two people, "
        "whatever its amount (0: never)."
    )
    lost_dispute_bearer: LostDisputeBearerEnum = strawberry.field(
        description="Who bears a lost dispute (chargeback): MERCHANT_ONLY out of the box, or PROPORTIONAL."
    )


def settings_type(current: Any) -> PlatformSettings:
    return PlatformSettings(
        party_users_require_mfa=current.party_users_require_mfa,
        rules_need_second_approver=current.rules_need_second_approver,
        payout_approval_thresholds=[
            Money.of(DomainMoney(amount, currency)) for currency, amount in current.payout_approval_thresholds.items()
        ],
        bank_change_second_approval_hours=current.payout_bank_change_hours,
        lost_dispute_bearer=current.lost_dispute_bearer,
    )
