"""Each allocation records its parts of the line's goods and of its shipping fee, so refunds can reverse each
basis on its own (refunding goods never takes back the courier's shipping share).

Data migration for the allocations written before (hand-written SQL, as DESIGN.md allows for data): the
splitter never recorded the parts, so they are derived per line the way the default split makes them: the
line's shipping fee went to its LOGISTICS share (up to that share's amount) and the rest of it to the MERCHANT
share; every other share is goods. That is exact for every split whose rules had no SHIPPING_FEE or
ORDER_TOTAL leg; for those, a leg's take of the shipping fee is counted as goods. Allocations are append-only
(migration 0005), so the trigger that refuses updates is lifted for this one statement and put back.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

LINE_SHIPPING = (
    "(SELECT l.shipping_minor FROM payment_lines l "
    "WHERE l.payment_id = allocations.payment_id AND l.position = allocations.line_position)"
)
COURIER_SHIPPING = (
    "(SELECT {least}(c.amount_minor, {line}) FROM allocations c WHERE c.payment_id = allocations.payment_id "
    "AND c.line_position = allocations.line_position AND c.role = 'LOGISTICS')"
)


def _backfill(least: str, greatest: str) -> str:
    courier = COURIER_SHIPPING.format(least=least, line=LINE_SHIPPING)
    return (
        "UPDATE allocations SET shipping_minor = CASE "  # noqa: S608 - no input in it
        f"WHEN role = 'LOGISTICS' THEN {least}(amount_minor, COALESCE({LINE_SHIPPING}, 0)) "
        f"WHEN role = 'MERCHANT' THEN {greatest}(0, {least}(amount_minor, "
        f"COALESCE({LINE_SHIPPING}, 0) - COALESCE({courier}, 0))) "
        "ELSE 0 END;\n"
        "UPDATE allocations SET goods_minor = amount_minor - shipping_minor;\n"
    )


POSTGRES = (
    "ALTER TABLE allocations DISABLE TRIGGER allocations_append_only;\n"
    + _backfill("LEAST", "GREATEST")
    + "ALTER TABLE allocations ENABLE TRIGGER allocations_append_only;\n"
)
SQLITE_TRIGGER = (
    "CREATE TRIGGER allocations_no_update BEFORE UPDATE ON allocations FOR EACH ROW "
    "BEGIN SELECT RAISE(ABORT, 'money rows in allocations are append-only: record a correcting entry instead'); END;\n"
)
SQLITE = "DROP TRIGGER IF EXISTS allocations_no_update;\n" + _backfill("MIN", "MAX") + SQLITE_TRIGGER


async def derive_parts(apps, schema_editor) -> None:
    client = schema_editor.client
    await client.execute_script(POSTGRES if client.capabilities.dialect == "postgres" else SQLITE)


async def keep_parts(apps, schema_editor) -> None:
    """Reversing drops the columns; nothing to undo in the data."""


class Migration(migrations.Migration):
    dependencies = [("splitledger", "0007_money_goes_out")]

    initial = False

    operations = [
        ops.AddField(model_name="Allocation", name="goods_minor", field=fields.BigIntField(db_default=0)),
        ops.AddField(model_name="Allocation", name="shipping_minor", field=fields.BigIntField(db_default=0)),
        ops.RunPython(derive_parts, keep_parts),
    ]
