"""Disputes (chargebacks): a dispute keeps a status that moves once (OPEN, then WON or LOST), so it is not
append-only like 0009's refunds; triggers refuse deleting one, changing a resolved one, and changing the columns
that say what was disputed and where its hold came from (hand-written SQL, as DESIGN.md allows where the ORM
cannot say it)."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

# Set when the dispute is opened, never changed: what was disputed, and where its hold came from.
FIXED_COLUMNS = (
    "payment_id",
    "merchant_id",
    "idempotency_key",
    "request_hash",
    "currency",
    "amount_minor",
    "from_escrow_minor",
    "reason",
    "evidence_due_at",
    "opened_by_user_id",
    "opened_by_api_key_id",
    "opened_at",
    "opened_entry_id",
)

POSTGRES = (
    """
CREATE OR REPLACE FUNCTION splitledger_disputes_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF OLD.status <> 'OPEN' THEN
      RAISE EXCEPTION 'dispute % is % already: a resolved dispute never changes', OLD.id, OLD.status;
    END IF;
    IF ("""
    + ", ".join(f"NEW.{column}" for column in FIXED_COLUMNS)
    + ") IS DISTINCT FROM ("
    + ", ".join(f"OLD.{column}" for column in FIXED_COLUMNS)
    + """) THEN
      RAISE EXCEPTION 'dispute %: what was disputed and where its hold came from never change', OLD.id;
    END IF;
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'money rows in % are never deleted (% refused): resolve the dispute instead', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER disputes_guard BEFORE UPDATE OR DELETE ON disputes
FOR EACH ROW EXECUTE FUNCTION splitledger_disputes_guard();
CREATE TRIGGER disputes_no_truncate BEFORE TRUNCATE ON disputes
FOR EACH STATEMENT EXECUTE FUNCTION splitledger_disputes_guard();
"""
)
POSTGRES_REVERSE = """
DROP TRIGGER IF EXISTS disputes_guard ON disputes;
DROP TRIGGER IF EXISTS disputes_no_truncate ON disputes;
DROP FUNCTION IF EXISTS splitledger_disputes_guard();
"""
SQLITE_TRIGGERS = (
    ("disputes_no_delete", "DELETE", "", "money rows in disputes are never deleted: resolve the dispute instead"),
    ("disputes_resolved_once", "UPDATE", "WHEN OLD.status <> 'OPEN' ", "a resolved dispute never changes"),
    (
        "disputes_fixed_columns",
        "UPDATE",
        "WHEN " + " OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in FIXED_COLUMNS) + " ",
        "what was disputed and where its hold came from never change",
    ),
)
SQLITE = "".join(
    f"CREATE TRIGGER {name} BEFORE {event} ON disputes FOR EACH ROW {when}BEGIN SELECT RAISE(ABORT, '{message}'); END;\n"
    for name, event, when, message in SQLITE_TRIGGERS
)
SQLITE_REVERSE = "".join(f"DROP TRIGGER IF EXISTS {name};\n" for name, *_ in SQLITE_TRIGGERS)


async def create_triggers(apps, schema_editor) -> None:
    client = schema_editor.client
    await client.execute_script(POSTGRES if client.capabilities.dialect == "postgres" else SQLITE)


async def drop_triggers(apps, schema_editor) -> None:
    client = schema_editor.client
    await client.execute_script(POSTGRES_REVERSE if client.capabilities.dialect == "postgres" else SQLITE_REVERSE)


class Migration(migrations.Migration):
    dependencies = [("splitledger", "0009_refunds")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Dispute",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "payment",
                    fields.ForeignKeyField(
                        "splitledger.Payment",
                        source_field="payment_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="disputes",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("merchant_id", fields.BigIntField(db_index=True)),
                ("idempotency_key", fields.CharField(max_length=128)),
                ("request_hash", fields.CharField(max_length=64)),
                ("currency", fields.CharField(max_length=3)),
                ("amount_minor", fields.BigIntField()),
                ("from_escrow_minor", fields.BigIntField()),
                ("escrow_cleared_minor", fields.BigIntField(default=0)),
                ("reason", fields.CharField(max_length=400)),
                ("evidence_due_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("status", fields.CharField(default="OPEN", db_index=True, max_length=8)),
                ("lost_bearer", fields.CharField(null=True, max_length=16)),
                ("opened_by_user_id", fields.BigIntField(null=True)),
                ("opened_by_api_key_id", fields.BigIntField(null=True)),
                ("opened_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("opened_entry_id", fields.BigIntField()),
                ("resolved_by_user_id", fields.BigIntField(null=True)),
                ("resolved_by_api_key_id", fields.BigIntField(null=True)),
                ("resolved_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("released_entry_id", fields.BigIntField(null=True)),
                ("lost_entry_id", fields.BigIntField(null=True)),
                ("refund_id", fields.BigIntField(null=True)),
            ],
            options={
                "table": "disputes",
                "app": "splitledger",
                "unique_together": (("payment", "idempotency_key"),),
                "pk_attr": "id",
                "table_description": "A chargeback of a payment by its buyer: the amount held from the merchant until won or lost.",
            },
            bases=["Model"],
        ),
        ops.RunPython(create_triggers, drop_triggers),
    ]
