"""Production hardening: no introspection, no IDE, no suggestions, limits on depth, aliases and tokens."""

from __future__ import annotations

import base64
import hashlib
import re
import time

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
    query = "{ " + " ".join("x" for _ in range(6000)) + " }"
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


# --- Requests under attack (issue 8) ---------------------------------------------------------------------------

PREVIEW = "query($i: PaymentInput!) { previewSplit(input: $i) { lines { sku } } }"


def _gid(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _preview_input(world, **overrides):
    return {
        "merchantId": _gid(f"Merchant:{world.merchant_a_id}"),
        "currency": "CNY",
        "totalAmount": "10.00",
        "lineItems": [{"sku": "tea", "category": "tea", "unitAmount": "10.00"}],
    } | overrides


def _first_error(body):
    assert body.get("errors"), body
    return body["errors"][0]


@pytest.mark.parametrize(
    "amount",
    ["1E+999999999", "1e3", "9" * 5000, "\uff11\uff15\uff10.\uff10\uff10", "\u0661\u0665\u0660", " 1 000.00", "0x10"],
    ids=["huge-exponent", "exponent", "5000-digits", "fullwidth-digits", "arabic-indic-digits", "spaces", "hex"],
)
async def test_an_amount_that_is_not_plain_decimal_text_is_invalid_amount_naming_the_field(
    merchant_client, world, amount
):
    started = time.perf_counter()
    body = await merchant_client.execute(PREVIEW, {"i": _preview_input(world, totalAmount=amount)}, expect_errors=True)
    error = _first_error(body)
    assert error["extensions"]["code"] == "INVALID_AMOUNT", error
    assert error["extensions"]["field"] == "i.totalAmount"
    assert time.perf_counter() - started < 1


async def test_a_json_float_amount_is_refused_with_its_input_path(merchant_client, world):
    lines = [{"sku": "tea", "category": "tea", "unitAmount": 10.5}]
    body = await merchant_client.execute(PREVIEW, {"i": _preview_input(world, lineItems=lines)}, expect_errors=True)
    error = _first_error(body)
    assert error["extensions"] == {"code": "INVALID_AMOUNT", "field": "i.lineItems[0].unitAmount"}


async def test_a_float_literal_amount_in_the_query_text_is_refused_like_a_json_float(merchant_client, world):
    merchant = _gid(f"Merchant:{world.merchant_a_id}")
    query = (
        f'{{ previewSplit(input: {{merchantId: "{merchant}", currency: "CNY", totalAmount: 10.5, '
        'lineItems: [{sku: "tea", category: "tea", unitAmount: "10.50"}]}) { lines { sku } } }'
    )
    error = _first_error(await merchant_client.execute(query, expect_errors=True))
    assert error["extensions"] == {"code": "INVALID_AMOUNT", "field": "input.totalAmount"}
    assert "floating-point" in error["message"]


async def test_an_anonymous_large_body_is_refused_before_it_is_parsed(app):
    payments = [{"idempotencyKey": "k" * 50, "lineItems": [{"sku": "x" * 50}] * 20}] * 200
    body = {"query": "mutation($p: [RecordPaymentInput!]!) { recordPayments(inputs: $p) { failed } }"}
    async with http_client(app) as http:
        response = await http.post("/graphql", json=body | {"variables": {"p": payments}})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    assert response.headers["x-request-id"] and response.headers["x-content-type-options"] == "nosniff"


async def test_a_body_over_the_configured_cap_is_refused_even_with_a_login(database_url, runtime, world, client_for):
    settings = Settings(database_url=database_url, max_body_bytes=10_000)
    capped = create_app(settings, manage_database=False, runtime=runtime)
    token = (await client_for("merchant_admin")).http.headers["authorization"].removeprefix("Bearer ")
    async with http_client(capped, token) as http:
        small = await http.post("/graphql", json={"query": "{ __typename }"})
        large = await http.post("/graphql", json={"query": "{ __typename }", "variables": {"x": "y" * 20_000}})

        # Without a Content-Length, the body is counted as it arrives.
        async def chunks():
            yield b'{"query": "{ __typename }", "variables": {"x": "'
            for _ in range(3):
                yield b"y" * 5000
            yield b'"}}'

        streamed = await http.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert small.status_code == 200
    assert large.status_code == 413 and large.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    assert streamed.status_code == 413
    assert Settings.from_env({"SPLITLEDGER_MAX_BODY_BYTES": "1048576"}).max_body_bytes == 1048576


async def test_a_list_over_500_items_in_the_variables_is_refused_before_execution(merchant_client):
    body = await merchant_client.execute(
        "mutation($p: [RecordPaymentInput!]!) { recordPayments(inputs: $p) { failed } }",
        {"p": [{}] * 501},
        expect_errors=True,
    )
    error = _first_error(body)
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "p"} and "500" in error["message"]


