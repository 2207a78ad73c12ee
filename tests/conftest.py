"""Shared fixtures: a fresh database per run (built by the migrations), role-named API clients, factories.

SQLite (a temporary file) by default. Set SPLITLEDGER_TEST_DATABASE_URL to a PostgreSQL server URL, e.g.
postgres://postgres@127.0.0.1:5432/postgres, and the suite creates a database of its own there (a fresh name
per run), runs the migrations into it and drops it at the end.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from tortoise.context import TortoiseContext

from api.app import create_app, runtime_from
from api.db import run_migrations, tortoise_config
from api.settings import Settings
from auth import totp
from auth.principal import Principal
from auth.roles import ROLE_PERMISSIONS
from domain.parties import KycStatus, MerchantTier, PartyKind
from domain.payments import LineItemInput, PaymentInput
from domain.services import identity, parties
from domain.services.parties import MerchantDraft, PartnerDraft
from domain.services.runtime import Runtime

TEST_PASSWORD = "correct-horse-battery-staple"
POSTGRES_URL = os.environ.get("SPLITLEDGER_TEST_DATABASE_URL", "").strip()


def pytest_report_header(config: pytest.Config) -> str:
    return f"splitledger database: {'PostgreSQL ' + _redact(POSTGRES_URL) if POSTGRES_URL else 'SQLite'}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if POSTGRES_URL:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set SPLITLEDGER_TEST_DATABASE_URL)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.split("@")[-1]))


def unique(label: str) -> str:
    """A name no earlier test (or run) has used."""
    return f"{label} {secrets.token_hex(4)}"


async def _create_postgres_database(server_url: str) -> tuple[str, Callable[[], Any]]:
    import asyncpg

    parts = urlsplit(server_url.replace("postgres://", "postgresql://", 1))
    name = f"splitledger_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(urlunsplit(parts))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()

    async def drop() -> None:
        connection = await asyncpg.connect(urlunsplit(parts))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    database_url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    return database_url, drop


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    if POSTGRES_URL:
        url, drop = await _create_postgres_database(POSTGRES_URL)
    else:
        directory = tempfile.TemporaryDirectory(prefix="splitledger-test-")
        url = f"sqlite://{Path(directory.name) / 'test.sqlite3'}"

        async def drop() -> None:
            directory.cleanup()

    # Build the schema the way production does: by running the migrations. In a task of its own, so the
    # Tortoise context the migration runner opens does not leak into the tests' context.
    await asyncio.create_task(run_migrations(url))
    context = TortoiseContext()

    async def open_context() -> None:
        with context:
            await context.init(config=tortoise_config(url), _enable_global_fallback=True)

    await asyncio.create_task(open_context())
    try:
        yield url
    finally:
        await context.close_connections()
        await drop()


@pytest.fixture(scope="session", autouse=True)
async def ledger_is_clean_after_the_whole_suite(database_url: str, world: World) -> AsyncIterator[None]:
    """Whatever the tests did, every journal entry balances and every cached balance equals its postings."""
    yield
    from domain.services import ledger

    check = await ledger.verify_ledger(operator_principal(world.platform_id))
    assert check.ok, f"ledger is not clean after the suite: {check}"
    print(f"\nverifyLedger after the suite: {check.entries_checked} entries, {check.accounts_checked} accounts, clean")


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # Every test client shares one address: the login throttle has its own tests, with its own limits.
    return Settings(
        database_url=database_url, login_limit_per_address="100000/minute", login_limit_per_email="100000/minute"
    )


@pytest.fixture(scope="session")
def runtime(settings: Settings) -> Runtime:
    return runtime_from(settings)


@pytest.fixture(scope="session")
def app(settings: Settings, runtime: Runtime):
    return create_app(settings, manage_database=False, runtime=runtime)


@dataclass
class World:
    """Parties and users shared by the whole run. Tests that change things make their own with factories."""

    platform_id: int
    merchant_a_id: int
    merchant_b_id: int
    logistics_a_id: int
    logistics_b_id: int
    supplier_id: int
    emails: dict[str, str]
    totp_secrets: dict[str, str]  # every user: two-factor login is required of everyone by default

    def party_for_role(self, role: str) -> tuple[int, str]:
        """The world party a user of `role` belongs to, and its GraphQL type name (A for merchants and couriers)."""
        return {
            "merchant": (self.merchant_a_id, "Merchant"),
            "logistics": (self.logistics_a_id, "LogisticsPartner"),
            "supplier": (self.supplier_id, "Supplier"),
        }.get(role.split("_")[0], (self.platform_id, "Platform"))


def operator_principal(platform_id: int) -> Principal:
    """A platform admin acting from code (fixtures, factories): the services still check it."""
    return Principal(
        user_id=0,
        party_id=platform_id,
        party_kind=PartyKind.PLATFORM,
        role="platform_admin",
        permissions=ROLE_PERMISSIONS["platform_admin"],
        mfa_passed=True,
    )


@pytest.fixture(scope="session")
async def world(database_url: str, runtime: Runtime) -> World:
    platform = await parties.ensure_platform_party()
    operator = operator_principal(platform.id)
    merchant_a = await parties.create_merchant(
        operator,
        runtime,
        MerchantDraft(name=unique("Merchant A"), tier=MerchantTier.GOLD, kyc_status=KycStatus.VERIFIED),
    )
    merchant_b = await parties.create_merchant(
        operator, runtime, MerchantDraft(name=unique("Merchant B"), kyc_status=KycStatus.VERIFIED)
    )
    logistics_a = await parties.create_partner(
        operator, runtime, PartyKind.LOGISTICS, PartnerDraft(name=unique("Courier A"))
    )
    logistics_b = await parties.create_partner(
        operator, runtime, PartyKind.LOGISTICS, PartnerDraft(name=unique("Courier B"))
    )
    supplier = await parties.create_partner(
        operator, runtime, PartyKind.SUPPLIER, PartnerDraft(name=unique("Supplier"))
    )
    users = {
        "platform_admin": platform.id,
        "platform_finance": platform.id,
        "platform_operations": platform.id,
        "platform_risk": platform.id,
        "platform_auditor": platform.id,
        "merchant_admin": merchant_a.id,
        "merchant_finance": merchant_a.id,
        "merchant_staff": merchant_a.id,
        "other_merchant_admin": merchant_b.id,
        "logistics_partner": logistics_a.id,
        "other_logistics_partner": logistics_b.id,
        "supplier": supplier.id,
    }
    emails, secrets_by_label = {}, {}
    for label, party_id in users.items():
        role = label.removeprefix("other_")
        email = f"{label.replace('_', '.')}.{secrets.token_hex(3)}@test.example"
        user = await identity.create_user_unchecked(email, TEST_PASSWORD, role, party_id)
        emails[label] = email
        secrets_by_label[label] = totp.new_secret()
        await identity.enroll_totp_unchecked(runtime, user.id, secrets_by_label[label])
    return World(
        platform.id, merchant_a.id, merchant_b.id, logistics_a.id, logistics_b.id, supplier.id, emails, secrets_by_label
    )


class Api:
    """An HTTP client of the ASGI app, logged in (or not), with a GraphQL helper."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, expect_errors: bool = False
    ) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}})
        body = response.json()
        if not expect_errors:
            assert response.status_code == 200, body
            assert not body.get("errors"), body["errors"]
            return body["data"]
        return body

    async def login(self, email: str, password: str = TEST_PASSWORD) -> dict[str, Any]:
        data = await self.execute(LOGIN, {"email": email, "password": password})
        return data["login"]

    async def verify_mfa(self, challenge_token: str, code: str) -> dict[str, Any]:
        data = await self.execute(VERIFY_MFA, {"token": challenge_token, "code": code})
        return data["verifyMfa"]

    async def login_with_totp(self, email: str, secret: str, *, at: datetime | None = None) -> dict[str, Any]:
        """Both login steps; `at` picks the code's time (each code works once per user)."""
        challenge = await self.login(email)
        assert challenge["__typename"] == "MfaChallenge", challenge
        return await self.verify_mfa(challenge["challengeToken"], totp.code_at(secret, at or datetime.now(UTC)))


LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) {
    __typename
    ... on AuthTokens { accessToken refreshToken accessTokenExpiresAt viewer { email role } }
    ... on MfaChallenge { challengeToken expiresAt }
    ... on MfaEnrollmentRequired { enrollmentToken expiresAt }
    ... on AuthFailure { code message }
  }
}
"""

VERIFY_MFA = """
mutation Verify($token: String!, $code: String!) {
  verifyMfa(input: {challengeToken: $token, code: $code}) {
    __typename
    ... on AuthTokens { accessToken refreshToken accessTokenExpiresAt viewer { email role mfaPassed } }
    ... on AuthFailure { code message }
  }
}
"""


def http_client(app, token: str | None = None) -> httpx.AsyncClient:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers)


@pytest.fixture(scope="session")
async def anonymous_client(app) -> AsyncIterator[Api]:
    async with http_client(app) as http:
        yield Api(http)


@pytest.fixture(scope="session")
async def client_for(app, world: World, anonymous_client: Api) -> AsyncIterator[Callable[[str], Any]]:
    """client_for('merchant_admin') -> an Api logged in as that world user (sessions cached per run)."""
    cache: dict[str, Api] = {}
    opened: list[httpx.AsyncClient] = []

    async def make(label: str) -> Api:
        if label not in cache:
            tokens = await anonymous_client.login_with_totp(world.emails[label], world.totp_secrets[label])
            assert tokens["__typename"] == "AuthTokens", tokens
            http = http_client(app, tokens["accessToken"])
            opened.append(http)
            cache[label] = Api(http)
        return cache[label]

    yield make
    for http in opened:
        await http.aclose()


@pytest.fixture
async def platform_admin_client(client_for) -> Api:
    return await client_for("platform_admin")


@pytest.fixture
async def operations_client(client_for) -> Api:
    return await client_for("platform_operations")


@pytest.fixture
async def finance_client(client_for) -> Api:
    return await client_for("platform_finance")


@pytest.fixture
async def auditor_client(client_for) -> Api:
    return await client_for("platform_auditor")


@pytest.fixture
async def merchant_client(client_for) -> Api:
    """Admin of merchant A."""
    return await client_for("merchant_admin")


@pytest.fixture
async def merchant_staff_client(client_for) -> Api:
    return await client_for("merchant_staff")


@pytest.fixture
async def other_merchant_client(client_for) -> Api:
    """Admin of merchant B."""
    return await client_for("other_merchant_admin")


@pytest.fixture
async def logistics_client(client_for) -> Api:
    """User of logistics partner A."""
    return await client_for("logistics_partner")


@dataclass
class NewLogin:
    email: str
    user_id: int
    totp_secret: str | None


@pytest.fixture
def make_user(runtime: Runtime, world: World):
    """make_user('platform_finance') -> a fresh user, with two-factor on (required of everyone by default) unless
    mfa=False."""

    async def make(role: str, party_id: int | None = None, *, mfa: bool | None = None) -> NewLogin:
        party = party_id if party_id is not None else world.party_for_role(role)[0]
        email = f"{role}.{secrets.token_hex(4)}@test.example"
        user = await identity.create_user_unchecked(email, TEST_PASSWORD, role, party)
        secret = None
        if mfa is not False:
            secret = totp.new_secret()
            await identity.enroll_totp_unchecked(runtime, user.id, secret)
        return NewLogin(email=email, user_id=user.id, totp_secret=secret)

    return make


async def signed_in(runtime: Runtime, login: NewLogin, *, at: datetime | None = None) -> identity.IssuedTokens:
    """Both login steps through the services, for a user made by make_user (with two-factor on)."""
    assert login.totp_secret is not None, "signed_in needs a user with two-factor on"
    ticket = await identity.login(runtime, login.email, TEST_PASSWORD)
    assert isinstance(ticket, identity.MfaTicketIssued) and ticket.purpose == identity.CHALLENGE, ticket
    return await identity.verify_mfa(runtime, ticket.token, totp.code_at(login.totp_secret, at or datetime.now(UTC)))


@pytest.fixture
def operator(world: World) -> Principal:
    return operator_principal(world.platform_id)


def gid(type_name: str, row_id: int | str) -> str:
    """The global id a client sees for a row: base64 of `Type:id`."""
    return base64.b64encode(f"{type_name}:{row_id}".encode()).decode()


def graphql_payment_input(merchant_id: int, logistics_id: int | None = None, **overrides: Any) -> dict[str, Any]:
    """payment_input as a client sends it to recordPayment: global ids, amounts as decimal strings."""
    data: dict[str, Any] = {
        "idempotencyKey": secrets.token_hex(8),
        "externalOrderId": f"o-{secrets.token_hex(6)}",
        "merchantId": gid("Merchant", merchant_id),
        "currency": "CNY",
        "totalAmount": "158.00",
        "paidAt": "2026-11-20T08:00:00+08:00",
        "shippingFee": "8.00",
        "lineItems": [{"sku": "tea-1", "category": "tea", "unitAmount": "50.00", "quantity": 3}],
    }
    if logistics_id is not None:
        data["logisticsPartnerId"] = gid("LogisticsPartner", logistics_id)
    return data | overrides


def payment_input(merchant_id: int, **overrides: Any) -> PaymentInput:
    """A fresh payment of 158.00 CNY (three teas at 50.00 and 8.00 shipping), paid a minute ago; override any
    field. Keys and order ids are new each call."""
    fields: dict[str, Any] = {
        "idempotency_key": f"key-{secrets.token_hex(6)}",
        "merchant_id": merchant_id,
        "external_order_id": f"order-{secrets.token_hex(6)}",
        "currency": "CNY",
        "total_amount": "158.00",
        "line_items": [LineItemInput("tea-1", "tea", "50.00", 3)],
        "shipping_fee": "8.00",
        "paid_at": datetime.now(UTC) - timedelta(minutes=1),
    }
    return PaymentInput(**(fields | overrides))


async def activate_newest_version(principal: Principal, runtime: Runtime, rule_id: int) -> None:
    """What an approver does after reviewing a rule's newest version: activate that version, by its id."""
    from domain.services import rules

    newest = (await rules.versions_of(principal, [rule_id]))[rule_id][-1]
    await rules.activate_rule(principal, runtime, rule_id, newest.id)


@pytest.fixture
def make_merchant(operator: Principal, runtime: Runtime):
    async def make(**overrides: Any):
        fields: dict[str, Any] = {"name": unique("Merchant"), "kyc_status": KycStatus.VERIFIED} | overrides
        return await parties.create_merchant(operator, runtime, MerchantDraft(**fields))

    return make
