"""Data-level guard: the database itself refuses UPDATE and DELETE on journal entries and postings.

Hand-written (DESIGN.md allows it where the ORM cannot say it): the models refuse too, but a trigger also
stops raw SQL and queryset.update()/delete(). Corrections are new, reversing entries.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

TABLES = ("journal_entries", "postings")

POSTGRES = """
CREATE OR REPLACE FUNCTION splitledger_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'ledger rows in % are append-only: post a reversing entry instead', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
""" + "".join(
    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
    f"FOR EACH ROW EXECUTE FUNCTION splitledger_append_only();\n"
    for table in TABLES
)

SQLITE = "".join(
    f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN "
    f"SELECT RAISE(ABORT, 'ledger rows in {table} are append-only: post a reversing entry instead'); END;\n"
    f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} BEGIN "
    f"SELECT RAISE(ABORT, 'ledger rows in {table} are append-only: post a reversing entry instead'); END;\n"
    for table in TABLES
)


async def create_triggers(apps, schema_editor) -> None:
    client = schema_editor.client
    await client.execute_script(POSTGRES if client.capabilities.dialect == "postgres" else SQLITE)


async def drop_triggers(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        script = "".join(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t};\n" for t in TABLES)
        script += "DROP FUNCTION IF EXISTS splitledger_append_only();\n"
    else:
        script = "".join(
            f"DROP TRIGGER IF EXISTS {t}_no_update;\nDROP TRIGGER IF EXISTS {t}_no_delete;\n" for t in TABLES
        )
    await client.execute_script(script)


class Migration(migrations.Migration):
    dependencies = [("splitledger", "0003_rules_payments_ledger")]

    initial = False

    operations = [ops.RunPython(create_triggers, drop_triggers)]