async def test_a_string_over_10000_characters_in_the_variables_is_refused(merchant_client, world):
    body = await merchant_client.execute(
        PREVIEW, {"i": _preview_input(world, channel="c" * 10_001)}, expect_errors=True
    )
    assert _first_error(body)["extensions"] == {"code": "INVALID_INPUT", "field": "i.channel"}


async def test_a_fragment_bomb_is_refused_before_validation_compares_its_fields(anonymous_client):
    query = "query { ..." + " ...".join(["F"] * 1000) + " } fragment F on Query { " + "__typename " * 1000 + "}"
    started = time.perf_counter()
    body = await anonymous_client.execute(query, expect_errors=True)
    assert time.perf_counter() - started < 0.3
    error = _first_error(body)
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED" and "fragments" in error["message"]


@pytest.mark.parametrize(
    ("field", "variables", "selection"),
    [
        ("verifyLedger", "", "verifyLedger { ok }"),
        ("previewSplit", "($i: PaymentInput!)", "previewSplit(input: $i) { lines { sku } }"),
        (
            "backtestSplitRule",
            "($d: SplitRuleInput!)",
            'backtestSplitRule(draft: $d, from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z") { payments }',
        ),
    ],
)
async def test_a_heavy_read_field_is_allowed_once_per_operation(platform_admin_client, field, variables, selection):
    twice = f"query{variables} {{ a: {selection} b: {selection} }}"
    body = await platform_admin_client.execute(twice, expect_errors=True)
    assert any(f"'{field}' may be selected once per operation" in e["message"] for e in body["errors"]), body
    once = f"query{variables} {{ a: {selection} }}"
    body = await platform_admin_client.execute(once, expect_errors=True)
    assert "once per operation" not in str(body.get("errors"))


@pytest.mark.parametrize(
    ("field", "selection"),
    [
        ("login", 'login(input: {email: "a@b.example", password: "p"}) { __typename }'),
        ("verifyMfa", 'verifyMfa(input: {challengeToken: "t", code: "123456"}) { __typename }'),
        ("refreshToken", 'refreshToken(input: {refreshToken: "r"}) { __typename }'),
    ],
)
async def test_an_authentication_mutation_is_allowed_once_per_operation(anonymous_client, field, selection):
    via_fragment = f"mutation {{ a: {selection} ...F }} fragment F on Mutation {{ b: {selection} }}"
    error = _first_error(await anonymous_client.execute(via_fragment, expect_errors=True))
    assert f"'{field}' may be selected once per operation" in error["message"]


async def test_a_nul_character_in_any_string_is_a_client_error(merchant_client, world):
    body = await merchant_client.execute(PREVIEW, {"i": _preview_input(world, region="north\x00")}, expect_errors=True)
    assert _first_error(body)["extensions"] == {"code": "INVALID_INPUT", "field": "i.region"}
    literal = '{ merchants(after: "abc\\u0000") { edges { cursor } } }'
    body = await merchant_client.execute(literal, expect_errors=True)
    assert _first_error(body)["extensions"]["code"] == "INVALID_INPUT"


