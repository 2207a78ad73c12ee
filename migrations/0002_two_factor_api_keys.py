from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("splitledger", "0001_initial")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ApiKey",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("public_id", fields.CharField(unique=True, max_length=16)),
                ("secret_hash", fields.CharField(max_length=64)),
                ("name", fields.CharField(max_length=200)),
                (
                    "party",
                    fields.ForeignKeyField(
                        "splitledger.Party",
                        source_field="party_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="api_keys",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("permissions", fields.TextField(unique=False)),
                (
                    "created_by",
                    fields.ForeignKeyField(
                        "splitledger.User",
                        source_field="created_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="api_keys_created",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("expires_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("last_used_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "api_keys",
                "app": "splitledger",
                "pk_attr": "id",
                "table_description": "A key for a partner system: scoped to one party and a set of permissions, stored only as a hash.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="AuthEvent",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("occurred_at", fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ("kind", fields.CharField(db_index=True, max_length=40)),
                ("user_id", fields.BigIntField(null=True, db_index=True)),
                ("party_id", fields.BigIntField(null=True, db_index=True)),
                ("actor_user_id", fields.BigIntField(null=True)),
                ("api_key_id", fields.BigIntField(null=True)),
                ("ip_address", fields.CharField(null=True, max_length=64)),
                ("user_agent", fields.CharField(null=True, max_length=400)),
                ("detail", fields.CharField(null=True, max_length=400)),
            ],
            options={
                "table": "auth_events",
                "app": "splitledger",
                "pk_attr": "id",
                "table_description": "Something that happened to an identity: login success or failure, lockout, enrolment, key changes.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="MfaTicket",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "user",
                    fields.ForeignKeyField(
                        "splitledger.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="mfa_tickets",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("purpose", fields.CharField(max_length=16)),
                ("token_hash", fields.CharField(unique=True, max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("used_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "mfa_tickets",
                "app": "splitledger",
                "pk_attr": "id",
                "table_description": "The short-lived proof that a password was right, traded for tokens with a second factor.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="PlatformSetting",
            fields=[
                ("key", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ("value", fields.TextField(unique=False)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ("updated_by_id", fields.BigIntField(null=True)),
            ],
            options={
                "table": "platform_settings",
                "app": "splitledger",
                "pk_attr": "key",
                "table_description": "A named platform-wide setting, its value as JSON text.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RecoveryCode",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "user",
                    fields.ForeignKeyField(
                        "splitledger.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="recovery_codes",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("code_hash", fields.CharField(max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("used_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "recovery_codes",
                "app": "splitledger",
                "unique_together": (("user", "code_hash"),),
                "pk_attr": "id",
                "table_description": "A one-time code that stands in for a TOTP code (a lost phone), stored as its SHA-256.",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="User",
            name="failed_attempts",
            field=fields.SmallIntField(default=0),
        ),
        ops.AddField(
            model_name="User",
            name="locked_until",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="User",
            name="totp_enabled_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="User",
            name="totp_last_step",
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name="User",
            name="totp_pending_ciphertext",
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name="User",
            name="totp_secret_ciphertext",
            field=fields.TextField(null=True, unique=False),
        ),
    ]
