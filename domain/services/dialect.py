"""The little SQL that differs between PostgreSQL and SQLite, for services that write set-based statements."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tortoise import connections


def is_postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


async def rows(sql: str, *values: Any) -> list[dict[str, Any]]:
    """Runs `sql`, written with PostgreSQL's $n placeholders, on either database (SQLite numbers them ?n).
    Inside a transaction this is the transaction's connection, so row locks taken here are the caller's."""
    connection = connections.get("default")
    if connection.capabilities.dialect != "postgres":
        sql = re.sub(r"\$(\d+)", r"?\1", sql)
    return await connection.execute_query_dict(sql, list(values))


async def next_ids(table: str, count: int) -> list[int]:
    """`count` new ids for `table` in one statement, ascending, so that ids can follow a write order and every
    table of a batch takes one multi-row insert. PostgreSQL: from the id sequence. SQLite: past the largest id,
    which is safe because its transactions run one at a time (call inside the transaction that inserts)."""
    if count <= 0:
        return []
    if not is_postgres():
        top = await rows(f"SELECT COALESCE(MAX(id), 0) AS top FROM {table}")  # noqa: S608 - a table name of ours
        return list(range(int(top[0]["top"]) + 1, int(top[0]["top"]) + 1 + count))
    found = await rows(
        "SELECT nextval(pg_get_serial_sequence($1, 'id')) AS id FROM generate_series(1, $2)", table, count
    )
    return sorted(int(row["id"]) for row in found)


def instant(value: datetime) -> datetime | str:
    """A timestamp as a statement parameter: PostgreSQL takes the datetime; SQLite compares text, so it gets the
    UTC text tortoise stores (`2026-11-22 07:05:28.315661+00:00`), which sorts as the instants do."""
    utc = value.astimezone(UTC)
    return utc if is_postgres() else str(utc)


def json_instant(value: datetime) -> str:
    """A timestamp inside a JSON parameter (json_table), in the same stored form on both databases."""
    return str(value.astimezone(UTC))


def json_table(placeholder: str, alias: str, columns: Sequence[tuple[str, str]]) -> str:
    """A table, usable in FROM, of the JSON array of objects bound at `placeholder` (pass `json.dumps(rows)`).
    `columns` are (name, PostgreSQL type): many rows travel as one parameter, whatever their number."""
    if is_postgres():
        typed = ", ".join(f"{name} {pg_type}" for name, pg_type in columns)
        return f"json_to_recordset({placeholder}::json) AS {alias}({typed})"
    picked = ", ".join(f"json_extract(value, '$.{name}') AS {name}" for name, _ in columns)
    return f"(SELECT {picked} FROM json_each({placeholder})) AS {alias}"  # noqa: S608 - our names, not input


def dumps(rows_: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(rows_), separators=(",", ":"))
