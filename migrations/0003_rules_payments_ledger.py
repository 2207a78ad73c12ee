from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("splitledger", "0002_two_factor_api_keys")]

    initial = False

    operations = [
        ops.CreateModel(
            name="JournalEntry",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("kind", fields.CharField(max_length=40)),
                ("payment_id", fields.BigIntField(null=True, db_index=True)),
                ("memo", fields.CharField(null=True, max_length=400)),
                ("created_at", fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={"table": "journal_entries", "app": "splitledger", "pk_attr": "id"},
            bases=["_AppendOnly"],
        ),
        ops.CreateModel(
            name="LedgerAccount",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("key", fields.CharField(unique=True, max_length=120)),
                (
                    "party",
                    fields.ForeignKeyField(
                        "splitledger.Party",
                        source_field="party_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="ledger_accounts",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("system", fields.CharField(null=True, max_length=40)),
                ("currency", fields.CharField(max_length=3)),
                ("bucket", fields.CharField(null=True, max_length=16)),
                ("balance_minor", fields.BigIntField(default=0)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "ledger_accounts", "app": "splitledger", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Payment",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "merchant",
                    fields.ForeignKeyField(
                        "splitledger.Party",
                        source_field="merchant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="payments",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "logistics_party",
                    fields.ForeignKeyField(
                        "splitledger.Party",
                        source_field="logistics_party_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="carried_payments",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("external_order_id", fields.CharField(max_length=128)),
                ("idempotency_key", fields.CharField(max_length=128)),
                ("request_hash", fields.CharField(max_length=64)),
                ("currency", fields.CharField(max_length=3)),
                ("goods_minor", fields.BigIntField()),
                ("shipping_fee_minor", fields.BigIntField()),
                ("total_minor", fields.BigIntField()),
                ("channel", fields.CharField(max_length=40)),
                ("region", fields.CharField(max_length=40)),
                ("status", fields.CharField(default="CAPTURED", db_index=True, max_length=16)),
                ("paid_at", fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("journal_entry_id", fields.BigIntField(null=True)),
            ],
            options={
                "table": "payments",
                "app": "splitledger",
                "unique_together": (("merchant", "external_order_id"), ("merchant", "idempotency_key")),
                "pk_attr": "id",
                "table_description": "A buyer's payment as recorded from the commerce system. Every money row is keyed by its owning party.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="PaymentLine",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "payment",
                    fields.ForeignKeyField(
                        "splitledger.Payment",
                        source_field="payment_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="lines",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("position", fields.SmallIntField()),
                ("sku", fields.CharField(max_length=128)),
                ("category", fields.CharField(max_length=100)),
                ("unit_amount_minor", fields.BigIntField()),
                ("quantity", fields.IntField()),
                ("amount_minor", fields.BigIntField()),
                ("shipping_minor", fields.BigIntField()),
                ("rule_version_id", fields.BigIntField()),
            ],
            options={
                "table": "payment_lines",
                "app": "splitledger",
                "unique_together": (("payment", "position"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Posting",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "entry",
                    fields.ForeignKeyField(
                        "splitledger.JournalEntry",
                        source_field="entry_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="postings",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "account",
                    fields.ForeignKeyField(
                        "splitledger.LedgerAccount",
                        source_field="account_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="postings",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("party_id", fields.BigIntField(null=True, db_index=True)),
                ("currency", fields.CharField(max_length=3)),
                ("amount_minor", fields.BigIntField()),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "postings", "app": "splitledger", "pk_attr": "id"},
            bases=["_AppendOnly"],
        ),
        ops.CreateModel(
            name="SplitRule",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("name", fields.CharField(max_length=200)),
                ("description", fields.TextField(null=True, unique=False)),
                ("status", fields.CharField(default="DRAFT", db_index=True, max_length=16)),
                ("is_default", fields.BooleanField(default=False)),
                ("created_by_id", fields.BigIntField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "split_rules",
                "app": "splitledger",
                "pk_attr": "id",
                "table_description": "A named rule. What it does lives in its versions: editing adds a version, never changes one.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="SplitRuleVersion",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "rule",
                    fields.ForeignKeyField(
                        "splitledger.SplitRule",
                        source_field="rule_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="versions",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("version", fields.IntField()),
                ("priority", fields.IntField()),
                ("conditions", fields.TextField(unique=False)),
                ("legs", fields.TextField(unique=False)),
                ("effective_from", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("created_by_id", fields.BigIntField(null=True)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("activated_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("activated_by_id", fields.BigIntField(null=True)),
            ],
            options={
                "table": "split_rule_versions",
                "app": "splitledger",
                "unique_together": (("rule", "version"),),
                "pk_attr": "id",
                "table_description": "One immutable version: priority, conditions and legs (as JSON), and when it takes effect.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Allocation",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "payment",
                    fields.ForeignKeyField(
                        "splitledger.Payment",
                        source_field="payment_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="allocations",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("line_position", fields.SmallIntField()),
                (
                    "party",
                    fields.ForeignKeyField(
                        "splitledger.Party",
                        source_field="party_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="allocations",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("role", fields.CharField(max_length=16)),
                ("currency", fields.CharField(max_length=3)),
                ("amount_minor", fields.BigIntField()),
                (
                    "rule_version",
                    fields.ForeignKeyField(
                        "splitledger.SplitRuleVersion",
                        source_field="rule_version_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="allocations",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
            ],
            options={
                "table": "allocations",
                "app": "splitledger",
                "indexes": [Index(fields=["party_id", "payment_id"])],
                "pk_attr": "id",
                "table_description": "One party's share of one line item, and the rule version that gave it.",
            },
            bases=["Model"],
        ),
    ]
