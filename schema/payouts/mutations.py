"""Approving, sending, confirming and failing payouts, and exporting the approved ones as a bank file."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry import relay

from domain.errors import DomainError
from domain.money import Money as DomainMoney
from domain.services import payout_batches
from domain.services import payouts as payout_service
from schema.context import Info
from schema.errors import NotFoundError, ValidationError, user_error
from schema.ids import required_id
from schema.money import Money
from schema.payouts.types import Payout, payout_from_row
from schema.permissions import describe, requires

CSV_HELP = (
    "RFC 4180 CSV with a header row and CRLF line ends; the columns, in order: "
    + ", ".join(f"`{column}`" for column in payout_batches.CSV_COLUMNS)
    + ". `payout_id` and `party_id` are global ids; `account_number` is in full; `amount` is in major units with "
    "exactly the currency's decimals; `reference` is the text the transfer must carry (SPLITLEDGER-PAYOUT-<n>). A "
    "text cell that would start a spreadsheet formula (=, +, -, @) starts with an apostrophe."
)
STATE_HELP = (
    "Refused with INVALID_PAYOUT_STATE from any other status; repeating a transition that already happened returns "
    "the payout unchanged and posts nothing."
)


@strawberry.input(description="The payout to approve.")
class ApprovePayoutInput:
    payout_id: relay.GlobalID = strawberry.field(description="The payout (a `Payout` id).")


@strawberry.input(description="The payout whose transfer was ordered outside a bank file.")
class MarkPayoutSentInput:
    payout_id: relay.GlobalID = strawberry.field(description="The payout (a `Payout` id).")


@strawberry.input(description="The payout the bank confirmed, with its reference.")
class MarkPayoutPaidInput:
    payout_id: relay.GlobalID = strawberry.field(description="The payout (a `Payout` id).")
    bank_reference: str = strawberry.field(
        description="The bank's reference of the transfer: 1 to 128 printable characters."
    )


@strawberry.input(description="The payout that failed, and why.")
class MarkPayoutFailedInput:
    payout_id: relay.GlobalID = strawberry.field(description="The payout (a `Payout` id).")
    reason: str = strawberry.field(description="Why it failed (1 to 400 characters), e.g. the bank's rejection.")


@strawberry.input(description="A bank file of the approved payouts.")
class ExportPayoutBatchInput:
    idempotency_key: str = strawberry.field(
        description="1 to 128 printable characters. The same key again returns the same batch and file and marks "
        "nothing; use a new key for a new file."
    )


@strawberry.type(description="The approval was recorded.")
class ApprovePayoutSuccess:
    payout: Payout = strawberry.field(description="The payout as it is now.")
    approvals_remaining: int = strawberry.field(
        description="0: the payout is APPROVED. 1: the party's bank account changed recently, so another person "
        "must approve it too; it stays PENDING_APPROVAL until then."
    )


@strawberry.type(description="The payout as it is now.")
class PayoutSuccess:
    payout: Payout = strawberry.field(description="The payout as it is now.")


@strawberry.type(description="A bank file of approved payouts; each of them is now SENT, in this batch.")
class ExportPayoutBatchSuccess:
    batch_id: relay.GlobalID = strawberry.field(description="The batch (a `PayoutBatch` id).")
    created_at: datetime = strawberry.field(description="When the batch was exported.")
    payout_count: int = strawberry.field(description="How many payouts the file holds (0: nothing was approved).")
    totals: list[Money] = strawberry.field(description="The file's total per currency, by currency code.")
    payouts: list[Payout] = strawberry.field(description="The payouts of the file, in its order.")
    csv: str = strawberry.field(description=f"The bank file. {CSV_HELP}")
    replayed: bool = strawberry.field(
        description="True when this key had been used: the same batch and file, and nothing marked this time."
    )


ApprovePayoutResult = Annotated[
    ApprovePayoutSuccess | ValidationError | NotFoundError,
    strawberry.union("ApprovePayoutResult", description="The approval, or why it was refused (nothing written)."),
]
MarkPayoutSentResult = Annotated[
    PayoutSuccess | ValidationError | NotFoundError,
    strawberry.union("MarkPayoutSentResult", description="The sent payout, or why it was refused."),
]
MarkPayoutPaidResult = Annotated[
    PayoutSuccess | ValidationError | NotFoundError,
    strawberry.union("MarkPayoutPaidResult", description="The paid payout, or why it was refused (nothing written)."),
]
MarkPayoutFailedResult = Annotated[
    PayoutSuccess | ValidationError | NotFoundError,
    strawberry.union(
        "MarkPayoutFailedResult", description="The failed payout, or why it was refused (nothing written)."
    ),
]
ExportPayoutBatchResult = Annotated[
    ExportPayoutBatchSuccess | ValidationError,
    strawberry.union("ExportPayoutBatchResult", description="The bank file, or why it was refused."),
]


def _payout_id(global_id: relay.GlobalID) -> int:
    return required_id(global_id, "Payout", "payout", "payoutId")


@strawberry.type
class PayoutMutation:
    @strawberry.mutation(
        description=describe(
            "Approves a PENDING_APPROVAL payout. The party needs a bank account and, for a merchant, a VERIFIED KYC "
            "status. Above the platform's approval threshold for its currency (`payoutApprovalThresholds`; every "
            "amount in a currency without one) someone other than the person who started the settlement run must "
            "approve (SAME_PERSON otherwise). A payout to a bank account changed within "
            "`bankChangeSecondApprovalHours` needs two approvals by two people, whatever its amount.",
            "payouts:approve",
        ),
        extensions=[requires("payouts:approve")],
    )
    async def approve_payout(self, info: Info, input: ApprovePayoutInput) -> ApprovePayoutResult:
        try:
            approval = await payout_service.approve_payout(
                info.context.principal, info.context.runtime, _payout_id(input.payout_id)
            )
        except DomainError as exc:
            return user_error(exc)
        return ApprovePayoutSuccess(
            payout=payout_from_row(approval.payout), approvals_remaining=approval.approvals_remaining
        )

    @strawberry.mutation(
        description=describe(
            "Marks an APPROVED payout SENT (its transfer was ordered outside a bank file): the money moves from the "
            "party's SETTLING balance to payouts in transit. When the party's bank account changed after the "
            "approval, or the party can no longer be paid, the payout goes back to PENDING_APPROVAL instead and the "
            f"answer is INVALID_PAYOUT_STATE. {STATE_HELP}",
            "payouts:approve",
        ),
        extensions=[requires("payouts:approve")],
    )
    async def mark_payout_sent(self, info: Info, input: MarkPayoutSentInput) -> MarkPayoutSentResult:
        try:
            row = await payout_service.mark_payout_sent(
                info.context.principal, info.context.runtime, _payout_id(input.payout_id)
            )
        except DomainError as exc:
            return user_error(exc)
        return PayoutSuccess(payout=payout_from_row(row))

    @strawberry.mutation(
        description=describe(
            "Marks a SENT payout PAID with the bank's reference: the money has left the platform's clearing "
            f"account. Paid again with another reference is refused. {STATE_HELP}",
            "payouts:approve",
        ),
        extensions=[requires("payouts:approve")],
    )
    async def mark_payout_paid(self, info: Info, input: MarkPayoutPaidInput) -> MarkPayoutPaidResult:
        try:
            row = await payout_service.mark_payout_paid(
                info.context.principal, info.context.runtime, _payout_id(input.payout_id), input.bank_reference
            )
        except DomainError as exc:
            return user_error(exc)
        return PayoutSuccess(payout=payout_from_row(row))

    @strawberry.mutation(
        description=describe(
            "Marks a PENDING_APPROVAL, APPROVED or SENT payout FAILED: its money returns to the party's AVAILABLE "
            f"balance and its next statement shows it. A PAID payout cannot fail. {STATE_HELP}",
            "payouts:approve",
        ),
        extensions=[requires("payouts:approve")],
    )
    async def mark_payout_failed(self, info: Info, input: MarkPayoutFailedInput) -> MarkPayoutFailedResult:
        try:
            row = await payout_service.mark_payout_failed(
                info.context.principal, info.context.runtime, _payout_id(input.payout_id), input.reason
            )
        except DomainError as exc:
            return user_error(exc)
        return PayoutSuccess(payout=payout_from_row(row))

    @strawberry.mutation(
        description=describe(
            f"Exports every APPROVED payout not yet exported (at most {payout_batches.MAX_BATCH_PAYOUTS:,}, oldest "
            "first; export again with a new key for the rest) as a bank file, and marks each of them SENT. A payout "
            "whose approval no longer holds (its party's bank account changed since) is left out and goes back to "
            "PENDING_APPROVAL. Nothing approved gives an empty file (the header only). The same key again returns "
            "the same batch and file. Also needs `pii:reveal`: the file holds full account numbers.",
            "payouts:approve",
        ),
        extensions=[requires("payouts:approve"), requires("pii:reveal")],
    )
    async def export_payout_batch(self, info: Info, input: ExportPayoutBatchInput) -> ExportPayoutBatchResult:
        try:
            exported = await payout_batches.export_payout_batch(
                info.context.principal, info.context.runtime, input.idempotency_key
            )
        except DomainError as exc:
            return user_error(exc)
        return ExportPayoutBatchSuccess(
            batch_id=relay.GlobalID("PayoutBatch", str(exported.batch.id)),
            created_at=exported.batch.created_at,
            payout_count=exported.batch.payout_count,
            totals=[Money.of(DomainMoney(amount, currency)) for currency, amount in exported.totals_minor.items()],
            payouts=[payout_from_row(row) for row in exported.payouts],
            csv=exported.csv_text,
            replayed=exported.replayed,
        )
