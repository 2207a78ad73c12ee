"""Fuzzing the committed SDL: no generated request, sent by any role, gets a server error.

hypothesis-graphql builds queries and mutations from schema.graphql (the front ends' contract), with random
strings (NUL characters included), numbers and enum values in every argument, random text or numbers for the
Decimal and DateTime scalars, and for ids either random text, ids past int64, or the global ids of parties made
for this run (so that requests get past the id lookups into the services; the shared world parties are never
named, so nothing the rest of the suite counts on changes). The documents are drawn once, deterministically,
and sent over HTTP by an anonymous caller and by fresh users of several roles of those parties, through an app
of its own (login throttling stays here). A 5xx status, or a top-level error with code INTERNAL_SERVER_ERROR,
fails the test.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries

from api.app import create_app
from api.settings import Settings
from domain.parties import PartyKind
from domain.services import parties
from domain.services.parties import PartnerDraft
from tests.conftest import Api, http_client, unique

SDL = (Path(__file__).resolve().parents[2] / "schema.graphql").read_text()
EXAMPLES_PER_KIND = 80
ROLES = ("platform_admin", "merchant_admin", "merchant_staff", "logistics_partner")
# Mutations that change the whole platform or end the fuzzing session itself: left out so that the fuzz run
# cannot change what the rest of the suite sees (everything else only creates new rows or fails on random ids).
LEFT_OUT = {"updatePlatformSettings", "logout", "revokeSession", "changePassword"}

TEXT = st.text(max_size=30) | st.sampled_from(["0", "1.5", "-1", "1E+999999999", "9" * 50, "\x00", ""])
SCALARS = {
    "Decimal": (TEXT | st.integers(min_value=-(10**20), max_value=10**20).map(str)).map(nodes.String)
    | st.integers(min_value=-(2**31), max_value=2**31 - 1).map(nodes.Int),
    "DateTime": (TEXT | st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00", "9999-12-31T23:59:59Z"])).map(
        nodes.String
    ),
}


def _global_id(type_name: str, row_id: object) -> str:
    return base64.b64encode(f"{type_name}:{row_id}".encode()).decode()


def _draw(strategy: st.SearchStrategy[str], count: int) -> list[str]:
    """`count` documents from the strategy, the same ones on every run."""
    drawn: list[str] = []

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(document: str) -> None:
        drawn.append(document)

    collect()
    return drawn


# Ids the documents name: placeholders while drawing (so the same documents are drawn on every run), replaced by
# the global ids of this run's parties before sending.
MERCHANT, COURIER = "@merchant@", "@courier@"
IDS = [
    MERCHANT,
    COURIER,
    _global_id("Merchant", "99999999999999999999"),
    _global_id("Payment", "99999999999999999999"),
    _global_id("SplitRule", "-1"),
    "99999999999999999999",
]


def _documents() -> list[str]:
    import graphql

    schema = graphql.build_schema(SDL)
    mutation_fields = sorted(set(schema.mutation_type.fields) - LEFT_OUT)
    scalars = SCALARS | {"ID": (st.sampled_from(IDS) | TEXT).map(nodes.String)}
    return _draw(queries(SDL, custom_scalars=scalars), EXAMPLES_PER_KIND) + _draw(
        mutations(SDL, fields=mutation_fields, custom_scalars=scalars), EXAMPLES_PER_KIND
    )


@pytest.fixture(scope="module")
def drawn_documents() -> list[str]:
    return _documents()


@dataclass
class FuzzParties:
    merchant_id: int
    logistics_id: int
    documents: list[str]


@pytest.fixture
async def fuzz_parties(make_merchant, operator, runtime, drawn_documents) -> FuzzParties:
    merchant = await make_merchant()
    courier = await parties.create_partner(operator, runtime, PartyKind.LOGISTICS, PartnerDraft(name=unique("Fuzz")))
    documents = [
        document.replace(MERCHANT, _global_id("Merchant", merchant.id)).replace(
            COURIER, _global_id("LogisticsPartner", courier.id)
        )
        for document in drawn_documents
    ]
    return FuzzParties(merchant.id, courier.id, documents)


@pytest.fixture
async def fuzz_app(database_url):
    return create_app(Settings(database_url=database_url), manage_database=False)


async def _login(app, make_user, role: str, fuzz: FuzzParties) -> Api:
    party_id = {"merchant": fuzz.merchant_id, "logistics": fuzz.logistics_id}.get(role.split("_")[0])
    user = await make_user(role, party_id)
    async with http_client(app) as anonymous:
        api = Api(anonymous)
        tokens = (
            await api.login_with_totp(user.email, user.totp_secret) if user.totp_secret else await api.login(user.email)
        )
    assert tokens["__typename"] == "AuthTokens", tokens
    return Api(http_client(app, tokens["accessToken"]))


async def test_no_generated_request_gets_a_server_error_whatever_the_role(fuzz_app, make_user, fuzz_parties):
    documents = fuzz_parties.documents
    callers = {"anonymous": Api(http_client(fuzz_app))}
    for role in ROLES:
        callers[role] = await _login(fuzz_app, make_user, role, fuzz_parties)
    failures = []
    try:
        for role, api in callers.items():
            for document in documents:
                response = await api.http.post("/graphql", json={"query": document})
                body = response.json()
                codes = [(error.get("extensions") or {}).get("code") for error in body.get("errors") or []]
                if response.status_code >= 500 or "INTERNAL_SERVER_ERROR" in codes:
                    failures.append((role, response.status_code, document, body.get("errors")))
    finally:
        for api in callers.values():
            await api.http.aclose()
    assert not failures, "\n\n".join(map(repr, failures[:5]))
