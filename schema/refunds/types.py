"""GraphQL types of refunds: the refund, what it took back of each party's share, and what is still refundable."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from domain.money import Money as DomainMoney
from domain.refunds import RefundBasis
from domain.services import refunds as refund_service
from domain.splitting import ShareRole
from schema.context import Info
from schema.merchants.types import party_global_id
from schema.money import Money
from schema.payments.types import ShareRoleEnum, payment_line_gid

RefundBasisEnum = strawberry.enum(
    RefundBasis,
    name="RefundBasis",
    description="Which part of a party's share of a line item a reversal takes back. GOODS: its part of the line's "
    "goods amount. SHIPPING: its part of the line's share of the shipping fee (the courier's, as a rule), taken "
    "back only when the refund includes the shipping fee.",
)


def _money(amount_minor: int, currency: str) -> Money:
    return Money.of(DomainMoney(amount_minor, currency))


@strawberry.type(
    description="What one refund took back of one party's share of one line item: of its goods part or of its "
    "shipping part."
)
class RefundReversal:
    line_position: int = strawberry.field(
        description="The line item whose share it reverses, by position: `PaymentLineItem.position` and "
        "`Allocation.linePosition` name the same line."
    )
    role: ShareRoleEnum = strawberry.field(description="Why the party had the share.")
    basis: RefundBasisEnum = strawberry.field(description="Whether it reverses the goods or the shipping part.")
    amount: Money = strawberry.field(description="What the party gives back: more than zero.")
    party_row_id: strawberry.Private[int]

    @strawberry.field(description="The party that gives it back: a global id of its kind's type.")
    async def party_id(self, info: Info) -> relay.GlobalID:
        return await party_global_id(info, self.party_row_id, self.role)


def reversal_from_row(row: Any) -> RefundReversal:
    return RefundReversal(
        line_position=row.line_position,
        role=ShareRole(row.role),
        basis=RefundBasis(row.basis),
        amount=_money(row.amount_minor, row.currency),
        party_row_id=row.party_id,
    )


@strawberry.type(
    description="Money given back to the buyer of a payment, and what each party gave back of its share for it. "
    "A refund never changes once made."
)
class Refund(relay.Node):
    id: relay.NodeID[int]
    payment_id: relay.GlobalID = strawberry.field(description="The payment refunded (a `Payment` id).")
    amount: Money = strawberry.field(description="What the buyer gets back: the sum of every party's reversals.")
    include_shipping: bool = strawberry.field(
        description="Whether the request asked for the shipping fee back. A refund of everything still "
        "refundable returned it even when this is false."
    )
    reason: str = strawberry.field(description="Why, as the requester gave it (runs of whitespace made one space).")
    created_at: datetime = strawberry.field(description="When it was made.")
    journal_entry_id: relay.GlobalID = strawberry.field(
        description="The ledger entry that paid the buyer back out of PSP clearing and took the money from the "
        "parties (a `JournalEntry` id)."
    )

    @strawberry.field(
        description="What each party gave back, per line item and part (goods or shipping fee), in line order. "
        "A party sees only its own reversals; the platform sees all."
    )
    async def reversals(self, info: Info) -> list[RefundReversal]:
        return [reversal_from_row(row) for row in await info.context.loaders.refund_reversals.load(self.id)]

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False) -> list[Any]:
        ids = [int(node_id) for node_id in node_ids]
        found = await refund_service.refunds_by_ids(info.context.principal, ids)
        return [refund_from_row(found[i]) if i in found else None for i in ids]


def refund_from_row(row: Any) -> Refund:
    return Refund(
        id=row.id,
        payment_id=relay.GlobalID("Payment", str(row.payment_id)),
        amount=_money(row.amount_minor, row.currency),
        include_shipping=row.include_shipping,
        reason=row.reason,
        created_at=row.created_at,
        journal_entry_id=relay.GlobalID("JournalEntry", str(row.journal_entry_id)),
    )


@strawberry.type(description="What is still refundable of one line item.")
class RefundableLine:
    line_item_id: relay.GlobalID = strawberry.field(
        description="The line item (a `PaymentLine` id, as `createRefund` takes it in `items[].lineItemId`)."
    )
    position: int = strawberry.field(description="Its position in the payment.")
    goods: Money = strawberry.field(
        description="What earlier refunds left of its goods amount: the most `items[].amount` may be, and what an "
        "item without an amount refunds."
    )
    shipping: Money = strawberry.field(
        description="What earlier refunds left of its part of the shipping fee: refunded in full when the line is "
        "listed with `includeShipping`."
    )


@strawberry.type(
    description="What is still refundable of a payment: what earlier refunds left of its goods and of its shipping "
    "fee, in total and per line item."
)
class Refundable:
    total: Money = strawberry.field(
        description="Everything still refundable, the shipping fee included: an `amount` equal to it is a whole "
        "refund, which returns the shipping fee too."
    )
    goods: Money = strawberry.field(
        description="Of the total, the line items' goods: the most an `amount` without `includeShipping` may be."
    )
    shipping: Money = strawberry.field(
        description="Of the total, the shipping fee: refunded only with `includeShipping`, or by a whole refund."
    )
    lines: list[RefundableLine] = strawberry.field(description="Per line item, in position order.")


async def refundable_of_payment(info: Info, payment_id: int, currency: str) -> Refundable | None:
    """What is still refundable, for a caller who reads refunds and the payment's line items (it shows the
    line items' amounts, which a logistics partner does not see); None for anyone else."""
    if not info.context.principal.has("refunds:read"):
        return None
    line_ids = {row.position: row.id for row in await info.context.loaders.payment_lines.load(payment_id)}
    if not line_ids:  # every payment has a line item: the caller may not read them
        return None
    left = await refund_service.refundable_of(info.context.principal, payment_id)
    return Refundable(
        total=_money(left.total_minor, currency),
        goods=_money(left.goods_minor, currency),
        shipping=_money(left.shipping_minor, currency),
        lines=[
            RefundableLine(
                line_item_id=payment_line_gid(line_ids[line.position]),
                position=line.position,
                goods=_money(line.goods_minor, currency),
                shipping=_money(line.shipping_minor, currency),
            )
            for line in left.lines
        ],
    )
