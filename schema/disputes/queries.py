"""Read fields of disputes."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import relay

from domain.services import disputes as dispute_service
from schema.context import Info
from schema.disputes.types import Dispute, DisputeStatusEnum, dispute_from_row
from schema.ids import NO_SUCH_ID, global_id_to_int
from schema.pagination import PAGE_ARGS_HELP, Connection, page_request, to_connection
from schema.permissions import describe, requires


@strawberry.type
class DisputeQuery:
    @strawberry.field(
        description=describe(
            f"Disputes (chargebacks) in the caller's scope: every one for the platform, a merchant's own. "
            f"{PAGE_ARGS_HELP}",
            "refunds:read",
        ),
        extensions=[requires("refunds:read")],
    )
    async def disputes(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        payment_id: Annotated[
            relay.GlobalID | None,
            strawberry.argument(description="Only the disputes of this payment (a `Payment` id)."),
        ] = None,
        status: Annotated[
            DisputeStatusEnum | None, strawberry.argument(description="Only disputes in this status.")
        ] = None,
    ) -> Connection[Dispute]:
        payment = None
        if payment_id is not None:
            payment = global_id_to_int(payment_id, "Payment", "paymentId")
            payment = NO_SUCH_ID if payment is None else payment
        page = await dispute_service.list_disputes(
            info.context.principal, info.context.runtime, page_request(first, after), payment_id=payment, status=status
        )
        return to_connection(page, dispute_from_row)

    @strawberry.field(
        description=describe("A dispute by id; null when missing or out of scope.", "refunds:read"),
        extensions=[requires("refunds:read")],
    )
    async def dispute(self, info: Info, id: relay.GlobalID) -> Dispute | None:
        dispute_id = global_id_to_int(id, "Dispute")
        if dispute_id is None:
            return None
        return await Dispute.resolve_node(node_id=str(dispute_id), info=info, required=False)
