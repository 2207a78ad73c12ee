"""The ASGI application: create_app(settings) wires the database, authentication, GraphQL and health routes."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from tortoise import connections
from tortoise.context import TortoiseContext

from api.authentication import BearerTokenBackend, authentication_error, principal_of
from api.db import tortoise_config
from api.middleware import RequestBodyLimitMiddleware, RequestContextMiddleware, error_body
from api.settings import Settings, SettingsError
from domain.errors import ErrorCode
from domain.services.runtime import Runtime
from schema import SchemaLimits, build_schema
from schema.context import Context

logger = logging.getLogger("splitledger")
# GraphiQL's scripts and styles, vendored at the versions strawberry's page names (see the README there), so the
# development page works without internet. Served at GRAPHIQL_ASSETS_URL in place of the public CDN.
GRAPHIQL_ASSETS = Path(__file__).parent / "static" / "graphiql"
GRAPHIQL_ASSETS_URL = "/static/graphiql/"
_PUBLIC_CDN = "https://unpkg.com/"


class SplitledgerGraphQL(GraphQL):
    def __init__(self, *args: Any, runtime: Runtime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.runtime = runtime

    async def get_context(self, request: Any, response: Any) -> Context:
        return Context(principal=principal_of(request), runtime=self.runtime, request=request, response=response)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        # Strawberry answers a request it cannot read in plain text; clients get GraphQL's error shape instead.
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:
            code = {404: ErrorCode.NOT_FOUND, 413: ErrorCode.REQUEST_TOO_LARGE}.get(
                exc.status_code, ErrorCode.INVALID_REQUEST
            )
            response = Response(
                error_body(code.value, exc.reason), status_code=exc.status_code, media_type="application/json"
            )
        await response(scope, receive, send)

    @cached_property
    def graphql_ide_html(self) -> str:
        # Same files, same integrity hashes: only where they come from changes.
        return super().graphql_ide_html.replace(_PUBLIC_CDN, GRAPHIQL_ASSETS_URL)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            value = json.loads(data)
        except RecursionError:
            raise HTTPException(400, "the JSON body nests too deeply") from None
        except ValueError:
            # Also a number of more than 4,300 digits, which Python refuses to read.
            raise HTTPException(400, "the body is not valid JSON") from None
        if not isinstance(value, dict | list):
            raise HTTPException(400, 'the body must be a JSON object such as {"query": "{ viewer { id } }"}')
        return value


def runtime_from(settings: Settings) -> Runtime:
    return Runtime(
        signing_keys=settings.signing_keys,
        data_keys=settings.encryption_keys,
        access_token_ttl=settings.access_token_ttl,
        refresh_token_ttl=settings.refresh_token_ttl,
        max_page_size=settings.max_page_size,
        lockout_attempts=settings.lockout_attempts,
        lockout_duration=settings.lockout_duration,
        login_throttle=settings.login_throttle(),
        settlement_zone=ZoneInfo(settings.settlement_time_zone),
    )


def create_app(settings: Settings, *, manage_database: bool = True, runtime: Runtime | None = None) -> Starlette:
    """The service. With manage_database=False the caller has initialised Tortoise (tests, benchmarks)."""
    if settings.is_production:
        problems = settings.production_problems()
        if problems:
            raise SettingsError("refusing to start in production: " + "; ".join(problems))
    runtime = runtime or runtime_from(settings)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if not manage_database:
            yield
            return
        # Global fallback: uvicorn runs the lifespan in a task of its own, requests in others.
        async with TortoiseContext() as context:
            await context.init(config=tortoise_config(settings.database_url), _enable_global_fallback=True)
            logger.info("database connected", extra={"path": settings.database_url.split("@")[-1]})
            yield

    graphql = SplitledgerGraphQL(
        build_schema(
            production=settings.is_production,
            limits=SchemaLimits(settings.max_query_depth, settings.max_aliases, settings.max_tokens),
        ),
        runtime=runtime,
        graphql_ide=None if settings.is_production else "graphiql",
        allow_queries_via_get=not settings.is_production,
    )
    middleware = [Middleware(RequestContextMiddleware, production=settings.is_production)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["authorization", "content-type", "x-request-id"],
                expose_headers=["x-request-id"],
                max_age=600,
            )
        )
    middleware.append(
        Middleware(AuthenticationMiddleware, backend=BearerTokenBackend(runtime), on_error=authentication_error)
    )
    middleware.append(
        Middleware(
            RequestBodyLimitMiddleware,
            max_bytes=settings.max_body_bytes,
            max_anonymous_bytes=settings.max_anonymous_body_bytes,
        )
    )
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST", "OPTIONS"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    if not settings.is_production:
        routes.append(Mount(GRAPHIQL_ASSETS_URL.rstrip("/"), StaticFiles(directory=GRAPHIQL_ASSETS), name="graphiql"))
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.settings = settings
    app.state.runtime = runtime
    return app


async def healthz(_request: Request) -> JSONResponse:
    """The process is up."""
    return JSONResponse({"status": "ok"})


async def readyz(_request: Request) -> JSONResponse:
    """The process can serve: its database answers."""
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception as exc:
        logger.warning("database not reachable: %s", exc)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


def create_app_from_env() -> Starlette:
    """Factory for uvicorn (`--factory`), used when serving with several worker processes."""
    return create_app(Settings.from_env())
