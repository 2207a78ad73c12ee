"""recordPayments under a race, through the API: the same payments from two clients at once, in opposite order."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import graphql_payment_input
from tests.integration.races import key_held_open, writers_waiting

pytestmark = pytest.mark.postgres_only

RECORD_MANY = """mutation($inputs: [RecordPaymentInput!]!) { recordPayments(inputs: $inputs) {
  succeeded failed results { __typename ... on RecordPaymentSuccess { replayed payment { id } } } } }"""


async def test_opposite_batches_at_once_get_no_server_error_and_record_each_payment_once(client_for, world):
    operations = await client_for("platform_operations")
    for _ in range(3):
        batch = [graphql_payment_input(world.merchant_a_id, world.logistics_a_id) for _ in range(40)]
        async with key_held_open(world.merchant_a_id, batch[20]["idempotencyKey"]):
            # Api.execute fails the test on any top-level error (a masked server error included).
            clients = [
                asyncio.create_task(operations.execute(RECORD_MANY, {"inputs": batch})),
                asyncio.create_task(operations.execute(RECORD_MANY, {"inputs": batch[::-1]})),
            ]
            await writers_waiting(2)
        forward, backward = (data["recordPayments"] for data in await asyncio.gather(*clients))
        assert forward["failed"] == backward["failed"] == 0, (forward, backward)
        for one, other in zip(forward["results"], backward["results"][::-1], strict=True):
            assert one["payment"]["id"] == other["payment"]["id"]
            assert [one["replayed"], other["replayed"]].count(False) == 1
