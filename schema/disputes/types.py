"""GraphQL types of disputes (chargebacks): the dispute, its status, and who bears a lost one."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from domain.disputes import DisputeOutcome, DisputeStatus, LostDisputeBearer
from domain.money import Money as DomainMoney
from domain.services import disputes as dispute_service
from schema.context import Info
from schema.merchants.types import Party, party_from_row
from schema.money import Money

DisputeStatusEnum = strawberry.enum(
    DisputeStatus,
    name="DisputeStatus",
    description="Where a dispute stands: OPEN (the disputed amount is held from the merchant, in its DISPUTED "
    "balance), WON (the hold went back to the merchant) or LOST (the money went back to the buyer through the "
    "payment provider). WON and LOST are final.",
)
DisputeOutcomeEnum = strawberry.enum(
    DisputeOutcome,
    name="DisputeOutcome",
    description="How the payment provider decided a dispute: WON (the merchant keeps the money) or LOST (the buyer "
    "gets it back).",
)
LostDisputeBearerEnum = strawberry.enum(
    LostDisputeBearer,
    name="LostDisputeBearer",
    description="Who bears a lost dispute. MERCHANT_ONLY: the merchant's hold pays it all and no other party's "
    "money moves. PROPORTIONAL: it is reversed across the parties like a refund of the disputed amount (goods and "
    "shipping fee alike, recorded as a refund with the reason 'dispute lost'), the merchant's part out of its hold "
    "and the rest of the hold back to it; when refunds made after the dispute opened left less than the disputed "
    "amount refundable, the merchant bears it alone.",
)


def _gid(type_name: str, row_id: int | None) -> relay.GlobalID | None:
    return relay.GlobalID(type_name, str(row_id)) if row_id is not None else None


@strawberry.type(
    description="A buyer's chargeback of a payment. While OPEN, the disputed amount of the merchant's money is held "
    "in its DISPUTED balance: from its share of this payment still in escrow, the rest from its AVAILABLE balance "
    "(which may go negative: a debt its next statements deduct). The platform sees every dispute, a merchant its "
    "own; other parties none."
)
class Dispute(relay.Node):
    id: relay.NodeID[int]
    payment_id: relay.GlobalID = strawberry.field(description="The payment disputed (a `Payment` id).")
    merchant_id: relay.GlobalID = strawberry.field(description="The merchant whose money is held (a `Merchant` id).")
    amount: Money = strawberry.field(description="The disputed amount, in the payment's currency.")
    held_from_escrow: Money = strawberry.field(
        description="Of the amount, what came out of the merchant's share of this payment still held in escrow "
        "(PENDING); the rest came out of its AVAILABLE balance."
    )
    reason: str = strawberry.field(description="Why the buyer disputes the payment, as the provider reported it.")
    evidence_due_at: datetime = strawberry.field(description="When the merchant's evidence is due at the provider.")
    status: DisputeStatusEnum = strawberry.field(description="Where the dispute stands.")
    lost_dispute_bearer: LostDisputeBearerEnum | None = strawberry.field(
        description="Who bore the loss, once LOST (the platform setting `lostDisputeBearer` as it applied)."
    )
    opened_at: datetime = strawberry.field(description="When it was opened.")
    opened_by_user_id: relay.GlobalID | None = strawberry.field(
        description="Who opened it (a `User` id); null when an API key did."
    )
    resolved_at: datetime | None = strawberry.field(description="When it was resolved; null while OPEN.")
    resolved_by_user_id: relay.GlobalID | None = strawberry.field(
        description="Who resolved it (a `User` id); null while OPEN or when an API key did."
    )
    opened_entry_id: relay.GlobalID = strawberry.field(
        description="The ledger entry that held the amount (a `JournalEntry` id, kind DISPUTE_OPENED)."
    )
    released_entry_id: relay.GlobalID | None = strawberry.field(
        description="The ledger entry that gave the hold, or what a loss left of it, back to the merchant (a "
        "`JournalEntry` id, kind DISPUTE_RELEASED); null when nothing went back."
    )
    lost_entry_id: relay.GlobalID | None = strawberry.field(
        description="The ledger entry that paid the chargeback out of PSP clearing (a `JournalEntry` id, kind "
        "DISPUTE_LOST); null unless LOST."
    )
    refund_id: relay.GlobalID | None = strawberry.field(
        description="When the loss was shared out (PROPORTIONAL): the refund that records what each party gave "
        "back (a `Refund` id); null otherwise."
    )
    merchant_party_id: strawberry.Private[int]

    @strawberry.field(description="The merchant, when the caller may see it.")
    async def merchant(self, info: Info) -> Party | None:
        row = await info.context.loaders.party.load(self.merchant_party_id)
        return party_from_row(row) if row is not None else None

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False) -> list[Any]:
        rows = await dispute_service.disputes_by_ids(info.context.principal, [int(i) for i in node_ids])
        return [dispute_from_row(rows[int(i)]) if int(i) in rows else None for i in node_ids]


def dispute_from_row(row: Any) -> Dispute:
    def money(minor: int) -> Money:
        return Money.of(DomainMoney(minor, row.currency))

    return Dispute(
        id=row.id,
        payment_id=relay.GlobalID("Payment", str(row.payment_id)),
        merchant_id=relay.GlobalID("Merchant", str(row.merchant_id)),
        merchant_party_id=row.merchant_id,
        amount=money(row.amount_minor),
        held_from_escrow=money(row.from_escrow_minor),
        reason=row.reason,
        evidence_due_at=row.evidence_due_at,
        status=DisputeStatus(row.status),
        lost_dispute_bearer=LostDisputeBearer(row.lost_bearer) if row.lost_bearer else None,
        opened_at=row.opened_at,
        opened_by_user_id=_gid("User", row.opened_by_user_id),
        resolved_at=row.resolved_at,
        resolved_by_user_id=_gid("User", row.resolved_by_user_id),
        opened_entry_id=relay.GlobalID("JournalEntry", str(row.opened_entry_id)),
        released_entry_id=_gid("JournalEntry", row.released_entry_id),
        lost_entry_id=_gid("JournalEntry", row.lost_entry_id),
        refund_id=_gid("Refund", row.refund_id),
    )


@strawberry.field(
    description="Its disputes (chargebacks), oldest first: none unless the caller may read refunds (`refunds:read`); "
    "a merchant sees its own, the platform all, other parties none."
)
async def payment_disputes(root: Any, info: Info) -> list[Dispute]:
    """Payment.disputes, declared here and named in schema/payments/types.py."""
    return [dispute_from_row(row) for row in await info.context.loaders.disputes.load(root.id)]
