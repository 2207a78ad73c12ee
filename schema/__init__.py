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
from schema.disputes.mutations import DisputeMutation
from schema.disputes.queries import DisputeQuery
from schema.extensions import ErrorCodes, RequestLimits, once_per_operation
from schema.ledger.queries import LedgerQuery
from schema.merchants.mutations import MerchantMutation
from schema.merchants.queries import MerchantQuery
from schema.merchants.types import LogisticsPartner, Merchant, Platform, Supplier
from schema.node import NodeQuery
from schema.payments.mutations import PaymentMutation
from schema.payments.queries import PaymentQuery
from schema.payments.types import Payment
from schema.payouts.mutations import PayoutMutation
from schema.payouts.queries import PayoutQuery
from schema.refunds.mutations import RefundMutation
from schema.refunds.queries import RefundQuery
from schema.refunds.types import Refund
from schema.rules.mutations import RuleMutation
from schema.rules.queries import RuleQuery
from schema.rules.types import SplitRule
from schema.scalars import SCALAR_MAP
from schema.settlements.mutations import SettlementMutation
from schema.settlements.queries import SettlementQuery
from schema.settlements.types import Settlement, SettlementRun


@strawberry.type(description="Everything a caller can read. Each field states the permission it needs.")
class Query(
    NodeQuery,
    AuthQuery,
    MerchantQuery,
    RuleQuery,
    PaymentQuery,
    LedgerQuery,
    SettlementQuery,
    PayoutQuery,
    RefundQuery,
    DisputeQuery,
):
    pass


@strawberry.type(
    description="Everything a caller can change. Each mutation takes one input and returns a "
    "union of its success type and the typed errors it can meet."
)
class Mutation(
    AuthMutation,
    AdminMutation,
    MerchantMutation,
    RuleMutation,
    PaymentMutation,
    SettlementMutation,
    PayoutMutation,
    RefundMutation,
    DisputeMutation,
):
    pass


# Expensive reads and authentication attempts: each at most once per operation, so aliases cannot multiply
# them within one request (the one place that names them).
ONCE_PER_OPERATION = ("verifyLedger", "backtestSplitRule", "previewSplit", "login", "verifyMfa", "refreshToken")


class SplitledgerSchema(strawberry.Schema):
    hide_suggestions = False

    def process_errors(self, errors, execution_context=None) -> None:
        # Expected errors (permissions, bad input) are not worth a traceback; the ErrorCodes extension logs
        # the unexpected ones once, with the request id.
        return None

    def _get_custom_context_kwargs(self, operation_extensions=None, *, sync: bool = False) -> dict:
        # graphql-core suggests enum values while coercing variables ("Did you mean PLATFORM_ADMIN?") unless told
        # not to; strawberry passes these keyword arguments on to graphql-core's execute().
        kwargs = super()._get_custom_context_kwargs(operation_extensions, sync=sync)
        kwargs["hide_suggestions"] = self.hide_suggestions
        return kwargs


@dataclass(frozen=True)
class SchemaLimits:
    max_depth: int = 12
    max_aliases: int = 100
    max_tokens: int = 5000
    # Fields selected once fragments are expanded: bounds the cost of validation (a fragment bomb).
    max_selections: int = 2000
    # Any list in the variables (recordPayments takes 500 payments, a payment 500 line items).
    max_list_items: int = 500
    # Any string in the variables.
    max_string_chars: int = 10_000


def build_schema(*, production: bool = False, limits: SchemaLimits = SchemaLimits()) -> SplitledgerSchema:
    # Factories, not instances: strawberry builds fresh extensions for every request.
    extensions: list = [
        lambda: QueryDepthLimiter(max_depth=limits.max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=limits.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: RequestLimits(
            hide_suggestions=production,
            max_selections=limits.max_selections,
            max_list_items=limits.max_list_items,
            max_string_chars=limits.max_string_chars,
            extra_rules=(once_per_operation(ONCE_PER_OPERATION),),
        ),
        lambda: ErrorCodes(mask_unexpected=production),
    ]
    if production:
        extensions.append(DisableIntrospection)
    schema = SplitledgerSchema(
        query=Query,
        mutation=Mutation,
        types=[
            Merchant,
            LogisticsPartner,
            Supplier,
            Platform,
            User,
            ApiKey,
            Payment,
            SplitRule,
            Settlement,
            SettlementRun,
            Refund,
        ],
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALAR_MAP, disable_field_suggestions=production, relay_max_results=100),
    )
    schema.hide_suggestions = production
    return schema
