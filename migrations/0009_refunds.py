"""Refunds and their reversals, append-only like every money table (triggers as in 0005 and 0007)."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

APPEND_ONLY = ("refunds", "refund_reversals")
MESSAGE = "money rows in {table} are append-only: record a correcting entry instead"

POSTGRES = """
CREATE OR REPLACE FUNCTION splitledger_refunds_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'money rows in % are append-only (% refused): record a correcting entry instead',
    TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;
""" + "".join(
    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
    f"FOR EACH ROW EXECUTE FUNCTION splitledger_refunds_append_only();\n"
    f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
    f"FOR EACH STATEMENT EXECUTE FUNCTION splitledger_refunds_append_only();\n"
    for table in APPEND_ONLY
)
POSTGRES_REVERSE = (
    "".join(
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};\nDROP TRIGGER IF EXISTS {table}_no_truncate ON {table};\n"
        for table in APPEND_ONLY
    )
    + "DROP FUNCTION IF EXISTS splitledger_refunds_append_only();\n"
)
SQLITE_TRIGGERS = [
    (f"{table}_no_{event.lower()}", event, table) for table in APPEND_ONLY for event in ("UPDATE", "DELETE")
]
SQLITE = "".join(
    f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE.format(table=table)}'); END;\n"
    for name, event, table in SQLITE_TRIGGERS
)
SQLITE_REVERSE = "".join(f"DROP TRIGGER IF EXISTS {name};\n" for name, *_ in SQLITE_TRIGGERS)


async def create_triggers(apps, schema_editor) -> None:
    client = schema_editor.client
    await client.execute_script(POSTGRES if client.capabilities.dialect == "postgres" else SQLITE)


async def drop_triggers(apps, schema_editor) -> None:
    client = schema_editor.client
    await client.execute_script(POSTGRES_REVERSE if client.capabilities.dialect == "postgres" else SQLITE_REVERSE)


class Migration(migrations.Migration):
    dependencies = [("splitledger", "0008_allocation_bases")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Refund",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "payment",
                    fields.ForeignKeyField(
                        "splitledger.Payment",
                        source_field="payment_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="refunds",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("merchant_id", fields.BigIntField(db_index=True)),
                ("idempotency_key", fields.CharField(max_length=128)),
                ("request_hash", fields.CharField(max_length=64)),
                ("currency", fields.CharField(max_length=3)),
                ("amount_minor", fields.BigIntField()),
                ("include_shipping", fields.BooleanField()),
                ("reason", fields.CharField(max_length=400)),
                ("created_by_user_id", fields.BigIntField(null=True)),
                ("created_by_api_key_id", fields.BigIntField(null=True)),
                ("journal_entry_id", fields.BigIntField()),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "refunds",
                "app": "splitledger",
                "unique_together": (("payment", "idempotency_key"),),
                "pk_attr": "id",
                "table_description": "Money back to a buyer. The payment's merchant owns it (every money row is keyed by its party).",
            },
            bases=["_AppendOnly"],
        ),
        ops.CreateModel(
            name="RefundReversal",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "refund",
                    fields.ForeignKeyField(
                        "splitledger.Refund",
                        source_field="refund_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="reversals",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("payment_id", fields.BigIntField()),
                ("allocation_id", fields.BigIntField()),
                ("line_position", fields.SmallIntField()),
                ("basis", fields.CharField(max_length=16)),
                ("party_id", fields.BigIntField(db_index=True)),
                ("role", fields.CharField(max_length=16)),
                ("currency", fields.CharField(max_length=3)),
                ("amount_minor", fields.BigIntField()),
            ],
            options={
                "table": "refund_reversals",
                "app": "splitledger",
                "indexes": [Index(fields=["payment_id", "party_id"])],
                "pk_attr": "id",
                "table_description": "What one refund took back of one party's part of one line's goods or shipping fee.",
            },
            bases=["_AppendOnly"],
        ),
        ops.RunPython(create_triggers, drop_triggers),
    ]
