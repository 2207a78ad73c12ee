"""Recording payments, singly and in batches."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.errors import DomainError
from domain.services import payments as payment_service
from schema.context import Info
from schema.errors import DuplicateError, IdempotencyConflict, NotFoundError, ValidationError, user_error
from schema.payments.inputs import RecordPaymentInput, record_draft
from schema.payments.types import Payment, payment_from_row
from schema.permissions import describe, requires


@strawberry.type(description="The payment was recorded (or, for a replayed key, had been).")
class RecordPaymentSuccess:
    payment: Payment = strawberry.field(description="The payment, with its allocations.")
    replayed: bool = strawberry.field(description="True when this key had been used with the same request before.")


RecordPaymentResult = Annotated[
    RecordPaymentSuccess | ValidationError | DuplicateError | NotFoundError | IdempotencyConflict,
    strawberry.union("RecordPaymentResult", description="The payment, or why it was not recorded (nothing written)."),
]


@strawberry.type(description="Each payment's result, in input order.")
class RecordPaymentsResult:
    results: list[RecordPaymentResult] = strawberry.field(description="One per input, in order.")
    succeeded: int = strawberry.field(description="How many were recorded or replayed.")
    failed: int = strawberry.field(description="How many were refused.")


@strawberry.type
class PaymentMutation:
    @strawberry.mutation(
        description=describe(
            "Records a payment: splits it by the rules in effect, stores each "
            "party's allocation and posts one balanced ledger entry.",
            "payments:write",
        ),
        extensions=[requires("payments:write")],
    )
    async def record_payment(self, info: Info, input: RecordPaymentInput) -> RecordPaymentResult:
        try:
            recorded = await payment_service.record_payment(
                info.context.principal, info.context.runtime, record_draft(input, info.context.runtime.now())
            )
        except DomainError as exc:
            return user_error(exc)
        return RecordPaymentSuccess(payment=payment_from_row(recorded.payment), replayed=recorded.replayed)

    @strawberry.mutation(
        description=describe("Records up to 500 payments; each succeeds or fails on its own.", "payments:write"),
        extensions=[requires("payments:write")],
    )
    async def record_payments(self, info: Info, inputs: list[RecordPaymentInput]) -> RecordPaymentsResult:
        now = info.context.runtime.now()
        drafts: list = []
        for data in inputs:
            try:
                drafts.append(record_draft(data, now))
            except DomainError as exc:
                drafts.append(exc)
        valid = [d for d in drafts if not isinstance(d, DomainError)]
        outcomes = iter(await payment_service.record_payments(info.context.principal, info.context.runtime, valid))
        results = []
        for draft in drafts:
            outcome = draft if isinstance(draft, DomainError) else next(outcomes)
            if isinstance(outcome, DomainError):
                results.append(user_error(outcome))
            else:
                results.append(
                    RecordPaymentSuccess(payment=payment_from_row(outcome.payment), replayed=outcome.replayed)
                )
        succeeded = sum(isinstance(r, RecordPaymentSuccess) for r in results)
        return RecordPaymentsResult(results=results, succeeded=succeeded, failed=len(results) - succeeded)
