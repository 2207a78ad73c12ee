from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

from domain.parties import KycStatus, MerchantTier, PartyKind, RiskLevel, SettlementCycle


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="Party",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "kind",
                    fields.CharEnumField(
                        db_index=True,
                        description="PLATFORM: PLATFORM\nMERCHANT: MERCHANT\nLOGISTICS: LOGISTICS\nSUPPLIER: SUPPLIER",
                        enum_type=PartyKind,
                        max_length=16,
                    ),
                ),
                ("name", fields.CharField(max_length=200)),
                ("name_key", fields.CharField(max_length=200)),
                ("contact_email", fields.CharField(null=True, max_length=254)),
                ("is_active", fields.BooleanField(default=True)),
                (
                    "tier",
                    fields.CharEnumField(
                        null=True,
                        description="STANDARD: STANDARD\nSILVER: SILVER\nGOLD: GOLD\nPLATINUM: PLATINUM",
                        enum_type=MerchantTier,
                        max_length=16,
                    ),
                ),
                ("category", fields.CharField(null=True, max_length=100)),
                (
                    "kyc_status",
                    fields.CharEnumField(
                        null=True,
                        description="PENDING: PENDING\nVERIFIED: VERIFIED\nREJECTED: REJECTED\nSUSPENDED: SUSPENDED",
                        enum_type=KycStatus,
                        max_length=16,
                    ),
                ),
                (
                    "risk_level",
                    fields.CharEnumField(
                        null=True,
                        description="LOW: LOW\nMEDIUM: MEDIUM\nHIGH: HIGH",
                        enum_type=RiskLevel,
                        max_length=16,
                    ),
                ),
                ("settlement_currency", fields.CharField(max_length=3)),
                (
                    "settlement_cycle",
                    fields.CharEnumField(
                        description="DAILY: DAILY\nWEEKLY: WEEKLY\nMONTHLY: MONTHLY",
                        enum_type=SettlementCycle,
                        max_length=16,
                    ),
                ),
                ("settlement_anchor_day", fields.SmallIntField()),
                ("settlement_delay_days", fields.SmallIntField()),
                ("minimum_payout_minor", fields.BigIntField()),
                ("hold_days", fields.SmallIntField()),
                ("bank_account_holder", fields.CharField(null=True, max_length=200)),
                ("bank_name", fields.CharField(null=True, max_length=200)),
                ("bank_account_ciphertext", fields.TextField(null=True, unique=False)),
                ("bank_account_last4", fields.CharField(null=True, max_length=4)),
                (
                    "bank_account_changed_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "parties",
                "app": "splitledger",
                "unique_together": (("kind", "name_key"),),
                "pk_attr": "id",
                "table_description": "One table for every kind of party, so ledger accounts and allocations reference any of them alike.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="User",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("email", fields.CharField(unique=True, max_length=254)),
                ("display_name", fields.CharField(max_length=200)),
                ("password_hash", fields.CharField(max_length=255)),
                ("role", fields.CharField(max_length=40)),
                (
                    "party",
                    fields.ForeignKeyField(
                        "splitledger.Party",
                        source_field="party_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="users",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("is_active", fields.BooleanField(default=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("last_login_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={"table": "users", "app": "splitledger", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="AuthSession",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "user",
                    fields.ForeignKeyField(
                        "splitledger.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="sessions",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("mfa_passed", fields.BooleanField(default=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("last_used_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("revoke_reason", fields.CharField(null=True, max_length=40)),
                ("ip_address", fields.CharField(null=True, max_length=64)),
                ("user_agent", fields.CharField(null=True, max_length=400)),
            ],
            options={
                "table": "auth_sessions",
                "app": "splitledger",
                "pk_attr": "id",
                "table_description": "One login: the family of refresh tokens that descend from it. Revoking it ends them all.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RefreshToken",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "session",
                    fields.ForeignKeyField(
                        "splitledger.AuthSession",
                        source_field="session_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="refresh_tokens",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("token_hash", fields.CharField(unique=True, max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("rotated_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "refresh_tokens",
                "app": "splitledger",
                "pk_attr": "id",
                "table_description": "A refresh token, stored as its SHA-256. Used once: using it rotates it to a new one.",
            },
            bases=["Model"],
        ),
    ]
