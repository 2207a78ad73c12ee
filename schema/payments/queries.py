"""Read fields of the payments area."""

from __future__ import annotations

import strawberry
from strawberry import relay

from domain.services import payment_reads, rule_simulation
from domain.services.payment_reads import PaymentFilter as PaymentFilterDraft
from schema.context import Info
from schema.ids import global_id_to_int, required_id
from schema.pagination import PAGE_ARGS_HELP, Connection, page_request, to_connection
from schema.payments.inputs import PaymentFilter, PaymentInput, to_draft
from schema.payments.types import Payment, SplitPreview, payment_from_row, preview_from_split
from schema.permissions import describe, requires


@strawberry.type
class PaymentQuery:
    @strawberry.field(
        description=describe(
            f"Payments in the caller's scope: a merchant's own, the ones a logistics "
            f"partner carried, all for the platform. {PAGE_ARGS_HELP}",
            "payments:read",
        ),
        extensions=[requires("payments:read")],
    )
    async def payments(
        self, info: Info, first: int | None = None, after: str | None = None, filter: PaymentFilter | None = None
    ) -> Connection[Payment]:
        filters = PaymentFilterDraft()
        if filter is not None:
            merchant_id = None
            if filter.merchant_id is not None:
                # A global id of another type names no merchant: NOT_FOUND naming the field, not a silent empty list.
                merchant_id = required_id(filter.merchant_id, "Merchant", "merchant", "filter.merchantId")
            filters = PaymentFilterDraft(
                merchant_id=merchant_id,
                status=filter.status,
                paid_from=filter.paid_from,
                paid_until=filter.paid_until,
                external_order_id=filter.external_order_id,
            )
        page = await payment_reads.list_payments(
            info.context.principal, info.context.runtime, page_request(first, after), filters
        )
        return to_connection(page, payment_from_row)

    @strawberry.field(
        description=describe("A payment by id; null when missing or out of scope.", "payments:read"),
        extensions=[requires("payments:read")],
    )
    async def payment(self, info: Info, id: relay.GlobalID) -> Payment | None:
        payment_id = global_id_to_int(id, "Payment")
        if payment_id is None:
            return None
        return await Payment.resolve_node(node_id=str(payment_id), info=info, required=False)

    @strawberry.field(
        description=describe(
            "A payment by the merchant's order id; null when missing or out of scope.", "payments:read"
        ),
        extensions=[requires("payments:read")],
    )
    async def payment_by_external_id(
        self, info: Info, merchant_id: relay.GlobalID, external_order_id: str
    ) -> Payment | None:
        merchant = global_id_to_int(merchant_id, "Merchant", "merchantId")
        if merchant is None:
            return None
        row = await payment_reads.payment_by_external_id(info.context.principal, merchant, external_order_id)
        return payment_from_row(row) if row is not None else None

    @strawberry.field(
        description=describe(
            "What a payment would give each party under the rules in effect, per line "
            "item, with the rule version that matched. Writes nothing.",
            "rules:read",
        ),
        extensions=[requires("rules:read")],
    )
    async def preview_split(self, info: Info, input: PaymentInput) -> SplitPreview:
        draft = to_draft(input, info.context.runtime.now())
        split = await rule_simulation.preview_split(info.context.principal, info.context.runtime, draft)
        return preview_from_split(split, draft.currency.strip().upper())
