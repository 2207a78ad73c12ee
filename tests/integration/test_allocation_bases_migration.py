"""Migration 0008 on allocations written before it: each gets its goods and shipping parts, derived per line as
the default split makes them, and allocations stay append-only afterwards."""

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
import asyncio, json, re, sys
from datetime import UTC, datetime
from tortoise import Tortoise
from tortoise.migrations.api import migrate
from api.db import tortoise_config

URL = sys.argv[1]
PARTY = ("INSERT INTO parties (kind, name, name_key, is_active, settlement_currency, settlement_cycle, "
         "settlement_anchor_day, settlement_delay_days, minimum_payout_minor, hold_days, reserve_bps, reserve_days, "
         "created_at, updated_at) VALUES ($1, $2, $3, $4, 'CNY', 'DAILY', 0, 1, 0, 7, 0, 0, $5, $6)")


async def main():
    config = tortoise_config(URL)
    await migrate(config=config, target="splitledger.0007_money_goes_out")
    await Tortoise.close_connections()
    await Tortoise.init(config=config)
    client = Tortoise.get_connection("default")
    pg = client.capabilities.dialect == "postgres"
    q = (lambda text: text) if pg else (lambda text: re.sub(r"\$\d+", "?", text))
    now = datetime.now(UTC)
    ids = {}
    for kind, name in (("MERCHANT", "Tea"), ("LOGISTICS", "Courier"), ("PLATFORM", "Platform")):
        await client.execute_query(q(PARTY), [kind, name, name.lower(), True, now, now])
        ids[kind] = (await client.execute_query_dict(q("SELECT id FROM parties WHERE name = $1"), [name]))[0]["id"]
    version = (await client.execute_query_dict("SELECT MIN(id) AS id FROM split_rule_versions"))[0]["id"]
    await client.execute_query(q(
        "INSERT INTO payments (merchant_id, logistics_party_id, external_order_id, idempotency_key, request_hash, "
        "currency, goods_minor, shipping_fee_minor, total_minor, channel, region, status, paid_at, created_at) "
        "VALUES ($1, $2, 'o-1', 'k-1', 'h', 'CNY', 20000, 1000, 21000, 'APP', 'CN', 'CAPTURED', $3, $4)"),
        [ids["MERCHANT"], ids["LOGISTICS"], now, now])
    payment = (await client.execute_query_dict("SELECT id FROM payments"))[0]["id"]
    # Two lines: 150.00 goods with 7.50 shipping, 50.00 goods with 2.50 shipping; a 5 % platform commission.
    for position, amount, shipping in ((0, 15000, 750), (1, 5000, 250)):
        await client.execute_query(q(
            "INSERT INTO payment_lines (payment_id, position, sku, category, unit_amount_minor, quantity, "
            "amount_minor, shipping_minor, rule_version_id) VALUES ($1, $2, 's', 'tea', $3, 1, $4, $5, $6)"),
            [payment, position, amount, amount, shipping, version])
        for role, party, share in (("PLATFORM", ids["PLATFORM"], amount // 20),
                                   ("MERCHANT", ids["MERCHANT"], amount - amount // 20),
                                   ("LOGISTICS", ids["LOGISTICS"], shipping)):
            await client.execute_query(q(
                "INSERT INTO allocations (payment_id, line_position, party_id, role, currency, amount_minor, "
                "rule_version_id) VALUES ($1, $2, $3, $4, 'CNY', $5, $6)"),
                [payment, position, party, role, share, version])
    await Tortoise.close_connections()
    await migrate(config=config)
    await Tortoise.close_connections()
    await Tortoise.init(config=config)
    client = Tortoise.get_connection("default")
    rows = await client.execute_query_dict(
        "SELECT line_position, role, amount_minor, goods_minor, shipping_minor FROM allocations ORDER BY id")
    try:
        await client.execute_query("UPDATE allocations SET amount_minor = amount_minor + 1")
        still_append_only = False
    except Exception:
        still_append_only = True
    print(json.dumps({"rows": [[r["line_position"], r["role"], r["amount_minor"], r["goods_minor"],
                                r["shipping_minor"]] for r in rows], "append_only": still_append_only}))
    await Tortoise.close_connections()

asyncio.run(main())
"""


def upgrade(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", UPGRADE, url], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


async def test_allocations_written_before_get_their_goods_and_shipping_parts():
    if POSTGRES_URL:
        url, drop = await _create_postgres_database(POSTGRES_URL)
    else:
        directory = tempfile.TemporaryDirectory(prefix="splitledger-migration-")
        url = f"sqlite://{Path(directory.name) / 'old.sqlite3'}"

        async def drop() -> None:
            directory.cleanup()

    try:
        result = upgrade(url)
    finally:
        await drop()
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state["rows"] == [
        [0, "PLATFORM", 750, 750, 0],
        [0, "MERCHANT", 14250, 14250, 0],
        [0, "LOGISTICS", 750, 0, 750],
        [1, "PLATFORM", 250, 250, 0],
        [1, "MERCHANT", 4750, 4750, 0],
        [1, "LOGISTICS", 250, 0, 250],
    ]
    assert state["append_only"], "the migration must put the append-only trigger back"
