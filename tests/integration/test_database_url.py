"""What the README promises about SPLITLEDGER_DATABASE_URL's PostgreSQL options holds."""

from __future__ import annotations

import pytest
from tortoise import connections
from tortoise.context import TortoiseContext

from api.db import tortoise_config


@pytest.mark.postgres_only
async def test_the_connection_pool_size_comes_from_the_database_url(database_url):
    async with TortoiseContext() as context:
        await context.init(config=tortoise_config(f"{database_url}?minsize=2&maxsize=7"))
        client = connections.get("default")
        await client.execute_query("SELECT 1")
        assert (client._pool.get_min_size(), client._pool.get_max_size()) == (2, 7)
