"""Tortoise configuration and migration running, shared by the app, the CLI and the tests."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise
from tortoise.migrations.api import migrate

from api.settings import Settings

APP_LABEL = "splitledger"


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": database_url},
        "apps": {
            APP_LABEL: {
                "models": ["domain.models"],
                "migrations": "migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def run_migrations(database_url: str) -> None:
    """Brings the database to the newest migration (tortoise's native migrations).

    tortoise's migrate() leaves its connections open; an open aiosqlite connection is a non-daemon thread that
    would keep the process from exiting, so they are closed here.
    """
    try:
        await migrate(config=tortoise_config(database_url))
    finally:
        await Tortoise.close_connections()


def __getattr__(name: str) -> Any:
    # Read lazily by the `tortoise` CLI (pyproject [tool.tortoise]) for makemigrations.
    if name == "TORTOISE_ORM":
        return tortoise_config(Settings.from_env().database_url)
    raise AttributeError(name)
