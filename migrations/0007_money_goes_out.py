"""Money goes out: deliveries, releases, settlement runs, statements and their lines, payouts, payout batches,
and the rolling reserve of a settlement profile.

Releases, statements and statement lines are money rows: like 0005, triggers refuse UPDATE, DELETE and TRUNCATE
of them (hand-written SQL, as DESIGN.md allows where the ORM cannot say it). Payouts keep a status that moves,
so only DELETE and TRUNCATE are refused there.
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

APPEND_ONLY = ("releases", "settlements", "settlement_lines")
NO_DELETE = ("payouts", "deliveries")
MESSAGE = "money rows in {table} are append-only: record a correcting entry instead"

# A function of its own, so that reversing 0005 (which drops its function) never meets triggers of 0007.
POSTGRES = (
    """
CREATE OR REPLACE FUNCTION splitledger_money_out_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'money rows in % are append-only (% refused): record a correcting entry instead',
    TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;
"""
    + "".join(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION splitledger_money_out_append_only();\n"
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION splitledger_money_out_append_only();\n"
        for table in APPEND_ONLY
    )
    + "".join(
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION splitledger_money_out_append_only();\n"
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION splitledger_money_out_append_only();\n"
        for table in NO_DELETE
    )
)
POSTGRES_REVERSE = "".join(
    f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};\nDROP TRIGGER IF EXISTS {table}_no_truncate ON {table};\n"
    for table in APPEND_ONLY
) + "".join(
    f"DROP TRIGGER IF EXISTS {table}_no_delete ON {table};\nDROP TRIGGER IF EXISTS {table}_no_truncate ON {table};\n"
    for table in NO_DELETE
)

SQLITE_TRIGGERS = [(f"{table}_no_update", "UPDATE", table) for table in APPEND_ONLY] + [
    (f"{table}_no_delete", "DELETE", table) for table in (*APPEND_ONLY, *NO_DELETE)
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
    dependencies = [("splitledger", "0006_default_rule")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Delivery",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "payment",
                    fields.OneToOneField(
                        "splitledger.Payment",
                        source_field="payment_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="delivery",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("delivered_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("confirmed_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("confirmed_by_party_id", fields.BigIntField()),
                ("confirmed_by_user_id", fields.BigIntField(null=True)),
                ("confirmed_by_api_key_id", fields.BigIntField(null=True)),
                ("evidence", fields.CharField(null=True, max_length=1000)),
            ],
            options={
                "table": "deliveries",
                "app": "splitledger",
                "pk_attr": "id",
                "table_description": "The delivery of a payment, confirmed once by the platform or by the logistics partner that carried it.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="PayoutBatch",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("idempotency_key", fields.CharField(unique=True, max_length=128)),
                ("created_by_user_id", fields.BigIntField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("payout_count", fields.IntField()),
            ],
            options={
                "table": "payout_batches",
                "app": "splitledger",
                "pk_attr": "id",
                "table_description": "An export of approved payouts as a bank file, returned again for the same idempotency key.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Release",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "payment",
                    fields.ForeignKeyField(
                        "splitledger.Payment",
                        source_field="payment_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="releases",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "party",
                    fields.ForeignKeyField(
                        "splitledger.Party",
                        source_field="party_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="releases",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("currency", fields.CharField(max_length=3)),
                ("amount_minor", fields.BigIntField()),
                ("reason", fields.CharField(max_length=24)),
                ("released_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("entry_id", fields.BigIntField(db_index=True)),
            ],
            options={
                "table": "releases",
                "app": "splitledger",
                "unique_together": (("payment", "party"),),
                "pk_attr": "id",
                "table_description": "The shares of one party in one payment leaving escrow (PENDING -> AVAILABLE): when, why, by which entry.",
            },
            bases=["_AppendOnly"],
        ),
        ops.CreateModel(
            name="SettlementRun",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("cutoff", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("currency", fields.CharField(null=True, max_length=3)),
                ("started_by_user_id", fields.BigIntField(null=True)),
                ("started_by_api_key_id", fields.BigIntField(null=True)),
                ("started_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("finished_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("status", fields.CharField(default="RUNNING", max_length=16)),
                ("parties_considered", fields.IntField(default=0)),
                ("statements_created", fields.IntField(default=0)),
                ("payouts_created", fields.IntField(default=0)),
                ("skipped_unverified", fields.IntField(default=0)),
                ("duration_ms", fields.BigIntField(null=True)),
                ("totals", fields.TextField(default="{}", unique=False)),
            ],
            options={
                "table": "settlement_runs",
                "app": "splitledger",
                "pk_attr": "id",
                "table_description": "One call of runSettlement: what it was asked, what it did. Statements name the run that wrote them.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Settlement",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "run",
                    fields.ForeignKeyField(
                        "splitledger.SettlementRun",
                        source_field="run_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="settlements",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "party",
                    fields.ForeignKeyField(
                        "splitledger.Party",
                        source_field="party_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="settlements",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("currency", fields.CharField(max_length=3)),
                ("period_date", fields.DateField()),
                ("window_end", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("opening_minor", fields.BigIntField()),
                ("movements_minor", fields.BigIntField()),
                ("released_minor", fields.BigIntField()),
                ("reserve_held_minor", fields.BigIntField()),
                ("reserve_released_minor", fields.BigIntField()),
                ("net_minor", fields.BigIntField()),
                ("payout_minor", fields.BigIntField()),
                ("closing_minor", fields.BigIntField()),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "settlements",
                "app": "splitledger",
                "unique_together": (("party", "currency", "period_date"),),
                "indexes": [Index(fields=["run_id"])],
                "pk_attr": "id",
                "table_description": "A statement: one party, one currency, one period. Its figures never change once written.",
            },
            bases=["_AppendOnly"],
        ),
        ops.CreateModel(
            name="Payout",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "settlement",
                    fields.OneToOneField(
                        "splitledger.Settlement",
                        source_field="settlement_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="payout",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "party",
                    fields.ForeignKeyField(
                        "splitledger.Party",
                        source_field="party_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="payouts",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("currency", fields.CharField(max_length=3)),
                ("amount_minor", fields.BigIntField()),
                ("status", fields.CharField(default="PENDING_APPROVAL", db_index=True, max_length=20)),
                ("started_by_user_id", fields.BigIntField(null=True)),
                ("approvals_needed", fields.SmallIntField(default=1)),
                ("first_approved_by_user_id", fields.BigIntField(null=True)),
                ("approved_by_user_id", fields.BigIntField(null=True)),
                ("approved_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("batch_id", fields.BigIntField(null=True, db_index=True)),
                ("sent_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("paid_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("bank_reference", fields.CharField(null=True, max_length=128)),
                ("failed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("failure_reason", fields.CharField(null=True, max_length=400)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "payouts",
                "app": "splitledger",
                "indexes": [Index(fields=["party_id", "status"])],
                "pk_attr": "id",
                "table_description": "The payout of a statement to the bank account of the party: PENDING_APPROVAL -> APPROVED -> SENT -> PAID,",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="SettlementLine",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "settlement",
                    fields.ForeignKeyField(
                        "splitledger.Settlement",
                        source_field="settlement_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="lines",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("party_id", fields.BigIntField(db_index=True)),
                ("currency", fields.CharField(max_length=3)),
                ("kind", fields.CharField(max_length=32)),
                ("amount_minor", fields.BigIntField()),
                ("posting_id", fields.BigIntField(null=True, unique=True)),
                ("entry_id", fields.BigIntField(null=True)),
                ("reserve_release_on", fields.DateField(null=True)),
                ("reserve_line_id", fields.BigIntField(null=True, unique=True)),
            ],
            options={
                "table": "settlement_lines",
                "app": "splitledger",
                "indexes": [Index(fields=["settlement_id", "id"])],
                "pk_attr": "id",
                "table_description": "A line of a statement. Every posting to the AVAILABLE account of a party becomes exactly one line (the",
            },
            bases=["_AppendOnly"],
        ),
        ops.AddIndex(
            model_name="LedgerAccount",
            index=Index(fields=["party_id", "bucket", "currency"]),
        ),
        ops.AddField(
            model_name="Party",
            name="reserve_bps",
            field=fields.SmallIntField(default=0),
        ),
        ops.AddField(
            model_name="Party",
            name="reserve_days",
            field=fields.SmallIntField(default=0),
        ),
        ops.AddIndex(
            model_name="Posting",
            index=Index(fields=["account_id", "created_at"]),
        ),
        ops.AddIndex(
            model_name="Posting",
            index=Index(fields=["entry_id"]),
        ),
        ops.RunPython(create_triggers, drop_triggers),
    ]
