"""GraphQL types of split rules and their versions."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry
from strawberry import relay

from domain.money import Money as DomainMoney
from domain.rules import Basis, BeneficiaryKind, LegApplication, conditions_from_dict, legs_from_list
from domain.services import rules as rule_service
from schema.context import Info
from schema.merchants.types import party_global_id

BasisEnum = strawberry.enum(
    Basis,
    description="What a leg's share is computed on. ITEM_AMOUNT: the goods amount of the lines the rule matched. "
    "SHIPPING_FEE: those lines' part of the shipping fee; a rule with a SHIPPING_FEE leg decides the whole shipping "
    "fee (what its legs leave goes to the merchant), a rule without one leaves the shipping fee to the order's "
    "logistics partner, less what ORDER_TOTAL legs take of it. ORDER_TOTAL: both; the share is drawn from the goods "
    "and the shipping fee in proportion to the two, and only its goods part counts toward the merchant-share cap "
    "(so a 2 % ORDER_TOTAL fee costs the merchant 2 % of the goods and the logistics partner 2 % of the shipping).",
)
LegApplicationEnum = strawberry.enum(
    LegApplication,
    name="LegApplication",
    description="What a leg's computation (rate, tiers, fixed amount, minimum and maximum) is applied to. "
    "PER_ORDER (the default): once, to the sum of the lines the rule matched in the order; the result is attributed "
    "back to those lines in proportion, so the same goods itemised differently pay the same. PER_LINE: to each "
    "matched line on its own. PER_UNIT: to one unit of each matched line, times its quantity (ITEM_AMOUNT only).",
)
BeneficiaryEnum = strawberry.enum(BeneficiaryKind, description="Who a leg pays.")


class RuleStatus(enum.StrEnum):
    DRAFT = rule_service.DRAFT
    ACTIVE = rule_service.ACTIVE
    ARCHIVED = rule_service.ARCHIVED


RuleStatusEnum = strawberry.enum(
    RuleStatus,
    name="SplitRuleStatus",
    description="Where a rule stands. DRAFT: written, no version activated yet. ACTIVE: its activated versions split "
    "payments. ARCHIVED: it matches no new payment.",
)


@strawberry.type(description="A progressive tier: `rateBps` on the part of the basis from `from` up to `to`.")
class RuleTier:
    from_amount: Decimal = strawberry.field(description="Start of the band, in major units.")
    to_amount: Decimal | None = strawberry.field(description="End of the band; null for the last, open band.")
    rate_bps: int = strawberry.field(description="Rate in basis points (100 = 1 %).")


@strawberry.type(description="One leg of a rule: a beneficiary, a basis and how much of it.")
class RuleLeg:
    beneficiary: BeneficiaryEnum = strawberry.field(description="PLATFORM, LOGISTICS (the order's) or PARTY.")
    basis: BasisEnum = strawberry.field(description="ITEM_AMOUNT, SHIPPING_FEE or ORDER_TOTAL.")
    application: LegApplicationEnum = strawberry.field(
        description="PER_ORDER, PER_LINE or PER_UNIT: what the computation is applied to, once."
    )
    rate_bps: int = strawberry.field(description="Percentage in basis points.")
    fixed_amount: Decimal = strawberry.field(
        description="Fixed amount, in major units: per order, per line or per unit, as `application` says."
    )
    tiers: list[RuleTier] = strawberry.field(description="Progressive tiers, if any.")
    min_amount: Decimal | None = strawberry.field(description="Smallest share (per order, line or unit).")
    max_amount: Decimal | None = strawberry.field(description="Largest share (per order, line or unit).")
    party_row_id: strawberry.Private[int | None]

    @strawberry.field(description="For PARTY: the party, a global id of its kind's type (e.g. a `Supplier` id).")
    async def party_id(self, info: Info) -> relay.GlobalID | None:
        return await party_global_id(info, self.party_row_id) if self.party_row_id else None


@strawberry.type(description="When a rule applies; empty lists and nulls mean any.")
class RuleConditions:
    merchant_ids: list[relay.GlobalID] = strawberry.field(description="Merchants (`Merchant` ids).")
    merchant_tiers: list[str] = strawberry.field(description="Merchant tiers.")
    categories: list[str] = strawberry.field(description="Product categories.")
    min_amount: Decimal | None = strawberry.field(description="Order goods amount at least this.")
    max_amount: Decimal | None = strawberry.field(description="Order goods amount below this.")
    currency: str | None = strawberry.field(description="Only payments in this currency.")
    channels: list[str] = strawberry.field(description="Sales channels.")
    regions: list[str] = strawberry.field(description="Regions.")
    active_from: datetime | None = strawberry.field(description="Payments paid at or after.")
    active_until: datetime | None = strawberry.field(description="Payments paid before.")


@strawberry.type(description="One immutable version of a rule.")
class SplitRuleVersion(relay.Node):
    id: relay.NodeID[int]
    version: int = strawberry.field(description="1, 2, ...")
    priority: int = strawberry.field(
        description="Higher wins among matching rules; the default rule's versions rank below every other."
    )
    effective_from: datetime = strawberry.field(description="Payments paid from then on use it once it is active.")
    activated_at: datetime | None = strawberry.field(description="When it was activated; null for a draft version.")
    conditions: RuleConditions = strawberry.field(description="When it applies.")
    legs: list[RuleLeg] = strawberry.field(description="Who takes what; the merchant gets the rest.")
    rule_row_id: strawberry.Private[int]

    @strawberry.field(description="The rule it is a version of (a `SplitRule` id).")
    def rule_id(self) -> relay.GlobalID:
        return relay.GlobalID("SplitRule", str(self.rule_row_id))

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False) -> list[Any]:
        ids = [int(i) for i in node_ids]
        rows = await rule_service.versions_by_ids(info.context.principal, ids)
        return [version_from_row(rows[i]) if i in rows else None for i in ids]


def _major(minor: int | None, currency: str | None) -> Decimal | None:
    if minor is None:
        return None
    return DomainMoney(minor, currency or "CNY").to_decimal()


def version_from_row(row: Any) -> SplitRuleVersion:
    conditions = conditions_from_dict(json.loads(row.conditions))
    currency = conditions.currency
    return SplitRuleVersion(
        id=row.id,
        rule_row_id=row.rule_id,
        version=row.version,
        priority=row.priority,
        effective_from=row.effective_from,
        activated_at=row.activated_at,
        conditions=RuleConditions(
            merchant_ids=[relay.GlobalID("Merchant", str(i)) for i in sorted(conditions.merchant_ids)],
            merchant_tiers=sorted(conditions.merchant_tiers),
            categories=sorted(conditions.categories),
            min_amount=_major(conditions.min_amount_minor, currency),
            max_amount=_major(conditions.max_amount_minor, currency),
            currency=currency,
            channels=sorted(conditions.channels),
            regions=sorted(conditions.regions),
            active_from=conditions.active_from,
            active_until=conditions.active_until,
        ),
        legs=[
            RuleLeg(
                beneficiary=leg.beneficiary,
                party_row_id=leg.party_id,
                basis=leg.basis,
                application=leg.application,
                rate_bps=leg.computation.rate_bps,
                fixed_amount=_major(leg.computation.fixed_minor, currency) or Decimal(0),
                tiers=[
                    RuleTier(
                        from_amount=_major(b.from_minor, currency) or Decimal(0),
                        to_amount=_major(b.to_minor, currency),
                        rate_bps=b.rate_bps,
                    )
                    for b in leg.computation.bands
                ],
                min_amount=_major(leg.computation.min_minor, currency),
                max_amount=_major(leg.computation.max_minor, currency),
            )
            for leg in legs_from_list(json.loads(row.legs))
        ],
    )


@strawberry.type(description="A split rule: conditions that pick it and legs that say who takes what.")
class SplitRule(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="Name.")
    description: str | None = strawberry.field(description="What it is for.")
    status: RuleStatusEnum = strawberry.field(description="Where the rule stands.")
    is_default: bool = strawberry.field(
        description="The default rule: an ordinary rule that ranks below every other and matches every payment "
        "(no conditions, rates only), so a payment no other rule matches is split by it."
    )
    archive_requested: bool = strawberry.field(
        description="Someone asked to archive the rule and a second person must confirm (when the platform "
        "setting rulesNeedSecondApprover is on)."
    )
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

    @strawberry.field(description="Every version, oldest first.")
    async def versions(self, info: Info) -> list[SplitRuleVersion]:
        return [version_from_row(row) for row in await info.context.loaders.rule_versions.load(self.id)]

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False) -> list[Any]:
        results = []
        for node_id in node_ids:
            try:
                results.append(rule_from_row(await rule_service.get_rule(info.context.principal, int(node_id))))
            except Exception:
                results.append(None)
        return results


def rule_from_row(row: Any) -> SplitRule:
    return SplitRule(
        id=row.id,
        name=row.name,
        description=row.description,
        status=RuleStatus(row.status),
        is_default=row.is_default,
        archive_requested=row.archive_requested_by_id is not None and row.status != RuleStatus.ARCHIVED,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
