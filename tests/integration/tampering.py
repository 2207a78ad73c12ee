"""Tampering with money rows behind the service's back, to prove verifyLedger notices: the append-only triggers
are lifted inside a transaction that is always rolled back."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise.transactions import in_transaction

from domain.services.dialect import is_postgres


class _RolledBack(Exception):
    pass


@asynccontextmanager
async def triggers_bypassed(*migrations: str) -> AsyncIterator[Any]:
    """A transaction, yielded as its connection, in which the append-only triggers of `migrations` (module names
    such as "0005_append_only_money") do not fire; always rolled back. On PostgreSQL every trigger is off for
    the session's replication role; on SQLite the migrations' triggers are dropped (DDL is transactional there
    too, and the rollback brings them back)."""
    try:
        async with in_transaction() as connection:
            if is_postgres():
                await connection.execute_query("SET LOCAL session_replication_role = replica")
            else:
                for name in migrations:
                    module = importlib.import_module(f"migrations.{name}")
                    for statement in module.SQLITE_REVERSE.strip().splitlines():
                        await connection.execute_query(statement)  # not execute_script: that commits first
            yield connection
            raise _RolledBack
    except _RolledBack:
        pass
