"""Migration 0006 on a database that earlier code left with several default rules, one of them edited into a
rule that does not match every payment: one default rule remains, and it matches every payment."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.conftest import POSTGRES_URL, _create_postgres_database

ROOT = Path(__file__).resolve().parents[2]

# Run in a process of its own: tortoise's migration runner opens (and closes) connections of its own.
UPGRADE = r"""
import asyncio, json, sys
from datetime import UTC, datetime
from tortoise import Tortoise
from tortoise.migrations.api import migrate
from api.db import tortoise_config
from domain.rules import RuleBook, RuleVersion, conditions_from_dict, legs_from_list
from domain.splitting import LineItem, PaymentFacts, compute_split

URL = sys.argv[1]
OLD_DEFAULT_LEGS = json.dumps([{"beneficiary": "LOGISTICS", "party_id": None, "basis": "SHIPPING_FEE",
    "rate_bps": 10000, "fixed_minor": 0, "bands": [], "min_minor": None, "max_minor": None}])
EMPTY = {"merchant_ids": [], "merchant_tiers": [], "categories": [], "min_amount_minor": None,
    "max_amount_minor": None, "currency": None, "channels": [], "regions": [], "active_from": None,
    "active_until": None}
CNY_ONLY_FIXED = json.dumps([{"beneficiary": "PLATFORM", "party_id": None, "basis": "ITEM_AMOUNT", "rate_bps": 0,
    "fixed_minor": 100, "bands": [], "min_minor": None, "max_minor": None}])


async def main():
    config = tortoise_config(URL)
    await migrate(config=config, target="splitledger.0005_append_only_money")
    await Tortoise.close_connections()
    await Tortoise.init(config=config)
    client = Tortoise.get_connection("default")
    pg = client.capabilities.dialect == "postgres"
    q = (lambda text: text) if pg else (lambda text: __import__("re").sub(r"\$\d+", "?", text))
    now = datetime.now(UTC)
    for name in ("Default (first load)", "Default (a concurrent first load)"):
        await client.execute_query(q("INSERT INTO split_rules (name, status, is_default, created_at, updated_at) "
                                     "VALUES ($1, 'ACTIVE', $2, $3, $4)"), [name, True, now, now])
    kept = (await client.execute_query_dict("SELECT MIN(id) AS id FROM split_rules WHERE is_default"))[0]["id"]
    versions = [
        (1, json.dumps(EMPTY), OLD_DEFAULT_LEGS, datetime(2000, 1, 1, tzinfo=UTC)),
        (2, json.dumps(EMPTY | {"currency": "CNY"}), CNY_ONLY_FIXED, datetime(2026, 1, 1, tzinfo=UTC)),
    ]
    for number, conditions, legs, effective in versions:
        await client.execute_query(q(
            "INSERT INTO split_rule_versions (rule_id, version, priority, conditions, legs, effective_from, created_at,"
            " activated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"), [kept, number, -1000000, conditions, legs,
            effective, now, now])
    await Tortoise.close_connections()
    await migrate(config=config)
    await Tortoise.close_connections()
    await Tortoise.init(config=config)
    client = Tortoise.get_connection("default")
    rules = await client.execute_query_dict("SELECT id, status, is_default FROM split_rules ORDER BY id")
    rows = await client.execute_query_dict(
        "SELECT id, rule_id, version, priority, conditions, legs, effective_from, activated_at "
        "FROM split_rule_versions")
    book = RuleBook([
        RuleVersion(r["id"], r["rule_id"], r["priority"],
                    r["effective_from"] if isinstance(r["effective_from"], datetime)
                    else datetime.fromisoformat(r["effective_from"]),
                    conditions_from_dict(json.loads(r["conditions"])), legs_from_list(json.loads(r["legs"])))
        for r in rows if r["activated_at"] is not None
    ])
    jpy = PaymentFacts(7, "GOLD", 1, 3, "JPY", "APP", "JP", datetime(2026, 6, 1, tzinfo=UTC),
                       (LineItem("a", "toys", 1000, 1),), 100)
    split = compute_split(jpy, book).per_party()
    print(json.dumps({
        "rules": [[r["status"], bool(r["is_default"])] for r in rules],
        "versions": sorted([r["version"], r["priority"], r["activated_at"] is not None] for r in rows),
        "jpy": sorted([party, role.value, amount] for (party, role), amount in split.items()),
    }))
    await Tortoise.close_connections()

asyncio.run(main())
"""


def upgrade(url: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", UPGRADE, url], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


async def test_an_edited_default_rule_is_made_to_match_every_payment_again():
    if POSTGRES_URL:
        url, drop = await _create_postgres_database(POSTGRES_URL)
    else:
        directory = tempfile.TemporaryDirectory(prefix="splitledger-migration-")
        url = f"sqlite://{Path(directory.name) / 'old.sqlite3'}"

        async def drop() -> None:
            directory.cleanup()

    try:
        state = upgrade(url)
    finally:
        await drop()
    assert state["rules"] == [["ACTIVE", True], ["ARCHIVED", False]]
    # The version that matched CNY only lost its activation; the first, which matches everything, ranks lowest.
    assert state["versions"] == [[1, -1_000_001, True], [2, -1_000_001, False]]
    # A JPY payment has a rule: the courier takes the shipping fee, the merchant the rest (nothing for 1.00 CNY).
    assert state["jpy"] == [[3, "LOGISTICS", 100], [7, "MERCHANT", 1000]]
