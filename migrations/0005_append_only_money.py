"""Data-level guard for every money table: no UPDATE, DELETE or TRUNCATE of what was recorded.

Hand-written (DESIGN.md allows it where the ORM cannot say it), like 0004, which already refuses UPDATE and
DELETE on journal_entries and postings. This adds:
- allocations and payment_lines: no UPDATE, no DELETE;
- payments: no change to the money columns (status, journal_entry_id and the rest stay updatable: the store
  sets journal_entry_id after the insert, refunds will change status), no DELETE;
- ledger_accounts: no change to what identifies an account (balance_minor is the cached balance, moved with
  every posting), no DELETE;
- on PostgreSQL, a BEFORE TRUNCATE trigger on all of them and on journal_entries and postings (SQLite has no
  TRUNCATE; its DELETE triggers fire for a DELETE without WHERE).
A trigger on a column set fires only when a value actually changes, so an ORM save() that rewrites the same
values passes. Superusers can still bypass triggers (session_replication_role): the service's own database
role should be an ordinary one (README, "Database role for the service").
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

APPEND_ONLY = ("allocations", "payment_lines")
NO_TRUNCATE = ("journal_entries", "postings", "allocations", "payment_lines", "payments", "ledger_accounts")
NO_DELETE = ("payments", "ledger_accounts")

# Columns that must never change once written; the other columns of these tables stay updatable.
FIXED_COLUMNS = {
    "payments": (
        "merchant_id",
        "logistics_party_id",
        "currency",
        "goods_minor",
        "shipping_fee_minor",
        "total_minor",
        "paid_at",
        "external_order_id",
        "idempotency_key",
        "request_hash",
    ),
    "ledger_accounts": ("key", "party_id", "system", "currency", "bucket"),
}

MESSAGE = "money rows in {table} are append-only: record a correcting entry instead"


def _changed(columns: tuple[str, ...], distinct: str) -> str:
    return " OR ".join(f"OLD.{column} {distinct} NEW.{column}" for column in columns)


POSTGRES = (
    """
CREATE OR REPLACE FUNCTION splitledger_money_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'money rows in % are append-only (% refused): record a correcting entry instead',
    TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;
"""
    + "".join(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION splitledger_money_append_only();\n"
        for table in APPEND_ONLY
    )
    + "".join(
        f"CREATE TRIGGER {table}_fixed_columns BEFORE UPDATE ON {table} FOR EACH ROW "
        f"WHEN ({_changed(columns, 'IS DISTINCT FROM')}) EXECUTE FUNCTION splitledger_money_append_only();\n"
        for table, columns in FIXED_COLUMNS.items()
    )
    + "".join(
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION splitledger_money_append_only();\n"
        for table in NO_DELETE
    )
    + "".join(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION splitledger_money_append_only();\n"
        for table in NO_TRUNCATE
    )
)

POSTGRES_REVERSE = (
    "".join(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};\n" for table in APPEND_ONLY)
    + "".join(f"DROP TRIGGER IF EXISTS {table}_fixed_columns ON {table};\n" for table in FIXED_COLUMNS)
    + "".join(f"DROP TRIGGER IF EXISTS {table}_no_delete ON {table};\n" for table in NO_DELETE)
    + "".join(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};\n" for table in NO_TRUNCATE)
    + "DROP FUNCTION IF EXISTS splitledger_money_append_only();\n"
)


def _sqlite_trigger(name: str, event: str, table: str, when: str = "") -> str:
    return (
        f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW {when}"
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE.format(table=table)}'); END;\n"
    )


SQLITE_TRIGGERS = (
    [(f"{table}_no_update", "UPDATE", table, "") for table in APPEND_ONLY]
    + [(f"{table}_no_delete", "DELETE", table, "") for table in (*APPEND_ONLY, *NO_DELETE)]
    + [
        (f"{table}_fixed_columns", "UPDATE", table, f"WHEN {_changed(columns, 'IS NOT')} ")
        for table, columns in FIXED_COLUMNS.items()
    ]
)
SQLITE = "".join(_sqlite_trigger(*trigger) for trigger in SQLITE_TRIGGERS)
SQLITE_REVERSE = "".join(f"DROP TRIGGER IF EXISTS {name};\n" for name, *_ in SQLITE_TRIGGERS)


async def create_triggers(apps, schema_editor) -> None:
    client = schema_editor.client
    await client.execute_script(POSTGRES if client.capabilities.dialect == "postgres" else SQLITE)


async def drop_triggers(apps, schema_editor) -> None:
    client = schema_editor.client
    await client.execute_script(POSTGRES_REVERSE if client.capabilities.dialect == "postgres" else SQLITE_REVERSE)


class Migration(migrations.Migration):
    dependencies = [("splitledger", "0004_append_only_ledger")]

    initial = False

    operations = [ops.RunPython(create_triggers, drop_triggers)]
