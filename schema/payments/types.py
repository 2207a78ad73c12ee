"""GraphQL types of payments: the payment, its line items, and each party's allocation."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from domain.money import Money as DomainMoney
from domain.services import payment_reads
from domain.splitting import ShareRole
from schema.context import Info
from schema.disputes.types import payment_disputes
from schema.merchants.types import Party, party_from_row, party_global_id
from schema.money import Money
from schema.settlements.types import Delivery, Release, delivery_from_row, release_from_row

if TYPE_CHECKING:
    from schema.refunds.types import Refund, Refundable

ShareRoleEnum = strawberry.enum(
    ShareRole,
    name="ShareRole",
    description="Why a party takes a share: PLATFORM (commission), LOGISTICS (the order's logistics partner), "
    "PARTY (a party a rule's leg names, such as a supplier) or MERCHANT (what the legs leave).",
)


class PaymentStatus(enum.StrEnum):
    CAPTURED = "CAPTURED"


PaymentStatusEnum = strawberry.enum(
    PaymentStatus,
    name="PaymentStatus",
    description="Where a payment stands. CAPTURED: recorded, split, and posted to the ledger.",
)


def _gid(type_name: str, row_id: int | None) -> relay.GlobalID | None:
    return relay.GlobalID(type_name, str(row_id)) if row_id is not None else None


def rule_version_gid(version_id: int) -> relay.GlobalID:
    return relay.GlobalID("SplitRuleVersion", str(version_id))


def payment_line_gid(line_id: int) -> relay.GlobalID:
    return relay.GlobalID("PaymentLine", str(line_id))


@strawberry.type(description="A line item as recorded, with its part of the shipping fee and the rule that split it.")
class PaymentLineItem:
    id: relay.GlobalID = strawberry.field(
        description="The line item (a `PaymentLine` id): what `createRefund` takes as `items[].lineItemId`."
    )
    position: int = strawberry.field(description="Position in the payment (canonical order: sku, category, ...).")
    sku: str = strawberry.field(description="Stock keeping unit.")
    category: str = strawberry.field(description="Product category.")
    unit_amount: Money = strawberry.field(description="Price of one unit.")
    quantity: int = strawberry.field(description="Units bought.")
    amount: Money = strawberry.field(description="unitAmount times quantity.")
    shipping_fee: Money = strawberry.field(description="This line's part of the shipping fee.")
    rule_version_id: relay.GlobalID = strawberry.field(
        description="The split rule version that split this line (a `SplitRuleVersion` id)."
    )


@strawberry.type(description="A party's share of one line item of a payment.")
class Allocation:
    line_position: int = strawberry.field(description="The line item it belongs to.")
    role: ShareRoleEnum = strawberry.field(description="Why the party takes this share.")
    amount: Money = strawberry.field(description="The share.")
    rule_version_id: relay.GlobalID = strawberry.field(
        description="The split rule version that produced it (a `SplitRuleVersion` id)."
    )
    party_row_id: strawberry.Private[int]
    payment_row_id: strawberry.Private[int]

    @strawberry.field(description="The party that receives it: a global id of its kind's type.")
    async def party_id(self, info: Info) -> relay.GlobalID:
        return await party_global_id(info, self.party_row_id, self.role)

    @strawberry.field(
        description="When and why it left escrow (all of a party's allocations in a payment are released "
        "together); null while it is held."
    )
    async def release(self, info: Info) -> Release | None:
        for row in await info.context.loaders.releases.load(self.payment_row_id):
            if row.party_id == self.party_row_id:
                return release_from_row(row)
        return None


def allocation_from_row(row: Any) -> Allocation:
    return Allocation(
        line_position=row.line_position,
        party_row_id=row.party_id,
        payment_row_id=row.payment_id,
        role=ShareRole(row.role),
        amount=Money.of(DomainMoney(row.amount_minor, row.currency)),
        rule_version_id=rule_version_gid(row.rule_version_id),
    )


@strawberry.type(description="A buyer's payment, recorded from the commerce system and split among the parties.")
class Payment(relay.Node):
    id: relay.NodeID[int]
    external_order_id: str = strawberry.field(description="The commerce system's order id (unique per merchant).")
    merchant_id: relay.GlobalID = strawberry.field(description="The merchant that sold.")
    currency: str = strawberry.field(description="ISO 4217 code.")
    total: Money = strawberry.field(description="What the buyer paid.")
    goods: Money = strawberry.field(description="The line items' total.")
    shipping_fee: Money = strawberry.field(description="The shipping fee.")
    channel: str = strawberry.field(description="Sales channel, e.g. APP or MINI_PROGRAM.")
    region: str = strawberry.field(description="Region, e.g. CN-ZJ.")
    status: PaymentStatusEnum = strawberry.field(description="Where the payment stands.")
    paid_at: datetime = strawberry.field(description="When the buyer paid.")
    created_at: datetime = strawberry.field(description="When it was recorded.")
    journal_entry_id: relay.GlobalID | None = strawberry.field(
        description="The ledger entry that posted it (a `JournalEntry` id)."
    )
    logistics_party_id: strawberry.Private[int | None]
    merchant_party_id: strawberry.Private[int]
    disputes = payment_disputes

    @strawberry.field(description="The logistics partner that carries the order, if any.")
    def logistics_partner_id(self) -> relay.GlobalID | None:
        return _gid("LogisticsPartner", self.logistics_party_id)

    @strawberry.field(description="The merchant, when the caller may see it.")
    async def merchant(self, info: Info) -> Party | None:
        row = await info.context.loaders.party.load(self.merchant_party_id)
        return party_from_row(row) if row is not None else None

    @strawberry.field(description="The delivery confirmation, once the platform or the carrier confirmed it.")
    async def delivery(self, info: Info) -> Delivery | None:
        rows = await info.context.loaders.deliveries.load(self.id)
        return delivery_from_row(rows[0]) if rows else None

    @strawberry.field(description="The line items, in canonical order.")
    async def line_items(self, info: Info) -> list[PaymentLineItem]:
        rows = await info.context.loaders.payment_lines.load(self.id)
        return [
            PaymentLineItem(
                id=payment_line_gid(row.id),
                position=row.position,
                sku=row.sku,
                category=row.category,
                quantity=row.quantity,
                unit_amount=Money.of(DomainMoney(row.unit_amount_minor, self.currency)),
                amount=Money.of(DomainMoney(row.amount_minor, self.currency)),
                shipping_fee=Money.of(DomainMoney(row.shipping_minor, self.currency)),
                rule_version_id=rule_version_gid(row.rule_version_id),
            )
            for row in rows
        ]

    @strawberry.field(
        description="Who gets what, per line. A party sees only its own allocations; the platform sees all."
    )
    async def allocations(self, info: Info) -> list[Allocation]:
        return [allocation_from_row(row) for row in await info.context.loaders.allocations.load(self.id)]

    @strawberry.field(
        description="Its refunds, newest first: none unless the caller may read refunds (`refunds:read`). In each, "
        "a party sees only its own reversals."
    )
    async def refunds(self, info: Info) -> list[Annotated[Refund, strawberry.lazy("schema.refunds.types")]]:
        from schema.refunds.types import refund_from_row  # that module builds on this one

        return [refund_from_row(row) for row in await info.context.loaders.payment_refunds.load(self.id)]

    @strawberry.field(
        description="What is still refundable, in total and per line item. Null unless the caller may read refunds "
        "(`refunds:read`) and the payment's line items (a logistics partner does not see them)."
    )
    async def refundable(self, info: Info) -> Annotated[Refundable, strawberry.lazy("schema.refunds.types")] | None:
        from schema.refunds.types import refundable_of_payment  # that module builds on this one

        return await refundable_of_payment(info, self.id, self.currency)

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False) -> list[Any]:
        rows = await payment_reads.payments_by_ids(info.context.principal, [int(i) for i in node_ids])
        return [payment_from_row(rows[int(i)]) if int(i) in rows else None for i in node_ids]


def payment_from_row(row: Any) -> Payment:
    def money(minor: int) -> Money:
        return Money.of(DomainMoney(minor, row.currency))

    return Payment(
        id=row.id,
        external_order_id=row.external_order_id,
        merchant_id=relay.GlobalID("Merchant", str(row.merchant_id)),
        currency=row.currency,
        total=money(row.total_minor),
        goods=money(row.goods_minor),
        shipping_fee=money(row.shipping_fee_minor),
        channel=row.channel,
        region=row.region,
        status=PaymentStatus(row.status),
        paid_at=row.paid_at,
        created_at=row.created_at,
        journal_entry_id=_gid("JournalEntry", row.journal_entry_id),
        logistics_party_id=row.logistics_party_id,
        merchant_party_id=row.merchant_id,
    )


@strawberry.type(description="A party's share in a preview.")
class PreviewShare:
    role: ShareRoleEnum = strawberry.field(description="Why the party would take this share.")
    amount: Money = strawberry.field(description="How much.")
    party_row_id: strawberry.Private[int]

    @strawberry.field(description="Who would receive it: a global id of its kind's type.")
    async def party_id(self, info: Info) -> relay.GlobalID:
        return await party_global_id(info, self.party_row_id, self.role)


@strawberry.type(description="How one line item would be split.")
class PreviewLine:
    sku: str = strawberry.field(description="Stock keeping unit.")
    category: str = strawberry.field(description="Product category.")
    amount: Money = strawberry.field(description="The line's goods amount.")
    shipping_fee: Money = strawberry.field(description="Its part of the shipping fee.")
    rule_version_id: relay.GlobalID = strawberry.field(
        description="The rule version that matched (a `SplitRuleVersion` id)."
    )
    shares: list[PreviewShare] = strawberry.field(description="Who gets what of this line.")


@strawberry.type(description="What a payment would give each party under the rules in effect. Nothing was written.")
class SplitPreview:
    total: Money = strawberry.field(description="The payment's total.")
    lines: list[PreviewLine] = strawberry.field(description="Per line item.")
    parties: list[PreviewShare] = strawberry.field(description="Per party, over all lines.")


def preview_from_split(split: Any, currency: str) -> SplitPreview:
    def share(party_id: int, role: Any, amount: int) -> PreviewShare:
        return PreviewShare(party_row_id=party_id, role=ShareRole(role), amount=Money.of(DomainMoney(amount, currency)))

    return SplitPreview(
        total=Money.of(DomainMoney(split.total_minor, currency)),
        lines=[
            PreviewLine(
                sku=line.line.sku,
                category=line.line.category,
                amount=Money.of(DomainMoney(line.line.amount_minor, currency)),
                shipping_fee=Money.of(DomainMoney(line.shipping_minor, currency)),
                rule_version_id=rule_version_gid(line.rule_version_id),
                shares=[share(s.party_id, s.role, s.amount_minor) for s in line.shares],
            )
            for line in split.lines
        ],
        parties=[share(party_id, role, amount) for (party_id, role), amount in sorted(split.per_party().items())],
    )
