"""The little SQL that differs between PostgreSQL and SQLite, for services that write set-based statements."""

from __future__ import annotations

import re
from typing import Any

from tortoise import connections


def is_postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


async def rows(sql: str, *values: Any) -> list[dict[str, Any]]:
    """Runs `sql`, written with PostgreSQL's $n placeholders (each used once, in order), on either database.
    Inside a transaction this is the transaction's connection, so row locks taken here are the caller's."""
    connection = connections.get("default")
    if connection.capabilities.dialect != "postgres":
        sql = re.sub(r"\$\d+", "?", sql)
    return await connection.execute_query_dict(sql, list(values))


async def next_ids(table: str, count: int) -> list[int]:
    """PostgreSQL: `count` new ids from `table`'s id sequence in one statement, ascending, so that ids can
    follow a write order and every table of a batch takes one multi-row insert."""
    found = await rows(
        "SELECT nextval(pg_get_serial_sequence($1, 'id')) AS id FROM generate_series(1, $2)", table, count
    )
    return sorted(int(row["id"]) for row in found)
