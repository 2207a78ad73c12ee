"""Production hardening: no introspection, no IDE, no suggestions, limits on depth, aliases and tokens."""

from __future__ import annotations

import base64

import pytest

from api.app import create_app
from api.settings import Settings
from tests.conftest import Api, http_client

PRODUCTION_ENV = {
    "SPLITLEDGER_ENV": "production",
    "SPLITLEDGER_JWT_KEYS": "prod-test:" + "q" * 40,
    "SPLITLEDGER_DATA_KEYS": "prod-test:" + base64.urlsafe_b64encode(b"\x09" * 32).decode(),
}


@pytest.fixture(scope="module")
def production_app(database_url):
    settings = Settings.from_env(PRODUCTION_ENV | {"SPLITLEDGER_DATABASE_URL": database_url})
    return create_app(settings, manage_database=False)


@pytest.fixture
async def production_client(production_app):
    async with http_client(production_app) as http:
        yield Api(http)


async def test_introspection_is_rejected_in_production(production_client):
    body = await production_client.execute("{ __schema { types { name } } }", expect_errors=True)
    assert body["errors"] and "introspection" in body["errors"][0]["message"].lower()


async def test_introspection_works_in_development(anonymous_client):
    body = await anonymous_client.execute("{ __schema { queryType { name } } }", expect_errors=True)
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_no_graphiql_page_in_production(production_app, app):
    async with http_client(production_app) as http:
        response = await http.get("/graphql", headers={"accept": "text/html"})
        assert response.status_code != 200 or "graphiql" not in response.text.lower()
    async with http_client(app) as http:
        response = await http.get("/graphql", headers={"accept": "text/html"})
        assert response.status_code == 200 and "graphiql" in response.text.lower()


async def test_no_queries_over_get_in_production(production_app):
    async with http_client(production_app) as http:
        response = await http.get("/graphql", params={"query": "{ __typename }"})
    assert response.status_code in (400, 405)


async def test_mutations_are_never_accepted_over_get(app):
    async with http_client(app) as http:
        response = await http.get("/graphql", params={"query": "mutation { logout { __typename } }"})
    assert response.status_code in (400, 405)


async def test_101_aliases_are_rejected(production_client):
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(101)) + " }"
    body = await production_client.execute(query, expect_errors=True)
    assert body["errors"] and "alias" in body["errors"][0]["message"].lower()


async def test_100_aliases_are_fine(anonymous_client):
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(100)) + " }"
    body = await anonymous_client.execute(query, expect_errors=True)
    assert not body.get("errors") and body["data"]["a99"] == "Query"


async def test_a_too_deep_query_is_rejected(production_client):
    nested = "bankAccount { holderName }"
    for _ in range(12):
        nested = f"edges {{ node {{ ... on Merchant {{ {nested} }} }} }}"
    query = "{ merchants { " + nested.replace("edges { node", "pageInfo { hasNextPage } edges { node", 1) + " } }"
    # Deeper than the limit whatever the field names: use repeated nesting through fragments of Party.
    deep = "{ me { party { " + "... on Party { settlementProfile { minimumPayout { amount " + "} } }" + " } } }"
    body = await production_client.execute(query, expect_errors=True)
    assert body["errors"] and "depth" in body["errors"][0]["message"].lower()
    shallow = await production_client.execute(deep, expect_errors=True)
    assert "depth" not in str(shallow.get("errors", "")).lower()


async def test_too_many_tokens_are_rejected(production_client):
    query = "{ " + " ".join("__typename" for _ in range(6000)) + " }"
    body = await production_client.execute(query, expect_errors=True)
    assert body["errors"] and "token" in body["errors"][0]["message"].lower()


async def test_no_field_suggestions_in_production(production_client, anonymous_client):
    body = await production_client.execute("{ merchantz { id } }", expect_errors=True)
    assert "did you mean" not in body["errors"][0]["message"].lower()
    body = await anonymous_client.execute("{ merchantz { id } }", expect_errors=True)
    assert "did you mean" in body["errors"][0]["message"].lower()


async def test_security_headers_and_request_ids(production_app):
    async with http_client(production_app) as http:
        response = await http.get("/healthz", headers={"x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in response.headers["content-security-policy"]


async def test_health_and_readiness(app):
    async with http_client(app) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


async def test_unexpected_errors_are_masked_in_production():
    from graphql import GraphQLError

    from schema.extensions import MASKED_MESSAGE, ErrorCodes

    error = GraphQLError("secret internals: password=hunter2", path=["me"], original_error=RuntimeError("boom"))
    masked = ErrorCodes(mask_unexpected=True)._process(error)
    assert masked.message == MASKED_MESSAGE and masked.extensions["code"] == "INTERNAL_SERVER_ERROR"
    shown = ErrorCodes(mask_unexpected=False)._process(error)
    assert "secret internals" in shown.message
