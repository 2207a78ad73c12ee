"""The single place that decides which rows a principal may read or write.

For each model and each kind of party there is one rule: a function of the principal giving the filter of the
rows in scope. Every read in the services, data loaders and node lookups starts from `readable()`; every
change starts from `writable()`. A model or party kind without a rule sees nothing: new tables are invisible
until someone decides who may see them. Rows out of scope behave exactly as rows that do not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from tortoise.expressions import Q, ResolveContext, Subquery
from tortoise.filters import Like
from tortoise.models import Model
from tortoise.query_utils import QueryModifier
from tortoise.queryset import QuerySet

from auth.principal import Principal
from domain.parties import PartyKind

M = TypeVar("M", bound=Model)

Filter = dict[str, Any] | Q
# A rule sees the principal and the model it filters (to reach related models through scoping itself).
Rule = Callable[[Principal, type[Model]], Filter]

EVERYTHING: dict[str, Any] = {}
NOTHING: dict[str, Any] = {"id__in": []}


def _everything(_: Principal, __: type[Model]) -> Filter:
    return EVERYTHING


def _own_party(principal: Principal, _: type[Model]) -> Filter:
    return {"id": principal.party_id}


def _rows_of_own_party(principal: Principal, _: type[Model]) -> Filter:
    return {"party_id": principal.party_id}


def _own_user(principal: Principal, _: type[Model]) -> Filter:
    return {"user_id": principal.user_id} if principal.user_id is not None else NOTHING


def _related(model: type[Model], relation: str) -> type[Model]:
    # auth/ may not import domain.models (a sibling layer): related models are reached through the relation.
    field: Any = model._meta.fields_map[relation]  # a relation field: it has related_model
    return cast("type[Model]", field.related_model)


_PLATFORM, _MERCHANT, _LOGISTICS, _SUPPLIER = (
    PartyKind.PLATFORM,
    PartyKind.MERCHANT,
    PartyKind.LOGISTICS,
    PartyKind.SUPPLIER,
)

# model name -> party kind -> rule, for reading.
READ_RULES: dict[str, dict[PartyKind, Rule]] = {
    "Party": {
        _PLATFORM: _everything,
        _MERCHANT: _own_party,
        _LOGISTICS: _own_party,
        _SUPPLIER: _own_party,
    },
    "User": {
        _PLATFORM: _everything,
        _MERCHANT: _rows_of_own_party,
        _LOGISTICS: _rows_of_own_party,
        _SUPPLIER: _rows_of_own_party,
    },
    "AuthSession": {
        _PLATFORM: _own_user,
        _MERCHANT: _own_user,
        _LOGISTICS: _own_user,
        _SUPPLIER: _own_user,
    },
}

READ_RULES["ApiKey"] = {
    _PLATFORM: _everything,
    _MERCHANT: _rows_of_own_party,
    _LOGISTICS: _rows_of_own_party,
    _SUPPLIER: _rows_of_own_party,
}


def _own_or_logistics_carried(principal: Principal, _: type[Model]) -> Filter:
    # A logistics partner sees the payments it carried; the other parties' shares stay hidden (Allocation).
    if principal.party_kind is PartyKind.LOGISTICS:
        return {"logistics_party_id": principal.party_id}
    return {"merchant_id": principal.party_id}


READ_RULES["Payment"] = {
    _PLATFORM: _everything,
    _MERCHANT: _own_or_logistics_carried,
    _LOGISTICS: _own_or_logistics_carried,
}
# A logistics partner sees the order reference and its own shares of the payments it carried, not the merchant's
# line items (SKUs and prices): it needs them for nothing, so it has no rule for them.
READ_RULES["PaymentLine"] = {
    _PLATFORM: _everything,
    _MERCHANT: lambda p, _: {"payment__merchant_id": p.party_id},
}
READ_RULES["Allocation"] = {
    _PLATFORM: _everything,
    _MERCHANT: _rows_of_own_party,
    _LOGISTICS: _rows_of_own_party,
    _SUPPLIER: _rows_of_own_party,
}
READ_RULES["LedgerAccount"] = READ_RULES["Allocation"]
READ_RULES["Posting"] = READ_RULES["Allocation"]


def _entries_touching_own_accounts(principal: Principal, model: type[Model]) -> Filter:
    # An entry is in scope when one of its postings is: a party sees the entries that moved its money.
    postings = readable(principal, _related(model, "postings"))
    return {"id__in": Subquery(postings.values("entry_id"))}


READ_RULES["JournalEntry"] = {
    _PLATFORM: _everything,
    _MERCHANT: _entries_touching_own_accounts,
    _LOGISTICS: _entries_touching_own_accounts,
    _SUPPLIER: _entries_touching_own_accounts,
}


class _Like(Q):
    """`column LIKE pattern` with the pattern's wildcards as written (tortoise's lookups escape them)."""

    __slots__ = ("_column", "_pattern")

    def __init__(self, column: str, pattern: str) -> None:
        super().__init__()
        self._column, self._pattern = column, pattern

    def resolve(self, resolve_context: ResolveContext) -> QueryModifier:
        column = resolve_context.table[self._column]
        return QueryModifier(where_criterion=Like(column, column.wrap_constant(self._pattern)))


# A version's conditions are stored as canonical JSON (domain.rules.conditions_to_dict, json.dumps): merchant ids
# come first, as a sorted list of integers, and `], "merchant_tiers": [` closes that list and appears nowhere else
# (a quote inside a string value is escaped). So these patterns match exactly the versions with no merchant
# condition or with the merchant among their merchant ids, whatever strings the other conditions hold.
_NO_MERCHANT_CONDITION = '{"merchant_ids": [], %'
_MERCHANT_IDS = '{"merchant_ids": ['
_END_OF_MERCHANT_IDS = '], "merchant_tiers": ['


def _conditions_can_name(merchant_id: int) -> Q:
    n = int(merchant_id)
    return Q(
        _Like("conditions", _NO_MERCHANT_CONDITION),
        _Like("conditions", f"{_MERCHANT_IDS}{n}{_END_OF_MERCHANT_IDS}%"),  # the only one
        _Like("conditions", f"{_MERCHANT_IDS}{n}, %"),  # the first of several
        _Like("conditions", f"{_MERCHANT_IDS}%, {n}{_END_OF_MERCHANT_IDS}%"),  # the last
        _Like("conditions", f"{_MERCHANT_IDS}%, {n}, %{_END_OF_MERCHANT_IDS}%"),  # one in between
        join_type=Q.OR,
    )


def _versions_that_can_apply_to_own_merchant(principal: Principal, _: type[Model]) -> Filter:
    # A merchant checks its commission: it reads, never changes, the activated versions of active rules that can
    # apply to it (the default rule among them), never a version that names only other merchants.
    assert principal.party_id is not None
    return Q(activated_at__isnull=False, rule__status="ACTIVE") & _conditions_can_name(principal.party_id)


def _rules_that_can_apply_to_own_merchant(principal: Principal, model: type[Model]) -> Filter:
    versions = readable(principal, _related(model, "versions"))
    return {"status": "ACTIVE", "id__in": Subquery(versions.values("rule_id"))}


# Money going out: every party sees its own releases, statements, lines and payouts, never another's.
for _model in ("Release", "Settlement", "SettlementLine", "Payout"):
    READ_RULES[_model] = READ_RULES["Allocation"]


def _deliveries_of_readable_payments(principal: Principal, model: type[Model]) -> Filter:
    # A delivery is seen by whoever sees its payment: the merchant that sold it, the partner that carried it.
    return {"payment_id__in": Subquery(readable(principal, _related(model, "payment")).values("id"))}


READ_RULES["Delivery"] = {
    _PLATFORM: _everything,
    _MERCHANT: _deliveries_of_readable_payments,
    _LOGISTICS: _deliveries_of_readable_payments,
}
# A refund is the merchant's (it gives the buyer its money back); the partner that carried the payment sees
# the refund too, and every party its own reversals.
READ_RULES["Refund"] = {
    _PLATFORM: _everything,
    _MERCHANT: lambda p, _: {"merchant_id": p.party_id},
    _LOGISTICS: lambda p, _: {"payment__logistics_party_id": p.party_id},
}
READ_RULES["RefundReversal"] = READ_RULES["Allocation"]
# Runs and payout batches are the platform's own operations.
READ_RULES["SettlementRun"] = {_PLATFORM: _everything}
READ_RULES["PayoutBatch"] = {_PLATFORM: _everything}

READ_RULES["SplitRule"] = {_PLATFORM: _everything, _MERCHANT: _rules_that_can_apply_to_own_merchant}
READ_RULES["SplitRuleVersion"] = {_PLATFORM: _everything, _MERCHANT: _versions_that_can_apply_to_own_merchant}
READ_RULES["AuthEvent"] = {
    _PLATFORM: _everything,
    _MERCHANT: _rows_of_own_party,
}

# model name -> party kind -> rule, for changing rows. Permissions decide *whether* one may write at all;
# these rules decide *which* rows.
WRITE_RULES: dict[str, dict[PartyKind, Rule]] = {
    "Party": {
        _PLATFORM: _everything,
        _MERCHANT: _own_party,
        _LOGISTICS: _own_party,
        _SUPPLIER: _own_party,
    },
    "User": {
        _PLATFORM: _everything,
        _MERCHANT: _rows_of_own_party,
    },
    "AuthSession": {
        _PLATFORM: _own_user,
        _MERCHANT: _own_user,
        _LOGISTICS: _own_user,
        _SUPPLIER: _own_user,
    },
    "ApiKey": {
        _PLATFORM: _everything,
        _MERCHANT: _rows_of_own_party,
    },
    "SplitRule": {_PLATFORM: _everything},
    "Payout": {_PLATFORM: _everything},
    # Refunding: the platform any payment, a merchant its own (the permission decides whether at all).
    "Payment": {_PLATFORM: _everything, _MERCHANT: lambda p, _: {"merchant_id": p.party_id}},
    "SettlementRun": {_PLATFORM: _everything},
    "PayoutBatch": {_PLATFORM: _everything},
}

# A dispute (chargeback) is the merchant's: the hold is its money alone. Only the platform opens and resolves
# disputes (they come from the payment provider). A logistics partner or supplier does not see them: when a lost
# dispute is shared out, it sees the refund that reversed its part, and its reversal.
READ_RULES["Dispute"] = {_PLATFORM: _everything, _MERCHANT: lambda p, _: {"merchant_id": p.party_id}}
WRITE_RULES["Dispute"] = {_PLATFORM: _everything}


def read_filter(principal: Principal, model: type[Model]) -> Q:
    return _filter(READ_RULES, principal, model)


def write_filter(principal: Principal, model: type[Model]) -> Q:
    return _filter(WRITE_RULES, principal, model)


def _filter(table: dict[str, dict[PartyKind, Rule]], principal: Principal, model: type[Model]) -> Q:
    if not principal.is_authenticated or principal.party_kind is None or principal.party_id is None:
        return Q(**NOTHING)
    rule = table.get(model.__name__, {}).get(principal.party_kind)
    found = NOTHING if rule is None else rule(principal, model)
    if isinstance(found, Q):
        return found
    return Q(**found)


def readable(principal: Principal, model: type[M]) -> QuerySet[M]:
    """The rows of `model` that `principal` may read: the start of every read."""
    return model.filter(read_filter(principal, model))


def writable(principal: Principal, model: type[M]) -> QuerySet[M]:
    """The rows of `model` that `principal` may change."""
    return model.filter(write_filter(principal, model))
