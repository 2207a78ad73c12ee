"""Starlette authentication backend: builds the request's Principal once, from its bearer token."""

from __future__ import annotations

from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from auth.principal import ANONYMOUS, Principal
from domain.errors import AuthenticationFailed
from domain.services import identity
from domain.services.runtime import Runtime


class PrincipalUser(BaseUser):
    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        return self.principal.is_authenticated

    @property
    def display_name(self) -> str:
        if self.principal.api_key_id is not None:
            return f"api-key:{self.principal.api_key_id}"
        return f"user:{self.principal.user_id}"


class BearerTokenBackend(AuthenticationBackend):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("Authorization header must be 'Bearer <access token or API key>'")
        try:
            principal = await identity.principal_for_bearer(self.runtime, token.strip())
        except AuthenticationFailed as exc:
            raise AuthenticationError(exc.message) from None
        return AuthCredentials(sorted(principal.permissions)), PrincipalUser(principal)


def principal_of(conn: HTTPConnection) -> Principal:
    user = conn.scope.get("user")
    return user.principal if isinstance(user, PrincipalUser) else ANONYMOUS


def authentication_error(_conn: HTTPConnection, exc: Exception) -> JSONResponse:
    """A bad token is answered in GraphQL's error shape, with 401 so clients know to refresh or log in."""
    return JSONResponse(
        {"data": None, "errors": [{"message": str(exc), "extensions": {"code": "INVALID_TOKEN"}}]},
        status_code=401,
        headers={"www-authenticate": 'Bearer error="invalid_token"'},
    )
