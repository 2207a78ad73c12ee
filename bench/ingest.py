"""Benchmark: recording payments through the HTTP API into PostgreSQL.

Creates a fresh database (dropped afterwards), starts `splitledger serve` with --workers, and measures
1. recordPayments batches: orders per second, p50 and p99 per batch (target: 2,000 orders/s on 2 cores);
2. single recordPayment calls from --concurrency clients: p50 and p99 latency (target: p99 under 50 ms at 16).
Then checks that verifyLedger is clean. Run: python bench/ingest.py [--batches 10 --batch-size 500 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from api.db import run_migrations, tortoise_config
from api.settings import Settings
from auth.principal import Principal
from auth.roles import ROLE_PERMISSIONS
from domain.parties import KycStatus, PartyKind
from domain.services import api_keys, identity, parties
from domain.services.parties import MerchantDraft, PartnerDraft

RECORD_MANY = """mutation($inputs: [RecordPaymentInput!]!) { recordPayments(inputs: $inputs) { succeeded failed } }"""
RECORD_ONE = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) { __typename } }"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def prepare(url: str) -> tuple[str, list[str], str]:
    """Parties and an API key with payments:write for the platform's order system."""
    from tortoise.context import TortoiseContext

    settings = Settings(database_url=url)
    from api.app import runtime_from

    runtime = runtime_from(settings)
    async with TortoiseContext() as context:
        await context.init(config=tortoise_config(url))
        platform = await parties.ensure_platform_party()
        admin = await identity.create_user_unchecked(
            "bench@bench.example", "bench-password-123", "platform_admin", platform.id
        )
        operator = Principal(
            user_id=admin.id,
            party_id=platform.id,
            party_kind=PartyKind.PLATFORM,
            role="platform_admin",
            permissions=ROLE_PERMISSIONS["platform_admin"],
            mfa_passed=True,
        )
        merchants = []
        for i in range(20):
            row = await parties.create_merchant(
                operator, runtime, MerchantDraft(name=f"Bench merchant {i}", kyc_status=KycStatus.VERIFIED)
            )
            merchants.append(row.id)
        courier = await parties.create_partner(operator, runtime, PartyKind.LOGISTICS, PartnerDraft(name="Courier"))
        key = await api_keys.create_api_key(
            operator, runtime, platform.id, "bench order system", ["payments:write", "payments:read", "ledger:read"]
        )
    import base64

    def gid(kind: str, row_id: int) -> str:
        return base64.b64encode(f"{kind}:{row_id}".encode()).decode()

    return key.key, [gid("Merchant", m) for m in merchants], gid("LogisticsPartner", courier.id)


def payment(merchants: list[str], courier: str, n: int) -> dict:
    lines = [
        {
            "sku": f"sku-{(n + i) % 97}",
            "category": ("tea", "silk", "toys")[(n + i) % 3],
            "unitAmount": f"{(n % 50) + 10 + i}.50",
            "quantity": 1 + i,
        }
        for i in range(1 + n % 3)
    ]
    goods_cents = sum((int(line["unitAmount"].split(".")[0]) * 100 + 50) * line["quantity"] for line in lines)
    return {
        "idempotencyKey": f"k-{n}-{secrets.token_hex(4)}",
        "externalOrderId": f"order-{n}-{secrets.token_hex(4)}",
        "merchantId": merchants[n % len(merchants)],
        "currency": "CNY",
        "logisticsPartnerId": courier,
        "shippingFee": "8.00",
        "totalAmount": f"{(goods_cents + 800) // 100}.{(goods_cents + 800) % 100:02d}",
        "paidAt": datetime.now(UTC).isoformat(),
        "lineItems": lines,
    }


async def run(args: argparse.Namespace) -> None:
    server = urlsplit(args.postgres_url.replace("postgres://", "postgresql://", 1))
    name = f"splitledger_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(urlunsplit(server))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(args.postgres_url)._replace(path=f"/{name}"))
    process = None
    try:
        await run_migrations(url)
        key, merchants, courier = await prepare(url)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = os.environ | {"SPLITLEDGER_DATABASE_URL": url, "SPLITLEDGER_LOG_LEVEL": "WARNING"}
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", str(args.workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        headers = {"authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
            for _ in range(200):
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            counter = iter(range(10**9))

            # Warm up both workers (imports, connection pools, prepared statements).
            await asyncio.gather(
                *(
                    client.post(
                        "/graphql",
                        json={"query": RECORD_ONE, "variables": {"input": payment(merchants, courier, next(counter))}},
                    )
                    for _ in range(20)
                )
            )

            batch_times: list[float] = []
            started = time.perf_counter()
            semaphore = asyncio.Semaphore(args.parallel_batches)

            async def one_batch() -> None:
                inputs = [payment(merchants, courier, next(counter)) for _ in range(args.batch_size)]
                async with semaphore:
                    t0 = time.perf_counter()
                    response = await client.post(
                        "/graphql", json={"query": RECORD_MANY, "variables": {"inputs": inputs}}
                    )
                    batch_times.append(time.perf_counter() - t0)
                body = response.json()
                assert body["data"]["recordPayments"]["failed"] == 0, body

            await asyncio.gather(*(one_batch() for _ in range(args.batches)))
            elapsed = time.perf_counter() - started
            orders = args.batches * args.batch_size
            print(
                f"recordPayments: {orders} orders in {args.batches} batches of {args.batch_size} "
                f"({args.parallel_batches} in flight, {args.workers} server workers)"
            )
            print(f"  orders per second: {orders / elapsed:,.0f} (target 2,000)")
            print(
                f"  per batch: p50 {percentile(batch_times, 0.5) * 1000:,.0f} ms, "
                f"p99 {percentile(batch_times, 0.99) * 1000:,.0f} ms"
            )

            latencies: list[float] = []

            async def single_client(count: int) -> None:
                for _ in range(count):
                    body = {"query": RECORD_ONE, "variables": {"input": payment(merchants, courier, next(counter))}}
                    t0 = time.perf_counter()
                    response = await client.post("/graphql", json=body)
                    latencies.append(time.perf_counter() - t0)
                    assert response.json()["data"]["recordPayment"]["__typename"] == "RecordPaymentSuccess"

            started = time.perf_counter()
            await asyncio.gather(*(single_client(args.singles // args.concurrency) for _ in range(args.concurrency)))
            elapsed = time.perf_counter() - started
            print(f"recordPayment: {len(latencies)} calls from {args.concurrency} concurrent clients")
            print(
                f"  latency: p50 {statistics.median(latencies) * 1000:.1f} ms, "
                f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms (target p99 < 50 ms); "
                f"{len(latencies) / elapsed:,.0f} payments per second"
            )
            check = (await client.post("/graphql", json={"query": "{ verifyLedger { ok entriesChecked } }"})).json()
            print(f"verifyLedger: {check['data']['verifyLedger']}")
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("SPLITLEDGER_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--parallel-batches", type=int, default=2)
    parser.add_argument("--singles", type=int, default=1600)
    parser.add_argument("--concurrency", type=int, default=16)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
