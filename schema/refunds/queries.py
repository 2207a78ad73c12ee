"""Read fields of refunds."""

from __future__ import annotations

import strawberry
from strawberry import relay

from domain.services import refunds as refund_service
from schema.context import Info
from schema.ids import is_database_id, required_id
from schema.pagination import PAGE_ARGS_HELP, Connection, page_request, to_connection
from schema.permissions import describe, requires
from schema.refunds.types import Refund, refund_from_row


@strawberry.type
class RefundQuery:
    @strawberry.field(
        description=describe(
            "Refunds in the caller's scope, optionally of one payment: the refunds of a merchant's own payments, "
            "all for the platform; in each, a party sees only its own reversals. A payment out of scope has none. "
            f"{PAGE_ARGS_HELP}",
            "refunds:read",
        ),
        extensions=[requires("refunds:read")],
    )
    async def refunds(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        payment_id: relay.GlobalID | None = None,
    ) -> Connection[Refund]:
        payment = required_id(payment_id, "Payment", "payment", "paymentId") if payment_id is not None else None
        page = await refund_service.list_refunds(
            info.context.principal, info.context.runtime, page_request(first, after), payment_id=payment
        )
        return to_connection(page, refund_from_row)

    @strawberry.field(
        description=describe(
            "One refund by id; null when it does not exist, is out of scope, or the id names another type.",
            "refunds:read",
        ),
        extensions=[requires("refunds:read")],
    )
    async def refund(self, info: Info, id: relay.GlobalID) -> Refund | None:
        if id.type_name != "Refund" or not is_database_id(id.node_id):
            return None
        found = await Refund.resolve_nodes(info=info, node_ids=[id.node_id])
        return found[0]
