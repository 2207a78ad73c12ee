"""Schema extensions: domain errors carry their code to clients; unexpected errors are logged and masked."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from domain.errors import DomainError, ErrorCode

logger = logging.getLogger("splitledger.graphql")
MASKED_MESSAGE = "Unexpected error."


class ErrorCodes(SchemaExtension):
    """Gives every top-level error an `extensions.code`; in production hides what was not meant for clients."""

    def __init__(self, *, mask_unexpected: bool) -> None:
        self.mask_unexpected = mask_unexpected

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [self._process(error) for error in errors]  # type: ignore[union-attr]

    def _process(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        extensions = dict(error.extensions or {})
        if isinstance(original, DomainError):
            extensions.setdefault("code", original.code.value)
            if original.field:
                extensions.setdefault("field", original.field)
            return _with(error, error.message, extensions)
        if original is None or isinstance(original, GraphQLError):
            # Validation, parsing, permission: written for clients already.
            extensions.setdefault(
                "code",
                "GRAPHQL_VALIDATION_FAILED" if original is None and not error.path else ErrorCode.INVALID_INPUT.value,
            )
            return _with(error, error.message, extensions)
        if isinstance(original, ValueError) and error.path is None:
            extensions.setdefault("code", ErrorCode.INVALID_INPUT.value)
            return _with(error, error.message, extensions)
        logger.error("unexpected error in %s", ".".join(map(str, error.path or [])), exc_info=original)
        extensions["code"] = "INTERNAL_SERVER_ERROR"
        return _with(error, MASKED_MESSAGE if self.mask_unexpected else error.message, extensions)


def _with(error: GraphQLError, message: str, extensions: dict) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=extensions,
    )
