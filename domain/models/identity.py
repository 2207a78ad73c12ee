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
    # Two-factor: the TOTP secret is encrypted like any personal data; the last accepted time step makes every
    # code single-use.
    totp_secret_ciphertext = fields.TextField(null=True)
    totp_pending_ciphertext = fields.TextField(null=True)
    totp_enabled_at = fields.DatetimeField(null=True)
    totp_last_step = fields.BigIntField(null=True)
    # Failed password or code attempts in a row; at the limit the account is locked until locked_until.
    failed_attempts = fields.SmallIntField(default=0)
    locked_until = fields.DatetimeField(null=True)

    class Meta:
        table = "users"

    @property
    def totp_enabled(self) -> bool:
        return self.totp_enabled_at is not None and self.totp_secret_ciphertext is not None


class RecoveryCode(Model):
    """A one-time code that stands in for a TOTP code (a lost phone), stored as its SHA-256."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.User", related_name="recovery_codes", on_delete=fields.RESTRICT
    )
    user_id: int
    code_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "recovery_codes"
        unique_together = (("user", "code_hash"),)


class MfaTicket(Model):
    """The short-lived proof that a password was right, traded for tokens with a second factor.

    CHALLENGE: the user has two-factor and must give a code. ENROLLMENT: the role requires two-factor and
    the user must enrol first. Used once.
    """

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.User", related_name="mfa_tickets", on_delete=fields.RESTRICT
    )
    user_id: int
    purpose = fields.CharField(max_length=16)
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "mfa_tickets"


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