async def test_an_id_or_cursor_beyond_int64_is_a_typed_client_error(merchant_client, world):
    huge = "99999999999999999999"
    body = await merchant_client.execute(
        f'{{ merchant(id: "{_gid(f"Merchant:{huge}")}") {{ id }} }}', expect_errors=True
    )
    assert _first_error(body)["extensions"]["code"] == "INVALID_ID"
    body = await merchant_client.execute(
        PREVIEW, {"i": _preview_input(world, merchantId=_gid(f"Merchant:{huge}"))}, expect_errors=True
    )
    assert _first_error(body)["extensions"]["code"] == "INVALID_ID"
    cursor = base64.urlsafe_b64encode(f"cursor:{huge}".encode()).decode()
    body = await merchant_client.execute(
        f'{{ merchants(after: "{cursor}") {{ edges {{ cursor }} }} }}', expect_errors=True
    )
    assert _first_error(body)["extensions"] == {"code": "INVALID_CURSOR", "field": "after"}
    # node() answers null for what it cannot find, a number past int64 included (it was a driver error).
    body = await merchant_client.execute(f'{{ node(id: "{_gid(f"Merchant:{huge}")}") {{ id }} }}', expect_errors=True)
    assert body == {"data": {"node": None}}


@pytest.mark.parametrize(
    "raw",
    [
        b'"a string"',
        b"42",
        b"null",
        b"true",
        b"[" * 1000 + b"]" * 1000,
        b'{"query": "{ __typename }", "x": ' + b"9" * 5000 + b"}",
        b'{"query": ',
        b"\xff\xfe",
    ],
    ids=["string", "number", "null", "boolean", "nested-1000", "int-5000-digits", "truncated", "not-utf8"],
)
async def test_an_unreadable_json_body_is_a_typed_400_with_headers_and_request_id(app, raw):
    async with http_client(app) as http:
        response = await http.post("/graphql", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_REQUEST"
    assert response.headers["x-request-id"] and response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "query",
    [
        "{ node(idd: 1) { id } }",  # argument name
        "query($x: Strng) { __typename }",  # type name
        "{ merchantz { id } }",  # field name
        '{ backtestSplitRule(draft: {name: "x", legs: [{beneficiary: PLATFRM, basis: ITEM_AMOUNT}]}, '
        'from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z") { payments } }',  # enum value, literal
    ],
)
async def test_production_suggests_no_names_of_any_kind(production_client, anonymous_client, query):
    body = await production_client.execute(query, expect_errors=True)
    assert "did you mean" not in str(body["errors"]).lower()
    body = await anonymous_client.execute(query, expect_errors=True)
    assert "did you mean" in str(body["errors"]).lower()


async def test_production_suggests_no_enum_value_for_a_variable(production_app):
    query = "query($d: SplitRuleInput!) { backtestSplitRule(draft: $d, from: $t, to: $t) { payments } }"
    query = query.replace("query($d: SplitRuleInput!)", "query($d: SplitRuleInput!, $t: DateTime!)")
    draft = {"name": "x", "legs": [{"beneficiary": "PLATFRM", "basis": "ITEM_AMOUNT"}]}
    async with http_client(production_app) as http:
        response = await http.post(
            "/graphql", json={"query": query, "variables": {"d": draft, "t": "2026-01-01T00:00:00Z"}}
        )
    error = response.json()["errors"][0]
    assert "did you mean" not in error["message"].lower()
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "d.legs[0].beneficiary"}


async def test_a_malformed_global_id_is_invalid_id_with_its_input_path(merchant_client, world):
    body = await merchant_client.execute(PREVIEW, {"i": _preview_input(world, merchantId="!!!")}, expect_errors=True)
    assert _first_error(body)["extensions"] == {"code": "INVALID_ID", "field": "i.merchantId"}
    body = await merchant_client.execute('{ merchant(id: "abc") { id } }', expect_errors=True)
    assert _first_error(body)["extensions"] == {"code": "INVALID_ID", "field": "id"}


