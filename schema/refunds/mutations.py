"""Refunding payments."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Annotated

import strawberry
from strawberry import relay

from domain.errors import DomainError, ErrorCode, FieldErrors, InvalidInput
from domain.services import refunds as refund_service
from domain.services.refunds import RefundDraft
from schema.context import Info
from schema.errors import IdempotencyConflict, NotFoundError, ValidationError, user_error
from schema.ids import global_id_to_int, required_id
from schema.permissions import describe, requires
from schema.refunds.types import Refund, refund_from_row

# The business rules of a refund, one or two sentences each (domain/refunds.py names them; the SDL states them).
CREATE_REFUND_RULES = " ".join(
    (
        "Refunds a payment in full or in part and takes the money back from the parties that had a share, in one "
        "ledger entry.",
        "By amount or by items, not both: an `amount` is drawn from what is left of the line items' goods in "
        "proportion; each of `items` refunds its own `amount`, by default all that is left of its goods.",
        "The shipping fee is refunded only with `includeShipping` (by amount: drawn with the goods; by items: the "
        "listed line items' parts of it in full), or by a whole refund: an `amount` equal to everything still "
        "refundable returns it too.",
        "Each party gives back in proportion to what is left of its part of each line's goods (or shipping fee), "
        "never more than it received; a series of refunds that refunds everything returns every party's share "
        "exactly.",
        "A party's money comes from escrow while its share is held; once released, from its AVAILABLE balance, "
        "and past it as a debt deducted from its next statements (a reserve hold is not drawn on: it covers the "
        "debt when it comes back).",
        "The platform refunds any payment and a merchant its own; a logistics partner or a supplier never (another "
        "merchant's payment is NOT_FOUND).",
        "Idempotent by key per payment: the same `idempotencyKey` with the same request returns the first refund "
        "(`replayed`), with another request an IdempotencyConflict.",
    )
)


@strawberry.input(description="One line item to refund.")
class RefundItemInput:
    line_item_id: relay.GlobalID = strawberry.field(
        description="A line item of the payment: its `PaymentLineItem.id` (a `PaymentLine` id). List each once."
    )
    amount: Decimal | None = strawberry.field(
        default=None,
        description="How much of its goods to refund, in major units: more than zero, at most what is left of "
        "them (`Payment.refundable`). All that is left when omitted.",
    )


@strawberry.input(description="A refund of a payment: by `amount` or by `items`, with or without the shipping fee.")
class CreateRefundInput:
    payment_id: relay.GlobalID = strawberry.field(description="The payment to refund (a `Payment` id).")
    amount: Decimal | None = strawberry.field(
        default=None,
        description="How much to refund, in major units of the payment's currency: more than zero, at most the "
        "goods still refundable (`Payment.refundable`), or its total with `includeShipping`. An amount equal to "
        "the total is a whole refund, the shipping fee included either way. Give this or `items`.",
    )
    items: list[RefundItemInput] | None = strawberry.field(
        default=None, description="The line items to refund, each at most once. Give this or `amount`."
    )
    include_shipping: bool = strawberry.field(
        default=False,
        description="Refund the shipping fee too: by amount, the amount is drawn from the goods and the shipping "
        "fee together; by items, the listed line items' parts of the shipping fee are refunded in full.",
    )
    reason: str = strawberry.field(description="Why: 1 to 400 characters (runs of whitespace count as one space).")
    idempotency_key: str = strawberry.field(
        description="1 to 128 characters, unique per payment and request, e.g. a UUID: resending the same request "
        "with it returns the first refund."
    )


@strawberry.type(description="The refund was made (or, for a replayed key, had been).")
class CreateRefundSuccess:
    refund: Refund = strawberry.field(description="The refund, with the reversals the caller may see.")
    replayed: bool = strawberry.field(description="True when this key had been used with the same request before.")


CreateRefundResult = Annotated[
    CreateRefundSuccess | ValidationError | NotFoundError | IdempotencyConflict,
    strawberry.union("CreateRefundResult", description="The refund, or why it was not made (nothing written)."),
]


def _line_item_id(global_id: relay.GlobalID, field: str) -> int:
    """A line item's row id. An id of another type is INVALID_ID, like a malformed one: an item can only name a
    line item, so anything else is a mistake in the input, not an object that could not be found."""
    row_id = global_id_to_int(global_id, "PaymentLine", field)
    if row_id is None:
        raise InvalidInput(
            ErrorCode.INVALID_ID, f"{field} is not a line item id: use a PaymentLineItem.id of the payment", field=field
        )
    return row_id


def _draft(data: CreateRefundInput) -> RefundDraft:
    payment_id = required_id(data.payment_id, "Payment", "payment", "paymentId")
    found = FieldErrors()
    items = []
    for index, item in enumerate(data.items or ()):
        line_id = found.check(partial(_line_item_id, item.line_item_id, f"items[{index}].lineItemId"))
        if line_id is not None:
            items.append((line_id, None if item.amount is None else format(item.amount, "f")))
    found.raise_any()
    return RefundDraft(
        payment_id=payment_id,
        idempotency_key=data.idempotency_key,
        reason=data.reason,
        amount=None if data.amount is None else format(data.amount, "f"),
        items=tuple(items),
        include_shipping=data.include_shipping,
    )


@strawberry.type
class RefundMutation:
    @strawberry.mutation(
        description=describe(CREATE_REFUND_RULES, "refunds:create"),
        extensions=[requires("refunds:create")],
    )
    async def create_refund(self, info: Info, input: CreateRefundInput) -> CreateRefundResult:
        try:
            created = await refund_service.create_refund(info.context.principal, info.context.runtime, _draft(input))
        except DomainError as exc:
            return user_error(exc)
        return CreateRefundSuccess(refund=refund_from_row(created.refund), replayed=created.replayed)
