"""Read fields of payouts."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import relay

from domain.services import payouts as payout_service
from schema.context import Info
from schema.ids import global_id_to_int
from schema.node import party_id_from_global_id
from schema.pagination import PAGE_ARGS_HELP, Connection, page_request, to_connection
from schema.payouts.types import Payout, PayoutStatusEnum, payout_from_row
from schema.permissions import describe, requires


@strawberry.type
class PayoutQuery:
    @strawberry.field(
        description=describe(
            f"Payouts in the caller's scope: a party's own, every party's for the platform. {PAGE_ARGS_HELP}",
            "payouts:read",
        ),
        extensions=[requires("payouts:read")],
    )
    async def payouts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: Annotated[
            PayoutStatusEnum | None, strawberry.argument(description="Only payouts in this status.")
        ] = None,
        party_id: Annotated[
            relay.GlobalID | None,
            strawberry.argument(description="Only the payouts of this party (a global id of its kind's type)."),
        ] = None,
    ) -> Connection[Payout]:
        party = await party_id_from_global_id(info, party_id) if party_id is not None else None
        page = await payout_service.list_payouts(
            info.context.principal, info.context.runtime, page_request(first, after), status=status, party_id=party
        )
        return to_connection(page, payout_from_row)

    @strawberry.field(
        description=describe("A payout by id; null when missing or out of scope.", "payouts:read"),
        extensions=[requires("payouts:read")],
    )
    async def payout(self, info: Info, id: relay.GlobalID) -> Payout | None:
        payout_id = global_id_to_int(id, "Payout")
        if payout_id is None:
            return None
        return await Payout.resolve_node(node_id=str(payout_id), info=info, required=False)
