"""Opening and resolving disputes (chargebacks): the platform records what the payment provider reports."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry import relay

from domain.errors import DomainError
from domain.services import disputes as dispute_service
from schema.context import Info
from schema.disputes.types import Dispute, DisputeOutcomeEnum, dispute_from_row
from schema.errors import IdempotencyConflict, NotFoundError, ValidationError, user_error
from schema.ids import required_id
from schema.permissions import describe, requires


@strawberry.input(description="A chargeback the payment provider reported for a payment.")
class OpenDisputeInput:
    payment_id: relay.GlobalID = strawberry.field(description="The payment disputed (a `Payment` id).")
    amount: Decimal = strawberry.field(
        description='The disputed amount in major units of the payment\'s currency, e.g. "50.00": more than zero and '
        "at most what is still disputable (the payment's total less its refunds and its other open or lost "
        "disputes)."
    )
    reason: str = strawberry.field(
        description="Why the buyer disputes it, as the provider reports it (1 to 400 characters)."
    )
    evidence_due_at: datetime = strawberry.field(
        description="When the merchant's evidence is due at the provider, with a time zone offset; after the payment "
        "was paid."
    )
    idempotency_key: str = strawberry.field(
        description="1 to 128 characters, unique per payment. The same key with the same request returns the first "
        "dispute and holds nothing more; with another request it is an IdempotencyConflict."
    )


@strawberry.input(description="How the payment provider decided a dispute.")
class ResolveDisputeInput:
    dispute_id: relay.GlobalID = strawberry.field(description="The dispute (a `Dispute` id).")
    outcome: DisputeOutcomeEnum = strawberry.field(
        description="WON: the hold goes back to the merchant. LOST: the money goes back to the buyer, borne as the "
        "platform setting `lostDisputeBearer` says."
    )


@strawberry.type(description="The dispute is open and its amount held (or, for a replayed key, had been).")
class OpenDisputeSuccess:
    dispute: Dispute = strawberry.field(description="The dispute.")
    replayed: bool = strawberry.field(description="True when this key had been used with the same request before.")


@strawberry.type(description="The dispute is resolved.")
class ResolveDisputeSuccess:
    dispute: Dispute = strawberry.field(description="The dispute as it is now.")


OpenDisputeResult = Annotated[
    OpenDisputeSuccess | ValidationError | NotFoundError | IdempotencyConflict,
    strawberry.union("OpenDisputeResult", description="The open dispute, or why not (nothing held, nothing written)."),
]
ResolveDisputeResult = Annotated[
    ResolveDisputeSuccess | ValidationError | NotFoundError,
    strawberry.union("ResolveDisputeResult", description="The resolved dispute, or why not (nothing written)."),
]


@strawberry.type
class DisputeMutation:
    @strawberry.mutation(
        description=describe(
            "Opens a dispute (chargeback) of a payment and holds the disputed amount of its merchant's money in "
            "DISPUTED: from the merchant's share of the payment still in escrow, the rest from its AVAILABLE balance "
            "(negative past what it holds: a debt). For the platform only: a merchant's user gets FORBIDDEN.",
            "refunds:create",
        ),
        extensions=[requires("refunds:create")],
    )
    async def open_dispute(self, info: Info, input: OpenDisputeInput) -> OpenDisputeResult:
        try:
            opened = await dispute_service.open_dispute(
                info.context.principal,
                info.context.runtime,
                dispute_service.DisputeDraft(
                    payment_id=required_id(input.payment_id, "Payment", "payment", "paymentId"),
                    amount=input.amount,
                    reason=input.reason,
                    evidence_due_at=input.evidence_due_at,
                    idempotency_key=input.idempotency_key,
                ),
            )
        except DomainError as exc:
            return user_error(exc)
        return OpenDisputeSuccess(dispute=dispute_from_row(opened.dispute), replayed=opened.replayed)

    @strawberry.mutation(
        description=describe(
            "Resolves an open dispute. WON gives the hold back to the merchant (to escrow while its share of the "
            "payment is still held, otherwise to AVAILABLE: a DISPUTE_RELEASED statement line). LOST pays the "
            "chargeback out of PSP clearing, borne as the platform setting `lostDisputeBearer` says. The same outcome "
            "again returns the dispute unchanged; the other one is a ValidationError on `outcome`. For the platform "
            "only.",
            "refunds:create",
        ),
        extensions=[requires("refunds:create")],
    )
    async def resolve_dispute(self, info: Info, input: ResolveDisputeInput) -> ResolveDisputeResult:
        try:
            resolved = await dispute_service.resolve_dispute(
                info.context.principal,
                info.context.runtime,
                required_id(input.dispute_id, "Dispute", "dispute", "disputeId"),
                input.outcome,
            )
        except DomainError as exc:
            return user_error(exc)
        return ResolveDisputeSuccess(dispute=dispute_from_row(resolved))
