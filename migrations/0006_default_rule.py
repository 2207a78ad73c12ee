"""The default rule becomes an ordinary rule of the book: created here once, at most one by a unique index.

Data migration (hand-written SQL, as DESIGN.md allows for data): keeps the oldest of any default rules that
earlier code created at first use (concurrent first loads could create several), archives the others, moves
the kept rule's versions to the lowest rank, or creates the rule when there is none. Its first version has no
leg: the shipping fee goes to the logistics partner and the merchant keeps the rest.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

DEFAULT_RULE_PRIORITY = -1_000_001  # domain.rules.DEFAULT_RULE_PRIORITY when this migration was written
NAME = "Default: shipping fee to the logistics partner, the rest to the merchant"
CONDITIONS = json.dumps(
    {
        "merchant_ids": [],
        "merchant_tiers": [],
        "categories": [],
        "min_amount_minor": None,
        "max_amount_minor": None,
        "currency": None,
        "channels": [],
        "regions": [],
        "active_from": None,
        "active_until": None,
    }
)
SINCE = datetime(1970, 1, 1, tzinfo=UTC)


async def one_default_rule(apps, schema_editor) -> None:
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"

    def sql(text: str) -> str:  # $1, $2 ... on PostgreSQL, ? on SQLite
        return text if postgres else re.sub(r"\$\d+", "?", text)

    rows = await client.execute_query_dict("SELECT id FROM split_rules WHERE is_default ORDER BY id")
    if rows:
        kept = rows[0]["id"]
        await client.execute_query(
            sql("UPDATE split_rules SET is_default = $1, status = 'ARCHIVED' WHERE is_default AND id <> $2"),
            [False, kept],
        )
        await client.execute_query(
            sql("UPDATE split_rule_versions SET priority = $1 WHERE rule_id = $2"), [DEFAULT_RULE_PRIORITY, kept]
        )
    else:
        now = datetime.now(UTC)
        await client.execute_query(
            sql(
                "INSERT INTO split_rules (name, description, status, is_default, created_at, updated_at) "
                "VALUES ($1, $2, 'ACTIVE', $3, $4, $5)"
            ),
            [NAME, "Matches every payment that no other rule matches.", True, now, now],
        )
        kept = (await client.execute_query_dict("SELECT id FROM split_rules WHERE is_default"))[0]["id"]
        await client.execute_query(
            sql(
                "INSERT INTO split_rule_versions (rule_id, version, priority, conditions, legs, effective_from, "
                "created_at, activated_at) VALUES ($1, 1, $2, $3, $4, $5, $6, $7)"
            ),
            [kept, DEFAULT_RULE_PRIORITY, CONDITIONS, "[]", SINCE, now, now],
        )
    await client.execute_query(
        "CREATE UNIQUE INDEX split_rules_one_default ON split_rules (is_default) WHERE is_default"
    )


async def drop_index(apps, schema_editor) -> None:
    await schema_editor.client.execute_query("DROP INDEX IF EXISTS split_rules_one_default")


class Migration(migrations.Migration):
    dependencies = [("splitledger", "0005_append_only_money")]

    initial = False

    operations = [
        ops.AddField(model_name="SplitRule", name="archive_requested_by_id", field=fields.BigIntField(null=True)),
        ops.RunPython(one_default_rule, drop_index),
    ]
