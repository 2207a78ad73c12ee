"""GraphQL types of payouts: a payout of a settlement statement to a party's bank account, and its status."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from domain.money import Money as DomainMoney
from domain.services import payouts as payout_service
from domain.services.payouts import PayoutStatus
from schema.context import Info
from schema.merchants.types import Party, party_from_row, party_global_id
from schema.money import Money

PayoutStatusEnum = strawberry.enum(
    PayoutStatus,
    name="PayoutStatus",
    description="Where a payout stands: PENDING_APPROVAL (waiting for one approval, or a second one), APPROVED "
    "(may be sent), SENT (the transfer was ordered; the money is in transit), PAID (the bank confirmed it) or FAILED "
    "(the money went back to the party's AVAILABLE balance).",
)


def _gid(type_name: str, row_id: int | None) -> relay.GlobalID | None:
    return relay.GlobalID(type_name, str(row_id)) if row_id is not None else None


@strawberry.type(
    description="The payout of a settlement statement to the bank account of its party: PENDING_APPROVAL -> "
    "APPROVED -> SENT -> PAID, or FAILED before it is paid. A party sees its own payouts; the platform sees all."
)
class Payout(relay.Node):
    id: relay.NodeID[int]
    settlement_id: relay.GlobalID = strawberry.field(description="The statement it pays (a `Settlement` id).")
    amount: Money = strawberry.field(description="What is paid out.")
    status: PayoutStatusEnum = strawberry.field(description="Where the payout stands.")
    reference: str = strawberry.field(
        description="The text the transfer carries (SPLITLEDGER-PAYOUT-<n>), to match a bank statement line to it."
    )
    started_by_user_id: relay.GlobalID | None = strawberry.field(
        description="Who started the settlement run that made it (a `User` id): the maker, who may not approve it "
        "above the approval threshold. Null when a job or an API key started the run."
    )
    first_approved_by_user_id: relay.GlobalID | None = strawberry.field(
        description="Who gave the first of two approvals (a `User` id), when the party's bank account had changed "
        "recently; null otherwise."
    )
    approved_by_user_id: relay.GlobalID | None = strawberry.field(
        description="Who approved it (a `User` id); null until approved."
    )
    approved_at: datetime | None = strawberry.field(description="When it was approved.")
    batch_id: relay.GlobalID | None = strawberry.field(
        description="The bank file it was exported in (a `PayoutBatch` id); null when sent on its own or not yet sent."
    )
    sent_at: datetime | None = strawberry.field(description="When the transfer was ordered.")
    paid_at: datetime | None = strawberry.field(description="When the bank confirmed it.")
    bank_reference: str | None = strawberry.field(description="The bank's reference of the transfer, once paid.")
    failed_at: datetime | None = strawberry.field(description="When it failed.")
    failure_reason: str | None = strawberry.field(description="Why it failed.")
    created_at: datetime = strawberry.field(description="When the settlement run made it.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    party_row_id: strawberry.Private[int]

    @strawberry.field(description="The party paid: a global id of its kind's type.")
    async def party_id(self, info: Info) -> relay.GlobalID:
        return await party_global_id(info, self.party_row_id)

    @strawberry.field(description="The party paid, when the caller may see it.")
    async def party(self, info: Info) -> Party | None:
        row = await info.context.loaders.party.load(self.party_row_id)
        return party_from_row(row) if row is not None else None

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False) -> list[Any]:
        rows = await payout_service.payouts_by_ids(info.context.principal, [int(i) for i in node_ids])
        return [payout_from_row(rows[int(i)]) if int(i) in rows else None for i in node_ids]


def payout_from_row(row: Any) -> Payout:
    return Payout(
        id=row.id,
        settlement_id=relay.GlobalID("Settlement", str(row.settlement_id)),
        party_row_id=row.party_id,
        amount=Money.of(DomainMoney(row.amount_minor, row.currency)),
        status=PayoutStatus(row.status),
        reference=payout_service.payout_reference(row.id),
        started_by_user_id=_gid("User", row.started_by_user_id),
        first_approved_by_user_id=_gid("User", row.first_approved_by_user_id),
        approved_by_user_id=_gid("User", row.approved_by_user_id),
        approved_at=row.approved_at,
        batch_id=_gid("PayoutBatch", row.batch_id),
        sent_at=row.sent_at,
        paid_at=row.paid_at,
        bank_reference=row.bank_reference,
        failed_at=row.failed_at,
        failure_reason=row.failure_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
