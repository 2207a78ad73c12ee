"""ASGI middleware: request ids with access logs, security headers, and a cap on request bodies."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.authentication import principal_of
from api.logs import request_id_var

logger = logging.getLogger("splitledger.access")
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
# GraphiQL (development only) loads its scripts from a CDN; production serves no HTML at all.
STRICT_CSP = "default-src 'none'; frame-ancestors 'none'"


class RequestContextMiddleware:
    """Gives each request an id (the caller's X-Request-ID when sane), echoes it, logs one line per request."""

    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        self.production = production

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_holder = {"status": 500, "started": 0}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = 1
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if self.production:
                    headers.setdefault("content-security-policy", STRICT_CSP)
                    headers.setdefault("strict-transport-security", "max-age=63072000; includeSubDomains")
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except BodyTooLarge as exc:
            await _send_error_if_not_started(status_holder, send_with_headers, 413, "REQUEST_TOO_LARGE", str(exc))
        except Exception:
            # Anything unexpected still gets the headers, the request id and a JSON error, not a bare
            # plain-text 500 from the server's outermost handler.
            logging.getLogger("splitledger").exception("unhandled error")
            await _send_error_if_not_started(
                status_holder, send_with_headers, 500, "INTERNAL_SERVER_ERROR", "Unexpected error."
            )
        finally:
            logger.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status_holder["status"],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "client": (scope.get("client") or ("", 0))[0],
                },
            )
            request_id_var.reset(token)


def error_body(code: str, message: str) -> bytes:
    """An error in GraphQL's response shape, for refusals made before GraphQL runs."""
    return json.dumps({"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}).encode()


async def _send_error_if_not_started(status_holder: dict, send: Send, status: int, code: str, message: str) -> None:
    if status_holder["started"]:
        return
    body = error_body(code, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    """The request body is over its cap; answered 413 by RequestContextMiddleware."""


class RequestBodyLimitMiddleware:
    """Caps request bodies: `max_bytes` for everyone, `max_anonymous_bytes` for requests without a login.

    Runs after authentication, so a request without a principal is refused before its body is read, let alone
    parsed: an anonymous caller can log in, and nothing it may do needs a large body. A declared Content-Length
    over the cap is refused at once; a body sent without one is counted as it arrives."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_anonymous_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_anonymous_bytes = max_anonymous_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        anonymous = not principal_of(HTTPConnection(scope)).is_authenticated
        limit = min(self.max_bytes, self.max_anonymous_bytes) if anonymous else self.max_bytes
        refusal = f"the request body is larger than {limit} bytes" + (
            " (the limit without a login; send 'Authorization: Bearer ...' for more)" if anonymous else ""
        )
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
            raise BodyTooLarge(refusal)
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(refusal)
            return message

        await self.app(scope, counting_receive, send)
