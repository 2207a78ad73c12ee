"""Scalars: a strict Decimal for money that never passes through a float."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import strawberry
from graphql import GraphQLError, IntValueNode, StringValueNode, ValueNode

from domain.errors import ErrorCode

# Plain decimal text: an optional minus, ASCII digits, an optional point and ASCII digits. No exponent ("1E+9"
# would let a few bytes stand for a billion digits), no spaces inside, no other
# script's digits (fullwidth, Arabic-Indic).
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)
# Far beyond any amount the ledger accepts (10**15 minor units), and short enough to parse in no time.
MAX_DECIMAL_CHARS = 40


def _invalid(message: str, code: ErrorCode = ErrorCode.INVALID_AMOUNT) -> GraphQLError:
    # A GraphQLError keeps its code through graphql-core's coercion; schema.extensions adds the input path.
    return GraphQLError(message, extensions={"code": code.value})


def _parse_decimal(value: Any) -> Decimal:
    if isinstance(value, (bool, float)):
        raise _invalid(
            'send decimal amounts as strings, such as "150.00"; floating-point numbers are '
            "not accepted because they cannot hold amounts exactly"
        )
    if isinstance(value, int):
        text = str(value) if abs(value) < 10**MAX_DECIMAL_CHARS else "-" * (MAX_DECIMAL_CHARS + 1)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise _invalid('expected a decimal number as a string, such as "150.00"')
    if len(text) > MAX_DECIMAL_CHARS:
        raise _invalid(f"a decimal number has at most {MAX_DECIMAL_CHARS} characters")
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise _invalid(
            f'{text!r} is not a decimal number: use digits 0-9 with an optional point, such as "150.00" '
            "(no exponent, no grouping separators)"
        )
    return Decimal(text)


def _parse_decimal_literal(node: ValueNode, _variables: Any = None) -> Decimal:
    # A literal in the query text is held to the same rule as a variable: `10.5` without quotes is a float
    # literal, and refused like a JSON float, so that an amount means the same however it is sent.
    if isinstance(node, StringValueNode | IntValueNode):
        return _parse_decimal(node.value)
    raise _invalid(
        'send decimal amounts as strings, such as "150.00"; floating-point numbers are '
        "not accepted because they cannot hold amounts exactly"
    )


def _serialize_decimal(value: Decimal) -> str:
    return format(value, "f")


DECIMAL_SCALAR = strawberry.scalar(
    name="Decimal",
    description='An exact decimal number as a string, e.g. "150.00" (at most 40 characters, digits 0-9, no '
    "exponent). Money amounts are in major units and never have more decimals than their currency allows.",
    serialize=_serialize_decimal,
    parse_value=_parse_decimal,
    parse_literal=_parse_decimal_literal,
)


SCALAR_MAP = {Decimal: DECIMAL_SCALAR}
