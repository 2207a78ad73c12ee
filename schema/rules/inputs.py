"""Inputs of split rules and their translation into the pure RuleDraft (amounts parsed in the rule's currency)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry import relay

from domain.errors import InvalidInput, NotFound
from domain.money import parse_amount
from domain.rules import Band, Computation, Conditions, Leg, LegApplication, RuleDraft
from schema.context import Info
from schema.ids import required_id
from schema.merchants.types import party_database_id, party_type_name
from schema.rules.types import BasisEnum, BeneficiaryEnum, LegApplicationEnum


@strawberry.input(description="A progressive tier.")
class RuleTierInput:
    from_amount: Decimal = strawberry.field(description="Start of the band (the first starts at 0).")
    to_amount: Decimal | None = strawberry.field(default=None, description="End of the band; null for the last.")
    rate_bps: int = strawberry.field(description="Rate in basis points.")


@strawberry.input(description="A leg: who, on what, how much. Give a rate, a fixed amount or tiers (or several).")
class RuleLegInput:
    beneficiary: BeneficiaryEnum = strawberry.field(description="PLATFORM, LOGISTICS or PARTY.")
    basis: BasisEnum = strawberry.field(description="ITEM_AMOUNT, SHIPPING_FEE or ORDER_TOTAL.")
    party_id: relay.GlobalID | None = strawberry.field(
        default=None, description="For PARTY: the party, by the global id of its kind's type (e.g. a `Supplier` id)."
    )
    application: LegApplicationEnum = strawberry.field(
        default=LegApplication.PER_ORDER,
        description="What the computation is applied to: PER_ORDER (default; the sum of the matched lines), "
        "PER_LINE (each line) or PER_UNIT (each unit, ITEM_AMOUNT only).",
    )
    rate_bps: int = strawberry.field(default=0, description="Percentage in basis points (100 = 1 %).")
    fixed_amount: Decimal = strawberry.field(
        default=Decimal(0), description="Fixed amount per order, per line or per unit, as `application` says."
    )
    tiers: list[RuleTierInput] = strawberry.field(default_factory=list, description="Progressive tiers.")
    min_amount: Decimal | None = strawberry.field(default=None, description="Smallest share (per application).")
    max_amount: Decimal | None = strawberry.field(default=None, description="Largest share (per application).")


@strawberry.input(description="When the rule applies; omit a condition to match any value.")
class RuleConditionsInput:
    merchant_ids: list[relay.GlobalID] = strawberry.field(
        default_factory=list, description="Merchants (`Merchant` ids)."
    )
    merchant_tiers: list[str] = strawberry.field(default_factory=list, description="Merchant tiers.")
    categories: list[str] = strawberry.field(default_factory=list, description="Product categories.")
    min_amount: Decimal | None = strawberry.field(default=None, description="Order goods amount at least this.")
    max_amount: Decimal | None = strawberry.field(default=None, description="Order goods amount below this.")
    channels: list[str] = strawberry.field(default_factory=list, description="Sales channels.")
    regions: list[str] = strawberry.field(default_factory=list, description="Regions.")
    active_from: datetime | None = strawberry.field(default=None, description="Payments paid at or after.")
    active_until: datetime | None = strawberry.field(default=None, description="Payments paid before.")


@strawberry.input(description="A split rule (a new one, or a new version of one).")
class SplitRuleInput:
    name: str = strawberry.field(description="Name.")
    description: str | None = strawberry.field(default=None, description="What it is for.")
    currency: str | None = strawberry.field(
        default=None, description="The rule applies to payments in this currency only; required when it has any amount."
    )
    priority: int = strawberry.field(
        default=0,
        description="Higher wins among matching rules (-1000000..1000000). Ignored for the default rule, which "
        "always ranks below every other.",
    )
    conditions: RuleConditionsInput = strawberry.field(default_factory=RuleConditionsInput, description="When.")
    legs: list[RuleLegInput] = strawberry.field(
        description="Who takes what; the merchant gets the rest. At least one, except for the default rule."
    )
    effective_from: datetime | None = strawberry.field(default=None, description="From when; now if omitted.")


MAX_LIST = 200


async def checked_draft(data: SplitRuleInput, info: Info) -> RuleDraft:
    """The draft, once every leg's party id has the type of the party's kind: a `Merchant` id that names a supplier
    names no merchant, so it is NOT_FOUND like a missing party."""
    draft = to_draft(data)
    named = [(index, leg.party_id) for index, leg in enumerate(data.legs) if leg.party_id is not None]
    kinds = await info.context.loaders.party_kind.load_many([leg.party_id for leg in draft.legs if leg.party_id])
    for (index, global_id), kind in zip(named, kinds, strict=True):
        if kind is None or party_type_name(kind) != global_id.type_name:
            raise NotFound("party", field=f"legs[{index}].partyId")
    return draft


def to_draft(data: SplitRuleInput) -> RuleDraft:
    currency = data.currency.strip().upper() if data.currency else None

    def minor(value: Decimal | None, field: str) -> int | None:
        if value is None:
            return None
        if currency is None:
            raise InvalidInput("INVALID_RULE", f"{field} is an amount: give the rule a currency", field="currency")
        return parse_amount(value, currency, field=field).amount_minor

    c = data.conditions
    for name, values in (("merchantIds", c.merchant_ids), ("categories", c.categories), ("legs", data.legs)):
        if len(values) > MAX_LIST:
            raise InvalidInput("INVALID_RULE", f"at most {MAX_LIST} {name}", field=name)
    merchant_ids = frozenset(
        required_id(i, "Merchant", "merchant", f"conditions.merchantIds[{n}]") for n, i in enumerate(c.merchant_ids)
    )
    conditions = Conditions(
        merchant_ids=merchant_ids,
        merchant_tiers=frozenset(c.merchant_tiers),
        categories=frozenset(c.categories),
        min_amount_minor=minor(c.min_amount, "conditions.minAmount"),
        max_amount_minor=minor(c.max_amount, "conditions.maxAmount"),
        currency=currency,
        channels=frozenset(c.channels),
        regions=frozenset(c.regions),
        active_from=c.active_from,
        active_until=c.active_until,
    )
    legs = []
    for index, leg in enumerate(data.legs):
        where = f"legs[{index}]"
        party_id = None if leg.party_id is None else party_database_id(leg.party_id, f"{where}.partyId")
        bands = tuple(
            Band(
                minor(t.from_amount, f"{where}.tiers[{i}].fromAmount") or 0,
                minor(t.to_amount, f"{where}.tiers[{i}].toAmount"),
                t.rate_bps,
            )
            for i, t in enumerate(leg.tiers)
        )
        legs.append(
            Leg(
                beneficiary=leg.beneficiary,
                basis=leg.basis,
                party_id=party_id,
                application=leg.application,
                computation=Computation(
                    rate_bps=leg.rate_bps,
                    fixed_minor=minor(leg.fixed_amount, f"{where}.fixedAmount") or 0 if leg.fixed_amount else 0,
                    bands=bands,
                    min_minor=minor(leg.min_amount, f"{where}.minAmount"),
                    max_minor=minor(leg.max_amount, f"{where}.maxAmount"),
                ),
            )
        )
    return RuleDraft(priority=data.priority, conditions=conditions, legs=tuple(legs))
