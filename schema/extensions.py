"""Schema extensions: bounded work before execution, domain error codes for clients, unexpected errors masked.

Before a resolver runs, a request passes, in order: the document's cost (selections once fragments are expanded,
so that a 16 KB fragment bomb is refused before graphql-core compares a million fields), validation (with the
rules of the schema, fields allowed once per operation, and no suggestions in production), then the size of the
variables (list lengths, string lengths, NUL characters) before graphql-core coerces them. Every refusal is a
top-level error with an `extensions.code`, and with `extensions.field` when an input value is at fault.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationRule,
    ValuesOfCorrectTypeRule,
    VariableDefinitionNode,
    VariableNode,
    validate,
)
from graphql.language import SKIP, ArgumentNode, Visitor, visit
from graphql.utilities.validate_input_value import validate_input_literal
from strawberry.extensions import SchemaExtension
from strawberry.relay.types import GlobalIDValueError
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from domain.errors import DomainError, ErrorCode

logger = logging.getLogger("splitledger.graphql")
MASKED_MESSAGE = "Unexpected error."
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
NUL = "\x00"


# --- Before validation: what the document costs ------------------------------------------------------------------


def expanded_selections(document: Any) -> int:
    """How many fields the document's operations select once every fragment spread is replaced by its fragment.

    Each fragment's size is computed once (memoised), so this is linear in the document even when the answer is
    a million. A fragment cycle counts as nothing here; validation reports it."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    sizes: dict[str, int] = {}
    in_progress: set[str] = set()

    def size_of(selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += 1 + size_of(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += size_of(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += fragment_size(selection.name.value)
        return total

    def fragment_size(name: str) -> int:
        if name in sizes:
            return sizes[name]
        fragment = fragments.get(name)
        if fragment is None or name in in_progress:
            return 0
        in_progress.add(name)
        sizes[name] = size_of(fragment.selection_set)
        in_progress.discard(name)
        return sizes[name]

    return sum(size_of(d.selection_set) for d in document.definitions if isinstance(d, OperationDefinitionNode))


class _NulInStrings(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: StringValueNode | None = None

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> Any:
        if NUL in node.value and self.found is None:
            self.found = node
        return None


def input_path(path: Collection[str | int]) -> str:
    """`.lineItems[0].unitAmount`, to follow an argument or variable name."""
    return "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path)


# --- Validation -------------------------------------------------------------------------------------------------


class ValuesWithInputPathRule(ValuesOfCorrectTypeRule):
    """graphql-core's rule for literals, with the input path (`input.totalAmount`) in `extensions.field` and the
    scalar's own code (INVALID_AMOUNT, INVALID_ID) in `extensions.code`."""

    argument_name: str = ""

    def enter_argument(self, node: ArgumentNode, *_args: Any) -> None:
        self.argument_name = node.name.value

    def is_valid_value_node(self, node: Any, input_type: Any) -> Any:
        if input_type:
            root = self.argument_name

            def on_error(error: GraphQLError, path: list[str | int]) -> None:
                code = input_error_code(error)
                self.report_error(
                    GraphQLError(
                        error.message,
                        error.nodes or node,
                        original_error=error.original_error,
                        extensions={"code": code, "field": root + input_path(path)},
                    )
                )

            validate_input_literal(node, input_type, on_error, None, None, self.context.hide_suggestions)
        return SKIP  # the value was checked as a whole


def once_per_operation(field_names: Collection[str]) -> type[ValidationRule]:
    """A validation rule: each of these root fields may be selected under one response key per operation, so
    aliases cannot repeat an expensive read or an authentication attempt within one request."""
    guarded = frozenset(field_names)

    class OncePerOperationRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            keys: dict[str, set[str]] = {}
            fragments = {
                d.name.value: d for d in self.context.document.definitions if isinstance(d, FragmentDefinitionNode)
            }
            pending: list[SelectionSetNode] = [node.selection_set]
            seen_fragments: set[str] = set()
            while pending:
                for selection in pending.pop().selections:
                    if isinstance(selection, FieldNode):
                        if selection.name.value in guarded:
                            key = selection.alias.value if selection.alias else selection.name.value
                            keys.setdefault(selection.name.value, set()).add(key)
                    elif isinstance(selection, InlineFragmentNode):
                        pending.append(selection.selection_set)
                    elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen_fragments:
                        seen_fragments.add(selection.name.value)
                        if (fragment := fragments.get(selection.name.value)) is not None:
                            pending.append(fragment.selection_set)
            for name, response_keys in sorted(keys.items()):
                if len(response_keys) > 1:
                    self.report_error(
                        GraphQLError(
                            f"'{name}' may be selected once per operation (found {len(response_keys)} times under "
                            "aliases); send one request per call",
                            node,
                            extensions={"code": VALIDATION_FAILED},
                        )
                    )

    return OncePerOperationRule


class RequestLimits(SchemaExtension):
    """Bounds the work a request can cause before its resolvers run (see the module docstring)."""

    def __init__(
        self,
        *,
        hide_suggestions: bool,
        max_selections: int,
        max_list_items: int,
        max_string_chars: int,
        extra_rules: Collection[type[ValidationRule]] = (),
    ) -> None:
        self.hide_suggestions = hide_suggestions
        self.max_selections = max_selections
        self.max_list_items = max_list_items
        self.max_string_chars = max_string_chars
        self.extra_rules = tuple(extra_rules)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            context.pre_execution_errors = self._refusals(document) or self._validate(document)
        yield

    def _refusals(self, document: Any) -> list[GraphQLError]:
        selections = expanded_selections(document)
        if selections > self.max_selections:
            return [
                GraphQLError(
                    f"the query selects {selections} fields once its fragments are expanded; at most "
                    f"{self.max_selections} are allowed",
                    extensions={"code": VALIDATION_FAILED},
                )
            ]
        nul = _NulInStrings()
        visit(document, nul)
        if nul.found is not None:
            return [
                GraphQLError(
                    "text must not contain the NUL character (U+0000)",
                    nul.found,
                    extensions={"code": ErrorCode.INVALID_INPUT.value},
                )
            ]
        return []

    def _validate(self, document: Any) -> list[GraphQLError]:
        # Strawberry's own validation step has no way to hide suggestions; it is skipped when this has run.
        rules = tuple(
            ValuesWithInputPathRule if rule is ValuesOfCorrectTypeRule else rule
            for rule in self.execution_context.validation_rules
        )
        return validate(
            self.execution_context.schema._schema,
            document,
            (*rules, *self.extra_rules, MaybeNullValidationRule, OneOfInputValidationRule),
            hide_suggestions=self.hide_suggestions,
        )

    def on_execute(self) -> Iterator[None]:
        variables = self.execution_context.variables
        if variables and self.execution_context.result is None:
            problem = self._oversized(variables)
            if problem is not None:
                self.execution_context.result = ExecutionResult(data=None, errors=[problem])  # type: ignore[assignment]
        yield

    def _oversized(self, variables: dict[str, Any]) -> GraphQLError | None:
        """The first list, string or NUL character in the variables that is out of bounds, before graphql-core
        coerces them (a loop, not recursion: the JSON may nest deeply)."""
        pending: list[tuple[Any, str]] = [(value, name) for name, value in variables.items()]
        while pending:
            value, path = pending.pop()
            message = None
            if isinstance(value, str):
                if len(value) > self.max_string_chars:
                    message = f"{path} is longer than {self.max_string_chars} characters"
                elif NUL in value:
                    message = f"{path} must not contain the NUL character (U+0000)"
            elif isinstance(value, list):
                if len(value) > self.max_list_items:
                    message = f"{path} has {len(value)} items; at most {self.max_list_items} are allowed"
                else:
                    pending.extend((item, f"{path}[{index}]") for index, item in enumerate(value))
            elif isinstance(value, dict):
                pending.extend((item, f"{path}.{key}") for key, item in value.items())
            if message is not None:
                return GraphQLError(message, extensions={"code": ErrorCode.INVALID_INPUT.value, "field": path})
        return None


# --- After execution: codes for clients ------------------------------------------------------------------------


def input_error_code(error: GraphQLError) -> str:
    """The code of an input value refused before any resolver ran: the scalar's own, INVALID_ID for a global id
    that does not decode, INVALID_INPUT otherwise (a misspelled enum value, a wrong type)."""
    for candidate in (error, error.original_error):
        if isinstance(candidate, GraphQLError) and candidate.extensions and "code" in candidate.extensions:
            return str(candidate.extensions["code"])
        if isinstance(candidate, DomainError):
            return candidate.code.value
        if isinstance(candidate, GlobalIDValueError):
            return ErrorCode.INVALID_ID.value
    if isinstance(error.original_error, GraphQLError) and error.original_error.original_error is not None:
        return input_error_code(error.original_error)
    return ErrorCode.INVALID_INPUT.value


def _variable_error(error: GraphQLError) -> tuple[str, str] | None:
    """(code, input path) of a variable that graphql-core refused to coerce; None for any other error.

    graphql-core writes the path only into the message ("Variable '$input' has invalid value.totalAmount: ..."),
    around the inner error's message; the test suite holds this reading to the installed version."""
    node = error.nodes[0] if error.nodes else None
    inner = error.original_error
    if not isinstance(node, VariableDefinitionNode) or not isinstance(inner, GraphQLError):
        return None
    name = node.variable.name.value
    prefix, suffix = f"Variable '${name}' has invalid value", f": {inner.message}"
    path = ""
    if error.message.startswith(prefix) and error.message.endswith(suffix):
        path = error.message[len(prefix) : len(error.message) - len(suffix)].removeprefix(" at ")
    return input_error_code(inner), f"{name}{path}"


def _global_id_field(error: GraphQLError, variables: dict[str, Any]) -> str | None:
    """The input path of the global id that strawberry could not decode.

    Strawberry decodes global ids while converting a resolver's arguments and names only the value
    ('Value cannot represent a GlobalID: "abc".'), so the value is looked up in the field's arguments."""
    message = error.message
    start = message.find(': "')
    if start < 0 or not message.endswith('".') or not error.nodes or not isinstance(error.nodes[0], FieldNode):
        return None
    wanted = message[start + 3 : -2]
    pending: list[tuple[Any, str]] = [(argument.value, argument.name.value) for argument in error.nodes[0].arguments]
    while pending:
        node, path = pending.pop(0)
        if isinstance(node, VariableNode):
            # As graphql-core names a variable's problems: from the variable, not the argument.
            pending.append((_PlainValue(variables.get(node.name.value)), node.name.value))
        elif isinstance(node, _PlainValue):
            value = node.value
            if value == wanted:
                return path
            if isinstance(value, dict):
                pending.extend((_PlainValue(item), f"{path}.{key}") for key, item in value.items())
            elif isinstance(value, list):
                pending.extend((_PlainValue(item), f"{path}[{index}]") for index, item in enumerate(value))
        elif isinstance(node, StringValueNode):
            if node.value == wanted:
                return path
        elif isinstance(node, ObjectValueNode):
            pending.extend((field.value, f"{path}.{field.name.value}") for field in node.fields)
        elif isinstance(node, ListValueNode):
            pending.extend((item, f"{path}[{index}]") for index, item in enumerate(node.values))
    return None


class _PlainValue:
    """A value from the request's variables, met while looking through arguments."""

    def __init__(self, value: Any) -> None:
        self.value = value


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
        if isinstance(original, GlobalIDValueError):
            extensions.setdefault("code", ErrorCode.INVALID_ID.value)
            field = _global_id_field(error, self.execution_context.variables or {})
            if field:
                extensions.setdefault("field", field)
            return _with(error, error.message, extensions)
        if (variable := _variable_error(error)) is not None:
            extensions.setdefault("code", variable[0])
            extensions.setdefault("field", variable[1])
            return _with(error, error.message, extensions)
        if original is None or isinstance(original, GraphQLError):
            # Validation, parsing, permission: written for clients already.
            extensions.setdefault(
                "code",
                VALIDATION_FAILED if original is None and not error.path else ErrorCode.INVALID_INPUT.value,
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
