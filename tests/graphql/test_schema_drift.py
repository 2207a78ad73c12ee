"""schema.graphql is the front ends' documentation: it must match the code, and describe everything."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from schema import build_schema

SDL_PATH = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_sdl_matches_the_code():
    expected = build_schema().as_str() + "\n"
    assert SDL_PATH.read_text() == expected, "schema.graphql is stale: run `splitledger schema > schema.graphql`"


def test_every_type_and_field_has_a_description():
    schema = build_schema()._schema
    missing = []
    for name, graphql_type in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Boolean", "ID", "Float"}:
            continue
        if not graphql_type.description:
            missing.append(name)
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
        if isinstance(graphql_type, GraphQLEnumType):
            continue
    assert not missing, f"undocumented: {missing}"


def test_money_is_never_a_graphql_int_or_float():
    schema = build_schema()._schema
    offenders = []
    for name, graphql_type in schema.type_map.items():
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in graphql_type.fields.items():
                type_name = str(field.type).strip("!")
                counted = field_name.endswith("Count")  # payoutCount: how many payouts, not how much
                money_word = any(word in field_name.lower() for word in ("amount", "payout", "fee", "balance"))
                if money_word and not counted and type_name in {"Int", "Float"}:
                    offenders.append(f"{name}.{field_name}: {type_name}")
    assert not offenders
