"""Managing users, API keys and platform settings. Every one of these needs a two-factor session."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry import relay

from domain.errors import DomainError
from domain.services import api_keys as api_key_service
from domain.services import platform_settings
from domain.services import users as user_service
from domain.services.users import NewUser
from schema.auth.types import ApiKey, PlatformSettings, Role, User, api_key_from_row, settings_type, user_from_row
from schema.context import Info
from schema.disputes.types import LostDisputeBearerEnum
from schema.errors import DuplicateError, NotFoundError, ValidationError, user_error
from schema.ids import required_id
from schema.node import party_id_from_global_id
from schema.permissions import describe, requires


@strawberry.type(description="The user was created.")
class CreateUserSuccess:
    user: User = strawberry.field(description="The new user.")


@strawberry.type(description="The user was changed.")
class UpdateUserSuccess:
    user: User = strawberry.field(description="The user as it is now.")


@strawberry.type(description="The key was created. `key` is shown this once: store it in the partner system now.")
class CreateApiKeySuccess:
    api_key: ApiKey = strawberry.field(description="The key's record.")
    key: str = strawberry.field(description="The full key, for `Authorization: Bearer <key>`.")


@strawberry.type(description="The key was revoked; requests with it now fail.")
class RevokeApiKeySuccess:
    api_key: ApiKey = strawberry.field(description="The key's record.")


@strawberry.type(description="The settings were changed.")
class UpdatePlatformSettingsSuccess:
    settings: PlatformSettings = strawberry.field(description="The settings as they are now.")


CreateUserResult = Annotated[
    CreateUserSuccess | ValidationError | DuplicateError | NotFoundError,
    strawberry.union("CreateUserResult", description="The new user, or why not."),
]
UpdateUserResult = Annotated[
    UpdateUserSuccess | ValidationError | NotFoundError,
    strawberry.union("UpdateUserResult", description="The changed user, or why not."),
]
CreateApiKeyResult = Annotated[
    CreateApiKeySuccess | ValidationError | NotFoundError,
    strawberry.union("CreateApiKeyResult", description="The new key, or why not."),
]
RevokeApiKeyResult = Annotated[
    RevokeApiKeySuccess | NotFoundError, strawberry.union("RevokeApiKeyResult", description="The revoked key.")
]
UpdatePlatformSettingsResult = Annotated[
    UpdatePlatformSettingsSuccess | ValidationError,
    strawberry.union("UpdatePlatformSettingsResult", description="The new settings, or why not (nothing changed)."),
]


@strawberry.input(description="A new user.")
class CreateUserInput:
    email: str = strawberry.field(description="Login email, unique.")
    password: str = strawberry.field(description="Initial password, at least 12 characters.")
    role: Role = strawberry.field(description="A role of the party's kind, granting no more than you hold.")
    party_id: relay.GlobalID = strawberry.field(description="The party the user acts for.")
    display_name: str | None = strawberry.field(default=None, description="Name shown in consoles.")


@strawberry.input(description="A new role for a user.")
class UpdateUserRoleInput:
    id: relay.GlobalID = strawberry.field(description="The user.")
    role: Role = strawberry.field(description="The new role.")


@strawberry.input(description="A user to act on.")
class UserInput:
    id: relay.GlobalID = strawberry.field(description="The user.")


@strawberry.input(description="A new API key for a partner system.")
class CreateApiKeyInput:
    party_id: relay.GlobalID = strawberry.field(description="The party the key acts for.")
    name: str = strawberry.field(description="What the key is for, e.g. 'order system'.")
    permissions: list[str] = strawberry.field(description="Permissions, no wider than yours and fit for the party.")
    expires_at: datetime | None = strawberry.field(default=None, description="When the key stops working.")


@strawberry.input(description="An API key to revoke.")
class RevokeApiKeyInput:
    id: relay.GlobalID = strawberry.field(description="The key.")


@strawberry.input(description="Above this amount, a payout in its currency needs a second person's approval.")
class PayoutApprovalThresholdInput:
    amount: Decimal = strawberry.field(description='Major units as a decimal string, e.g. "50000.00".')
    currency: str = strawberry.field(description="ISO 4217 code, e.g. CNY; each currency once.")


@strawberry.input(description="Settings to change; omitted ones stay.")
class UpdatePlatformSettingsInput:
    party_users_require_mfa: bool | None = strawberry.field(
        default=None,
        description="Require two-factor login for merchant, logistics and supplier users (on by default). Turning "
        "it on ends their sessions that did not pass two-factor; turning it off is recorded.",
    )
    rules_need_second_approver: bool | None = strawberry.field(
        default=None, description="A rule version must be activated by someone other than its author."
    )
    payout_approval_thresholds: list[PayoutApprovalThresholdInput] | None = strawberry.field(
        default=None,
        description="Replaces the whole list of payout approval thresholds (one per currency; an empty list: every "
        "payout needs a second person).",
    )
    bank_change_second_approval_hours: int | None = strawberry.field(
        default=None,
        description="Hours (0 to 720) after a bank account change during which a payout to it needs two approvals.",
    )
    lost_dispute_bearer: LostDisputeBearerEnum | None = strawberry.field(
        default=None, description="Who bears the disputes lost from now on: MERCHANT_ONLY or PROPORTIONAL."
    )


def _user_id(global_id: relay.GlobalID) -> int:
    return required_id(global_id, "User", "user")


@strawberry.type
class AdminMutation:
    @strawberry.mutation(
        description=describe("Creates a user for a party in your scope.", "users:write"),
        extensions=[requires("users:write")],
    )
    async def create_user(self, info: Info, input: CreateUserInput) -> CreateUserResult:
        try:
            row = await user_service.create_user(
                info.context.principal,
                info.context.runtime,
                NewUser(
                    email=input.email,
                    password=input.password,
                    role=input.role.value,
                    party_id=await party_id_from_global_id(info, input.party_id),
                    display_name=input.display_name,
                ),
            )
        except DomainError as exc:
            return user_error(exc)
        return CreateUserSuccess(user=user_from_row(row))

    @strawberry.mutation(
        description=describe("Changes a user's role.", "users:write"), extensions=[requires("users:write")]
    )
    async def update_user_role(self, info: Info, input: UpdateUserRoleInput) -> UpdateUserResult:
        try:
            row = await user_service.update_user_role(
                info.context.principal, info.context.runtime, _user_id(input.id), input.role.value
            )
        except DomainError as exc:
            return user_error(exc)
        return UpdateUserSuccess(user=user_from_row(row))

    @strawberry.mutation(
        description=describe("Disables a user and ends their sessions.", "users:write"),
        extensions=[requires("users:write")],
    )
    async def disable_user(self, info: Info, input: UserInput) -> UpdateUserResult:
        try:
            row = await user_service.disable_user(info.context.principal, info.context.runtime, _user_id(input.id))
        except DomainError as exc:
            return user_error(exc)
        return UpdateUserSuccess(user=user_from_row(row))

    @strawberry.mutation(
        description=describe(
            "Unlocks a user locked out by failed login attempts (check with the person first); recorded as an "
            "auth event.",
            "users:write",
        ),
        extensions=[requires("users:write")],
    )
    async def unlock_user(self, info: Info, input: UserInput) -> UpdateUserResult:
        try:
            row = await user_service.unlock_user(info.context.principal, info.context.runtime, _user_id(input.id))
        except DomainError as exc:
            return user_error(exc)
        return UpdateUserSuccess(user=user_from_row(row))

    @strawberry.mutation(
        description=describe(
            "Turns a user's two-factor login off (a lost phone) and ends their "
            "sessions; they enrol again at next login.",
            "users:write",
        ),
        extensions=[requires("users:write")],
    )
    async def reset_user_mfa(self, info: Info, input: UserInput) -> UpdateUserResult:
        try:
            row = await user_service.reset_user_mfa(info.context.principal, info.context.runtime, _user_id(input.id))
        except DomainError as exc:
            return user_error(exc)
        return UpdateUserSuccess(user=user_from_row(row))

    @strawberry.mutation(
        description=describe("Creates an API key for a party; the key is shown once.", "apikeys:write"),
        extensions=[requires("apikeys:write")],
    )
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> CreateApiKeyResult:
        try:
            created = await api_key_service.create_api_key(
                info.context.principal,
                info.context.runtime,
                await party_id_from_global_id(info, input.party_id),
                input.name,
                input.permissions,
                input.expires_at,
            )
        except DomainError as exc:
            return user_error(exc)
        return CreateApiKeySuccess(api_key=api_key_from_row(created.api_key), key=created.key)

    @strawberry.mutation(
        description=describe("Revokes an API key.", "apikeys:write"), extensions=[requires("apikeys:write")]
    )
    async def revoke_api_key(self, info: Info, input: RevokeApiKeyInput) -> RevokeApiKeyResult:
        try:
            key_id = required_id(input.id, "ApiKey", "API key")
            row = await api_key_service.revoke_api_key(info.context.principal, info.context.runtime, key_id)
        except DomainError as exc:
            return user_error(exc)
        return RevokeApiKeySuccess(api_key=api_key_from_row(row))

    @strawberry.mutation(
        description=describe("Changes platform-wide settings.", "platform:configure"),
        extensions=[requires("platform:configure")],
    )
    async def update_platform_settings(
        self, info: Info, input: UpdatePlatformSettingsInput
    ) -> UpdatePlatformSettingsResult:
        thresholds = input.payout_approval_thresholds
        try:
            current = await platform_settings.update(
                info.context.principal,
                info.context.runtime,
                party_users_require_mfa=input.party_users_require_mfa,
                rules_need_second_approver=input.rules_need_second_approver,
                payout_approval_thresholds=None
                if thresholds is None
                else [platform_settings.ThresholdDraft(t.currency, t.amount) for t in thresholds],
                payout_bank_change_hours=input.bank_change_second_approval_hours,
                lost_dispute_bearer=input.lost_dispute_bearer,
            )
        except DomainError as exc:
            return user_error(exc)
        return UpdatePlatformSettingsSuccess(settings=settings_type(current))
