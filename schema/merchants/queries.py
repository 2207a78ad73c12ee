"""Read fields of the party area."""

from __future__ import annotations

import strawberry
from strawberry import relay

from domain.parties import PartyKind
from domain.services import parties as party_service
from domain.services.parties import MerchantFilter as MerchantFilterDraft
from schema.context import Info
from schema.ids import global_id_to_int
from schema.merchants.inputs import MerchantFilter
from schema.merchants.types import LogisticsPartner, Merchant, Supplier, party_from_row
from schema.pagination import PAGE_ARGS_HELP, Connection, page_request, to_connection
from schema.permissions import describe, requires


@strawberry.type
class MerchantQuery:
    @strawberry.field(
        description=describe(f"Merchants in the caller's scope. {PAGE_ARGS_HELP}", "parties:read"),
        extensions=[requires("parties:read")],
    )
    async def merchants(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: MerchantFilter | None = None,
    ) -> Connection[Merchant]:
        filters = (
            MerchantFilterDraft(tier=filter.tier, kyc_status=filter.kyc_status, name_contains=filter.name_contains)
            if filter
            else MerchantFilterDraft()
        )
        page = await party_service.list_merchants(
            info.context.principal, info.context.runtime, page_request(first, after), filters
        )
        return to_connection(page, party_from_row)

    @strawberry.field(
        description=describe(
            "A merchant by id; null when it does not exist or is out of the caller's scope.", "parties:read"
        ),
        extensions=[requires("parties:read")],
    )
    async def merchant(self, info: Info, id: relay.GlobalID) -> Merchant | None:
        merchant_id = global_id_to_int(id, "Merchant")
        if merchant_id is None:
            return None
        return await Merchant.resolve_node(node_id=str(merchant_id), info=info, required=False)

    @strawberry.field(
        description=describe(f"Logistics partners in the caller's scope. {PAGE_ARGS_HELP}", "parties:read"),
        extensions=[requires("parties:read")],
    )
    async def logistics_partners(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[LogisticsPartner]:
        page = await party_service.list_partners(
            info.context.principal, info.context.runtime, PartyKind.LOGISTICS, page_request(first, after)
        )
        return to_connection(page, party_from_row)

    @strawberry.field(
        description=describe(f"Suppliers in the caller's scope. {PAGE_ARGS_HELP}", "parties:read"),
        extensions=[requires("parties:read")],
    )
    async def suppliers(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Supplier]:
        page = await party_service.list_partners(
            info.context.principal, info.context.runtime, PartyKind.SUPPLIER, page_request(first, after)
        )
        return to_connection(page, party_from_row)
