"""The README's first command: `splitledger demo` starts a real server that answers a login."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from api.demo import DEMO_PASSWORD


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_serves_and_answers_a_login(tmp_path: Path):
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
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "demo did not become ready within 60 s"
            time.sleep(0.3)
        response = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            timeout=10,
            json={
                "query": 'mutation($p: String!) { login(input: {email: "admin@platform.example", password: $p}) '
                "{ __typename ... on AuthTokens { viewer { role } } } }",
                "variables": {"p": DEMO_PASSWORD},
            },
        )
        login = response.json()["data"]["login"]
        assert login == {"__typename": "AuthTokens", "viewer": {"role": "platform_admin"}}
    finally:
        process.terminate()
        process.wait(timeout=20)