RECORD = """mutation($p: RecordPaymentInput!) { recordPayment(input: $p) {
  __typename ... on ValidationError { code field message errors { code field message } } } }"""


async def test_every_field_at_fault_in_a_payment_is_reported_at_once(operations_client, world):
    payment = _preview_input(
        world,
        idempotencyKey=" ",
        externalOrderId="order-1",
        paidAt="2026-01-01T00:00:00Z",
        totalAmount="1.00",
        lineItems=[
            {"sku": "tea", "category": "tea", "unitAmount": "10.555"},
            {"sku": "", "category": "x", "unitAmount": "1.00", "quantity": 0},
        ],
    )
    result = (await operations_client.execute(RECORD, {"p": payment}))["recordPayment"]
    assert result["__typename"] == "ValidationError"
    fields = [error["field"] for error in result["errors"]]
    assert fields == ["lineItems[0].unitAmount", "lineItems[1].quantity", "lineItems[1].sku", "idempotencyKey"]
    assert (result["code"], result["field"]) == (result["errors"][0]["code"], result["errors"][0]["field"])


async def test_a_total_mismatch_speaks_in_major_units(operations_client, world):
    payment = _preview_input(
        world,
        idempotencyKey="k-mismatch",
        externalOrderId="o-mismatch",
        paidAt="2026-01-01T00:00:00Z",
        totalAmount="1.00",
        lineItems=[{"sku": "tea", "category": "tea", "unitAmount": "10.55"}],
    )
    result = (await operations_client.execute(RECORD, {"p": payment}))["recordPayment"]
    assert result["message"] == "totalAmount is 1.00 but the line items and shipping fee add up to 10.55"
    assert "minor units" not in result["message"]


async def test_a_zero_amount_payment_is_refused(operations_client, world):
    payment = _preview_input(
        world,
        idempotencyKey="k-zero",
        externalOrderId="o-zero",
        paidAt="2026-01-01T00:00:00Z",
        totalAmount="0.00",
        lineItems=[{"sku": "tea", "category": "tea", "unitAmount": "0.00"}],
    )
    result = (await operations_client.execute(RECORD, {"p": payment}))["recordPayment"]
    assert (result["__typename"], result["field"]) == ("ValidationError", "totalAmount")


async def test_the_graphiql_page_loads_every_script_and_style_from_the_service_itself(app):
    async with http_client(app) as http:
        page = (await http.get("/graphql", headers={"accept": "text/html"})).text
        assets = re.findall(r'(?:src|href)="([^"]+)"\s+integrity="([^"]+)"', page)
        assert len(assets) == 7, assets
        assert "unpkg.com" not in page and "https://" not in "".join(url for url, _ in assets)
        for url, integrity in assets:
            assert url.startswith("/static/graphiql/"), url
            response = await http.get(url)
            assert response.status_code == 200, url
            # The very files the page names: the browser checks the same hash.
            assert integrity == "sha384-" + base64.b64encode(hashlib.sha384(response.content).digest()).decode()


async def test_graphiql_assets_are_not_served_in_production(production_app):
    async with http_client(production_app) as http:
        response = await http.get("/static/graphiql/graphiql@3.8.3/graphiql.min.js")
    assert response.status_code == 404


async def test_an_unexpected_exception_is_a_json_500_with_headers_and_request_id():
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Route

    from api.middleware import RequestContextMiddleware

    async def broken(_request):
        raise RuntimeError("boom")

    app = Starlette(
        routes=[Route("/broken", broken)], middleware=[Middleware(RequestContextMiddleware, production=True)]
    )
    async with http_client(app) as http:
        response = await http.get("/broken", headers={"x-request-id": "req-500"})
    assert response.status_code == 500
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "boom" not in response.text
    assert response.headers["x-request-id"] == "req-500" and response.headers["x-frame-options"] == "DENY"
