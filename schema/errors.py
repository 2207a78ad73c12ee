"""Typed errors returned inside mutation result unions, and the mapping from domain errors to them."""

from __future__ import annotations

import strawberry

from domain.errors import AlreadyExists, DomainError, ErrorCode, InvalidInput, NotFound

ErrorCodeEnum = strawberry.enum(
    ErrorCode, name="ErrorCode", description="Stable, machine-readable codes of the errors a caller can get."
)


@strawberry.interface(
    description="An expected error: the request was understood, but the input is not acceptable. Nothing was written."
)
class UserError:
    code: ErrorCodeEnum = strawberry.field(description="Stable code to branch on.")
    message: str = strawberry.field(description="What was wrong and what is allowed, for people.")
    field: str | None = strawberry.field(description="The input field at fault (a dotted path), if one is.")


@strawberry.type(description="One field at fault and what was wrong with it.")
class FieldError:
    code: ErrorCodeEnum = strawberry.field(description="Stable code to branch on.")
    message: str = strawberry.field(description="What was wrong and what is allowed, for people.")
    field: str | None = strawberry.field(description="The input field at fault (a dotted path), if one is.")


@strawberry.type(
    description="The input broke a rule: a format, a range, an unknown currency, too many decimals, a negative amount. "
    "`code`, `message` and `field` describe the first problem; `errors` lists every field at fault."
)
class ValidationError(UserError):
    field_errors: strawberry.Private[list[FieldError] | None] = None

    @strawberry.field(description="Every problem found in the input (at least one; the first is the one above).")
    def errors(self) -> list[FieldError]:
        return self.field_errors or [FieldError(code=self.code, message=self.message, field=self.field)]


@strawberry.type(description="A uniqueness rule would be broken, such as a name that is already taken.")
class DuplicateError(UserError):
    pass


@strawberry.type(description="The object does not exist or is not visible to the caller.")
class NotFoundError(UserError):
    pass


@strawberry.type(
    description="The idempotency key was already used with a different request. Use a new key for a "
    "new request; resend the same request to get the first result."
)
class IdempotencyConflict(UserError):
    pass


def user_error(exc: DomainError) -> ValidationError | DuplicateError | NotFoundError | IdempotencyConflict:
    """The union member for an expected domain error; other domain errors (permission) are raised on."""
    if exc.code is ErrorCode.IDEMPOTENCY_CONFLICT:
        return IdempotencyConflict(code=exc.code, message=exc.message, field=exc.field)
    if isinstance(exc, InvalidInput):
        problems = getattr(exc, "errors", None) or (exc,)
        return ValidationError(
            code=exc.code,
            message=exc.message,
            field=exc.field,
            field_errors=[FieldError(code=p.code, message=p.message, field=p.field) for p in problems],
        )
    for kind, graphql_type in (
        (AlreadyExists, DuplicateError),
        (NotFound, NotFoundError),
    ):
        if isinstance(exc, kind):
            return graphql_type(code=exc.code, message=exc.message, field=exc.field)
    raise exc
