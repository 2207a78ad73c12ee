"""The default rule becomes an ordinary rule of the book: created here once, at most one by a unique index.

Data migration (hand-written SQL, as DESIGN.md allows for data): keeps the oldest of any default rules that
earlier code created at first use (concurrent first loads could create several), archives the others, moves
the kept rule's versions to the lowest rank, or creates the rule when there is none. A new rule's first
version has no leg: the shipping fee goes to the logistics partner and the merchant keeps the rest.

Earlier code let the default rule be edited into one that does not match every payment (conditions such as a
currency, or fixed amounts that exist in one currency only). Such versions of the kept rule lose their
activation (the allocations they made keep naming them), and when no version that always matches is then in
effect from the start, one with no leg is added, so every payment from 2000 on has a rule.
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
EARLIEST_PAID_AT = datetime(2000, 1, 1, tzinfo=UTC)  # domain.payments.EARLIEST_PAID_AT when this was written


def always_matches(conditions_json: str, legs_json: str) -> bool:
    """What the default rule may hold (domain.rules' default-rule validation, as of this migration)."""
    conditions = json.loads(conditions_json)
    legs = json.loads(legs_json)
    no_conditions = not any(conditions.get(name) for name in json.loads(CONDITIONS))
    rates_only = all(
        not leg.get("fixed_minor")
        and not leg.get("bands")
        and leg.get("min_minor") is None
        and leg.get("max_minor") is None
        for leg in legs
    )
    return no_conditions and rates_only


def as_datetime(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


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
        await _keep_only_versions_that_always_match(client, sql, kept)
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


async def _keep_only_versions_that_always_match(client, sql, rule_id: int) -> None:
    versions = await client.execute_query_dict(
        sql(
            "SELECT id, version, conditions, legs, effective_from, activated_at FROM split_rule_versions WHERE rule_id = $1"
        ),
        [rule_id],
    )
    covered_from_the_start = False
    for version in versions:
        if version["activated_at"] is None:
            continue
        if not always_matches(version["conditions"], version["legs"]):
            await client.execute_query(
                sql("UPDATE split_rule_versions SET activated_at = NULL, activated_by_id = NULL WHERE id = $1"),
                [version["id"]],
            )
        elif as_datetime(version["effective_from"]) <= EARLIEST_PAID_AT:
            covered_from_the_start = True
    if not covered_from_the_start:
        now = datetime.now(UTC)
        await client.execute_query(
            sql(
                "INSERT INTO split_rule_versions (rule_id, version, priority, conditions, legs, effective_from, "
                "created_at, activated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            [
                rule_id,
                max(v["version"] for v in versions) + 1,
                DEFAULT_RULE_PRIORITY,
                CONDITIONS,
                "[]",
                SINCE,
                now,
                now,
            ],
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
