"""The GraphQL schema: area Query/Mutation classes composed into one root, with limits and error handling."""

from __future__ import annotations

from dataclasses import dataclass

import strawberry
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig

from schema.auth.admin_mutations import AdminMutation
from schema.auth.mutations import AuthMutation
from schema.auth.queries import AuthQuery
from schema.auth.types import ApiKey, User
from schema.extensions import ErrorCodes
from schema.ledger.queries import LedgerQuery
from schema.merchants.mutations import MerchantMutation
from schema.merchants.queries import MerchantQuery
from schema.merchants.types import LogisticsPartner, Merchant, Platform, Supplier
from schema.node import NodeQuery
from schema.payments.mutations import PaymentMutation
from schema.payments.queries import PaymentQuery
from schema.payments.types import Payment
from schema.rules.mutations import RuleMutation
from schema.rules.queries import RuleQuery
from schema.rules.types import SplitRule
from schema.scalars import SCALAR_MAP


@strawberry.type(description="Everything a caller can read. Each field states the permission it needs.")
class Query(NodeQuery, AuthQuery, MerchantQuery, RuleQuery, PaymentQuery, LedgerQuery):
    pass


@strawberry.type(
    description="Everything a caller can change. Each mutation takes one input and returns a "
    "union of its success type and the typed errors it can meet."
)
class Mutation(AuthMutation, AdminMutation, MerchantMutation, RuleMutation, PaymentMutation):
    pass


class SplitledgerSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        # Expected errors (permissions, bad input) are not worth a traceback; the ErrorCodes extension logs
        # the unexpected ones once, with the request id.
        return None


@dataclass(frozen=True)
class SchemaLimits:
    max_depth: int = 12
    max_aliases: int = 100
    max_tokens: int = 5000


def build_schema(*, production: bool = False, limits: SchemaLimits = SchemaLimits()) -> SplitledgerSchema:
    # Factories, not instances: strawberry builds fresh extensions for every request.
    extensions: list = [
        lambda: QueryDepthLimiter(max_depth=limits.max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=limits.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: ErrorCodes(mask_unexpected=production),
    ]
    if production:
        extensions.append(DisableIntrospection)
    return SplitledgerSchema(
        query=Query,
        mutation=Mutation,
        types=[Merchant, LogisticsPartner, Supplier, Platform, User, ApiKey, Payment, SplitRule],
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALAR_MAP, disable_field_suggestions=production, relay_max_results=100),
    )
