"""Changing money going out: confirming deliveries, releasing held funds, running settlements, settlement terms."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry import relay

from domain.errors import DomainError
from domain.money import Money as DomainMoney
from domain.services import deliveries, parties, releases, settlement_runs
from schema.context import Info
from schema.errors import NotFoundError, ValidationError, user_error
from schema.ids import required_id
from schema.merchants.inputs import SettlementProfileInput
from schema.merchants.types import Party, party_from_row
from schema.money import Money
from schema.node import party_id_from_global_id
from schema.permissions import describe, requires
from schema.settlements.types import (
    Delivery,
    Release,
    SettlementRun,
    delivery_from_row,
    release_from_row,
    run_from_row,
)


@strawberry.input(description="A payment's delivery, confirmed by the platform or by the partner that carried it.")
class ConfirmDeliveryInput:
    payment_id: relay.GlobalID = strawberry.field(description="The payment (a `Payment` id).")
    delivered_at: datetime = strawberry.field(
        description="When the goods arrived, with a time zone offset: not before the payment, not in the future."
    )
    evidence: str | None = strawberry.field(
        default=None, description="A reference to the proof of delivery, at most 1,000 characters."
    )


@strawberry.type(description="The delivery is on record (for a repeated confirmation: had been).")
class ConfirmDeliverySuccess:
    delivery: Delivery = strawberry.field(description="The confirmation (the first one, when repeated).")
    releases: list[Release] = strawberry.field(
        description="The payment's shares released so far that the caller may see. A riskier merchant's share "
        "waits its extension; a merchant whose KYC is not VERIFIED keeps its share held."
    )
    replayed: bool = strawberry.field(description="True when the delivery had been confirmed before.")


ConfirmDeliveryResult = Annotated[
    ConfirmDeliverySuccess | ValidationError | NotFoundError,
    strawberry.union("ConfirmDeliveryResult", description="The confirmation, or why it was refused (nothing written)."),
]


@strawberry.input(description="Release every share that is due.")
class ReleaseHeldFundsInput:
    as_of: datetime | None = strawberry.field(
        default=None, description="Release what is due at this instant (not in the future); now when omitted."
    )


@strawberry.type(description="What a release did.")
class ReleaseHeldFundsSuccess:
    as_of: datetime = strawberry.field(description="The instant it released up to.")
    parties_considered: int = strawberry.field(description="Parties with money held in escrow.")
    shares_released: int = strawberry.field(description="Shares (one party's allocations in one payment) released.")
    entries_posted: int = strawberry.field(description="Release entries posted: one per party and currency.")
    totals: list[Money] = strawberry.field(description="Amounts released, per currency.")
    duration_ms: int = strawberry.field(description="How long it took, in milliseconds.")


ReleaseHeldFundsResult = Annotated[
    ReleaseHeldFundsSuccess | ValidationError,
    strawberry.union("ReleaseHeldFundsResult", description="What was released, or why nothing was."),
]


@strawberry.input(description="Settle every party and currency that is due.")
class RunSettlementInput:
    cutoff: datetime | None = strawberry.field(
        default=None,
        description="The cut-off instant (not in the future; now when omitted). Each party settles its latest "
        "cycle day on or before the cut-off's local day in the platform's settlement time zone, once.",
    )
    currency: str | None = strawberry.field(
        default=None, description="Settle only this currency (one some party holds money in); all when omitted."
    )


@strawberry.type(description="The run: what it settled.")
class RunSettlementSuccess:
    run: SettlementRun = strawberry.field(description="The run, with its counts and totals per currency.")


RunSettlementResult = Annotated[
    RunSettlementSuccess | ValidationError,
    strawberry.union("RunSettlementResult", description="The run, or why it did not start (nothing written)."),
]


@strawberry.input(description="New settlement terms for a party.")
class UpdateSettlementProfileInput:
    party_id: relay.GlobalID = strawberry.field(description="The party: a Merchant, LogisticsPartner or Supplier id.")
    settlement_profile: SettlementProfileInput = strawberry.field(description="The whole new profile.")


@strawberry.type(description="The party with its new terms.")
class UpdateSettlementProfileSuccess:
    party: Party = strawberry.field(description="The party.")


UpdateSettlementProfileResult = Annotated[
    UpdateSettlementProfileSuccess | ValidationError | NotFoundError,
    strawberry.union("UpdateSettlementProfileResult", description="The party, or why nothing changed."),
]


@strawberry.type
class SettlementMutation:
    @strawberry.mutation(
        description=describe(
            "Confirms a payment's delivery and releases its shares that are then due. The platform confirms any "
            "payment; a logistics partner (its user, or its API key with `deliveries:confirm`) only the payments it "
            "carried: any other payment is NOT_FOUND. Confirming again returns the first confirmation.",
            "deliveries:confirm",
        ),
        extensions=[requires("deliveries:confirm")],
    )
    async def confirm_delivery(self, info: Info, input: ConfirmDeliveryInput) -> ConfirmDeliveryResult:
        try:
            payment_id = required_id(input.payment_id, "Payment", "payment", "paymentId")
            confirmed = await deliveries.confirm_delivery(
                info.context.principal, info.context.runtime, payment_id, input.delivered_at, input.evidence
            )
        except DomainError as exc:
            return user_error(exc)
        return ConfirmDeliverySuccess(
            delivery=delivery_from_row(confirmed.delivery),
            releases=[release_from_row(r) for r in confirmed.releases],
            replayed=confirmed.replayed,
        )

    @strawberry.mutation(
        description=describe(
            "Releases every share due at `asOf`: held until the delivery is confirmed or the party's hold ends "
            "(a MEDIUM-risk merchant 2 days later, a HIGH-risk one 7), never for a merchant whose KYC is not "
            "VERIFIED. Safe to run again and from several workers: a share is released once.",
            "settlements:run",
        ),
        extensions=[requires("settlements:run")],
    )
    async def release_held_funds(self, info: Info, input: ReleaseHeldFundsInput) -> ReleaseHeldFundsResult:
        runtime = info.context.runtime
        try:
            outcome = await releases.release_held_funds(info.context.principal, runtime, input.as_of or runtime.now())
        except DomainError as exc:
            return user_error(exc)
        return ReleaseHeldFundsSuccess(
            as_of=outcome.as_of,
            parties_considered=outcome.parties_considered,
            shares_released=outcome.shares_released,
            entries_posted=outcome.entries_posted,
            totals=[Money.of(DomainMoney(amount, code)) for code, amount in sorted(outcome.totals_minor.items())],
            duration_ms=outcome.duration_ms,
        )

    @strawberry.mutation(
        description=describe(
            "Settles every party and currency that is due: one statement per party, currency and period however "
            "often or concurrently it runs (an interrupted run is completed by the next), the reserve held and "
            "released, and a payout awaiting approval when the net reaches the minimum.",
            "settlements:run",
        ),
        extensions=[requires("settlements:run")],
    )
    async def run_settlement(self, info: Info, input: RunSettlementInput) -> RunSettlementResult:
        runtime = info.context.runtime
        try:
            run = await settlement_runs.run_settlement(
                info.context.principal, runtime, input.cutoff or runtime.now(), currency=input.currency
            )
        except DomainError as exc:
            return user_error(exc)
        return RunSettlementSuccess(run=run_from_row(run))

    @strawberry.mutation(
        description=describe(
            "Replaces a party's settlement terms: cycle, T+N delay, minimum payout, hold and rolling reserve. "
            "Merchants need `merchants:write`, logistics partners and suppliers `partners:write`; platform staff "
            "do it in a two-factor session. The change is on record with the terms before and after.",
            None,
        ),
        extensions=[requires()],
    )
    async def update_settlement_profile(
        self, info: Info, input: UpdateSettlementProfileInput
    ) -> UpdateSettlementProfileResult:
        try:
            party_id = await party_id_from_global_id(info, input.party_id)
            party = await parties.update_settlement_profile(
                info.context.principal, info.context.runtime, party_id, input.settlement_profile.to_draft()
            )
        except DomainError as exc:
            return user_error(exc)
        return UpdateSettlementProfileSuccess(party=party_from_row(party))
