"""The README's first command: `splitledger demo` starts a real server that answers a login."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pyotp

from api.demo import DEMO_PASSWORD


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _printed_totp_secret(process: subprocess.Popen, email: str) -> str:
    """Reads the demo's output up to its login hints and returns the TOTP secret printed for `email`."""
    assert process.stdout is not None
    secret = None
    for line in process.stdout:
        if line.strip().startswith(email) and "TOTP secret" in line:
            secret = line.split("TOTP secret")[1].strip()
        if line.startswith("then:"):
            break
    assert secret, "the demo did not print a TOTP secret"
    return secret


def test_demo_serves_and_answers_a_two_factor_login(tmp_path: Path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPLITLEDGER_")}
    env["SPLITLEDGER_DATABASE_URL"] = f"sqlite://{tmp_path / 'demo.sqlite3'}"
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "demo", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        secret = _printed_totp_secret(process, "admin@platform.example")
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "demo exited early"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "demo did not become ready within 60 s"
            time.sleep(0.3)
        url = f"http://127.0.0.1:{port}/graphql"
        challenge = httpx.post(
            url,
            timeout=10,
            json={
                "query": 'mutation($p: String!) { login(input: {email: "admin@platform.example", password: $p}) '
                "{ __typename ... on MfaChallenge { challengeToken } } }",
                "variables": {"p": DEMO_PASSWORD},
            },
        ).json()["data"]["login"]
        assert challenge["__typename"] == "MfaChallenge"
        tokens = httpx.post(
            url,
            timeout=10,
            json={
                "query": "mutation($t: String!, $c: String!) { verifyMfa(input: {challengeToken: $t, code: $c}) "
                "{ __typename ... on AuthTokens { accessToken viewer { role mfaPassed } } } }",
                "variables": {"t": challenge["challengeToken"], "c": pyotp.TOTP(secret).now()},
            },
        ).json()["data"]["verifyMfa"]
        access_token = tokens.pop("accessToken")
        assert tokens == {"__typename": "AuthTokens", "viewer": {"role": "PLATFORM_ADMIN", "mfaPassed": True}}
        _the_courier_receives_every_shipping_fee_it_carried(url, access_token)
        _one_cycle_is_settled_and_paid(url, access_token)
    finally:
        process.terminate()
        process.wait(timeout=20)


def _the_courier_receives_every_shipping_fee_it_carried(url: str, access_token: str) -> None:
    """The demo's tea rule takes 5 % of tea and says nothing of shipping: the courier still gets the shipping fee."""
    payments = httpx.post(
        url,
        timeout=10,
        headers={"authorization": f"Bearer {access_token}"},
        json={
            "query": "{ payments(first: 10) { nodes { externalOrderId logisticsPartnerId shippingFee { amount } "
            "allocations { partyId role amount { amount } } } } }"
        },
    ).json()["data"]["payments"]["nodes"]
    assert {p["externalOrderId"] for p in payments} >= {"WL-1001", "WL-1002", "SZ-2001"}
    for payment in payments:
        to_courier = sum(
            Decimal(a["amount"]["amount"])
            for a in payment["allocations"]
            if a["role"] == "LOGISTICS" and a["partyId"] == payment["logisticsPartnerId"]
        )
        assert to_courier == Decimal(payment["shippingFee"]["amount"]), payment


def _one_cycle_is_settled_and_paid(url: str, access_token: str) -> None:
    """The demo shows money going out: the silk order SZ-1990 settled on 4 November and its payouts paid."""
    statements = httpx.post(
        url,
        timeout=10,
        headers={"authorization": f"Bearer {access_token}"},
        json={
            "query": "{ settlements(first: 10) { nodes { periodDate payoutAmount { amount } "
            "payout { status bankReference } } } verifyLedger { ok } }"
        },
    ).json()["data"]
    paid = [s for s in statements["settlements"]["nodes"] if s["periodDate"] == "2026-11-04"]
    assert sorted(s["payoutAmount"]["amount"] for s in paid) == ["10.00", "300.00"]
    assert all(s["payout"]["status"] == "PAID" for s in paid)
    assert statements["verifyLedger"]["ok"]
