"""The single place that decides which rows a principal may read or write.

For each model and each kind of party there is one rule: a function of the principal giving the filter of the
rows in scope. Every read in the services, data loaders and node lookups starts from `readable()`; every
change starts from `writable()`. A model or party kind without a rule sees nothing: new tables are invisible
until someone decides who may see them. Rows out of scope behave exactly as rows that do not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from auth.principal import Principal
from domain.parties import PartyKind

M = TypeVar("M", bound=Model)

Filter = dict[str, Any]
Rule = Callable[[Principal], Filter]

EVERYTHING: Filter = {}
NOTHING: Filter = {"id__in": []}


def _everything(_: Principal) -> Filter:
    return EVERYTHING


def _own_party(principal: Principal) -> Filter:
    return {"id": principal.party_id}


def _rows_of_own_party(principal: Principal) -> Filter:
    return {"party_id": principal.party_id}


def _own_user(principal: Principal) -> Filter:
    return {"user_id": principal.user_id} if principal.user_id is not None else NOTHING


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


def _own_or_logistics_carried(principal: Principal) -> Filter:
    # A logistics partner sees the payments it carried; the other parties' shares stay hidden (Allocation).
    if principal.party_kind is PartyKind.LOGISTICS:
        return {"logistics_party_id": principal.party_id}
    return {"merchant_id": principal.party_id}


READ_RULES["Payment"] = {
    _PLATFORM: _everything,
    _MERCHANT: _own_or_logistics_carried,
    _LOGISTICS: _own_or_logistics_carried,
}
READ_RULES["PaymentLine"] = {
    _PLATFORM: _everything,
    _MERCHANT: lambda p: {"payment__merchant_id": p.party_id},
    _LOGISTICS: lambda p: {"payment__logistics_party_id": p.party_id},
}
READ_RULES["Allocation"] = {
    _PLATFORM: _everything,
    _MERCHANT: _rows_of_own_party,
    _LOGISTICS: _rows_of_own_party,
    _SUPPLIER: _rows_of_own_party,
}
READ_RULES["LedgerAccount"] = READ_RULES["Allocation"]
READ_RULES["Posting"] = READ_RULES["Allocation"]
READ_RULES["SplitRule"] = {_PLATFORM: _everything}
READ_RULES["SplitRuleVersion"] = {_PLATFORM: _everything}
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
}


def read_filter(principal: Principal, model_name: str) -> Filter:
    return _filter(READ_RULES, principal, model_name)


def write_filter(principal: Principal, model_name: str) -> Filter:
    return _filter(WRITE_RULES, principal, model_name)


def _filter(table: dict[str, dict[PartyKind, Rule]], principal: Principal, model_name: str) -> Filter:
    if not principal.is_authenticated or principal.party_kind is None or principal.party_id is None:
        return NOTHING
    rule = table.get(model_name, {}).get(principal.party_kind)
    return NOTHING if rule is None else rule(principal)


def readable(principal: Principal, model: type[M]) -> QuerySet[M]:
    """The rows of `model` that `principal` may read: the start of every read."""
    return model.filter(**read_filter(principal, model.__name__))


def writable(principal: Principal, model: type[M]) -> QuerySet[M]:
    """The rows of `model` that `principal` may change."""
    return model.filter(**write_filter(principal, model.__name__))
