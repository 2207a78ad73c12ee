"""API keys for partner systems, the record of authentication events, and platform-wide settings."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ApiKey(Model):
    """A key for a partner system: scoped to one party and a set of permissions, stored only as a hash."""

    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=16, unique=True)  # the part after the prefix, before the secret
    secret_hash = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    party: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.Party", related_name="api_keys", on_delete=fields.RESTRICT
    )
    party_id: int
    permissions = fields.TextField()  # space-separated, sorted
    created_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "splitledger.User", related_name="api_keys_created", on_delete=fields.RESTRICT, null=True
    )
    created_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_keys"

    @property
    def permission_set(self) -> frozenset[str]:
        return frozenset(self.permissions.split())


class AuthEvent(Model):
    """Something that happened to an identity: login success or failure, lockout, enrolment, key changes."""

    id = fields.BigIntField(primary_key=True)
    occurred_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    kind = fields.CharField(max_length=40, db_index=True)
    user_id = fields.BigIntField(null=True, db_index=True)  # whom it concerns
    party_id = fields.BigIntField(null=True, db_index=True)
    actor_user_id = fields.BigIntField(null=True)  # who did it, when not the user themself
    api_key_id = fields.BigIntField(null=True)
    ip_address = fields.CharField(max_length=64, null=True)
    user_agent = fields.CharField(max_length=400, null=True)
    detail = fields.CharField(max_length=400, null=True)

    class Meta:
        table = "auth_events"


class PlatformSetting(Model):
    """A named platform-wide setting, its value as JSON text."""

    key = fields.CharField(max_length=64, primary_key=True)
    value = fields.TextField()
    updated_at = fields.DatetimeField(auto_now=True)
    updated_by_id = fields.BigIntField(null=True)

    class Meta:
        table = "platform_settings"
