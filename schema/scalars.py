"""Scalars: a strict Decimal for money that never passes through a float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import strawberry
from graphql import FloatValueNode, IntValueNode, StringValueNode, ValueNode


def _parse_decimal(value: Any) -> Decimal:
    if isinstance(value, (bool, float)):
        raise ValueError(
            'send decimal amounts as strings, such as "150.00"; floating-point numbers are '
            "not accepted because they cannot hold amounts exactly"
        )
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
        if not parsed.is_finite():
            raise ValueError(f"{value!r} is not a finite decimal number")
        return parsed
    raise ValueError(f"{value!r} is not a decimal number")


def _parse_decimal_literal(node: ValueNode, _variables: Any = None) -> Decimal:
    # A literal in the query text is exact, even one written as 150.00 without quotes.
    if isinstance(node, StringValueNode | IntValueNode | FloatValueNode):
        return _parse_decimal(node.value)
    raise ValueError("expected a decimal number")


def _serialize_decimal(value: Decimal) -> str:
    return format(value, "f")


DECIMAL_SCALAR = strawberry.scalar(
    name="Decimal",
    description='An exact decimal number as a string, e.g. "150.00". Money amounts are in major units and '
    "never have more decimals than their currency allows.",
    serialize=_serialize_decimal,
    parse_value=_parse_decimal,
    parse_literal=_parse_decimal_literal,
)

SCALAR_MAP = {Decimal: DECIMAL_SCALAR}
