"""The demo lets the usual local front-end dev servers call it from a browser; an explicit allow-list wins."""

from __future__ import annotations

import dataclasses

import pytest

from api.app import create_app
from api.demo import DEMO_CORS_ORIGINS, demo_settings
from tests.conftest import http_client

PREFLIGHT = {"access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type"}


@pytest.mark.parametrize(
    "origin", ["http://localhost:5173", "http://localhost:3000", "http://127.0.0.1:5173", "http://127.0.0.1:3000"]
)
async def test_the_demo_allows_a_local_front_end_origin(settings, runtime, origin):
    app = create_app(demo_settings(settings), manage_database=False, runtime=runtime)
    async with http_client(app) as http:
        response = await http.options("/graphql", headers=PREFLIGHT | {"origin": origin})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin


async def test_the_demo_does_not_allow_another_origin(settings, runtime):
    app = create_app(demo_settings(settings), manage_database=False, runtime=runtime)
    async with http_client(app) as http:
        response = await http.options("/graphql", headers=PREFLIGHT | {"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_an_explicit_allow_list_replaces_the_demo_origins(settings):
    chosen = dataclasses.replace(settings, cors_origins=("https://console.example",))
    assert demo_settings(chosen).cors_origins == ("https://console.example",)
    assert demo_settings(dataclasses.replace(settings, cors_origins=())).cors_origins == DEMO_CORS_ORIGINS
