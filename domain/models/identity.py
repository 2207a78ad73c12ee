"""People who log in, their sessions, and the refresh tokens that keep a session alive."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class User(Model):
    id = fields.BigIntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)  # stored lower-cased
    display_name = fields.CharField(max_length=200)
    password_hash = fields.CharField(max_length=255)
    role = fields.CharField(max_length=40)
    party: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.Party", related_name="users", on_delete=fields.RESTRICT
    )
    party_id: int
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_login_at = fields.DatetimeField(null=True)

    class Meta:
        table = "users"


class AuthSession(Model):
    """One login: the family of refresh tokens that descend from it. Revoking it ends them all."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.User", related_name="sessions", on_delete=fields.RESTRICT
    )
    user_id: int
    mfa_passed = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    revoke_reason = fields.CharField(max_length=40, null=True)
    ip_address = fields.CharField(max_length=64, null=True)
    user_agent = fields.CharField(max_length=400, null=True)

    class Meta:
        table = "auth_sessions"


class RefreshToken(Model):
    """A refresh token, stored as its SHA-256. Used once: using it rotates it to a new one."""

    id = fields.BigIntField(primary_key=True)
    session: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.AuthSession", related_name="refresh_tokens", on_delete=fields.RESTRICT
    )
    session_id: int
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    rotated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "refresh_tokens"
