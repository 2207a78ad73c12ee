"""GraphQL types of money going out: deliveries, releases, statements with their lines, runs, shares by state."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import strawberry
from strawberry import relay

from domain.money import Money as DomainMoney
from domain.services import settlement_reads
from domain.settlement import LineKind, ReleaseReason
from schema.context import Info
from schema.merchants.types import party_global_id
from schema.money import Money
from schema.pagination import Connection, page_request, to_connection
from schema.payouts.types import Payout, payout_from_row

ReleaseReasonEnum = strawberry.enum(
    ReleaseReason,
    name="ReleaseReason",
    description="Why a share left escrow. DELIVERY_CONFIRMED: the platform or the carrier confirmed the "
    "delivery. HOLD_PERIOD_ENDED: the party's hold period (plus a risky merchant's extension) ended first.",
)
LineKindEnum = strawberry.enum(
    LineKind,
    name="SettlementLineKind",
    description="What a statement line is. RELEASE: shares released from escrow. REFUND_REVERSAL: shares taken "
    "back for a refund after release. ADJUSTMENT: a correction. PAYOUT_RETURNED: a failed payout's money back. "
    "RESERVE_HELD / RESERVE_RELEASED: the rolling reserve. BALANCE_CARRIED_FORWARD / DEBT_CARRIED_FORWARD: the "
    "last statement's closing balance, positive (below the minimum) or negative (a debt). PAYOUT: this "
    "statement's payout (negative: it leaves the balance). DISPUTE_HELD / DISPUTE_RELEASED / DISPUTE_LOST: money "
    "of the balance held for a dispute, given back when it was won, or lost to a chargeback.",
)
ShareStateEnum = strawberry.enum(
    settlement_reads.ShareState,
    name="ShareState",
    description="Where a share stands. HELD: in escrow. AVAILABLE: released, in no statement yet (or back from "
    "a failed payout). IN_SETTLEMENT: in a statement whose payout is not paid yet (or carried forward). PAID: "
    "in a statement whose payout the bank confirmed. REFUNDED: what refunds took back of the shares (the other "
    "states count what is left of each share after its refunds).",
)


def _money(amount_minor: int, currency: str) -> Money:
    return Money.of(DomainMoney(amount_minor, currency))


@strawberry.type(description="A party's shares of one payment leaving escrow for its AVAILABLE balance.")
class Release:
    amount: Money = strawberry.field(description="The party's shares of the payment, released together.")
    reason: ReleaseReasonEnum = strawberry.field(description="Why they were released.")
    released_at: datetime = strawberry.field(description="When.")
    journal_entry_id: relay.GlobalID = strawberry.field(
        description="The release entry (PENDING -> AVAILABLE), shared by the party's releases of one run."
    )
    payment_id: relay.GlobalID = strawberry.field(description="The payment.")
    party_row_id: strawberry.Private[int]

    @strawberry.field(description="The party whose shares were released.")
    async def party_id(self, info: Info) -> relay.GlobalID:
        return await party_global_id(info, self.party_row_id)


def release_from_row(row: Any) -> Release:
    return Release(
        amount=_money(row.amount_minor, row.currency),
        reason=ReleaseReason(row.reason),
        released_at=row.released_at,
        journal_entry_id=relay.GlobalID("JournalEntry", str(row.entry_id)),
        payment_id=relay.GlobalID("Payment", str(row.payment_id)),
        party_row_id=row.party_id,
    )


@strawberry.type(description="A payment's delivery, as confirmed by the platform or by the carrier.")
class Delivery:
    payment_id: relay.GlobalID = strawberry.field(description="The payment delivered.")
    delivered_at: datetime = strawberry.field(description="When the goods arrived, as the confirmer said.")
    confirmed_at: datetime = strawberry.field(description="When the confirmation was recorded: what releases escrow.")
    evidence: str | None = strawberry.field(description="The confirmer's evidence, such as a signature reference.")
    confirmer_row_id: strawberry.Private[int]

    @strawberry.field(description="The party that confirmed: the platform or the logistics partner.")
    async def confirmed_by_party_id(self, info: Info) -> relay.GlobalID:
        return await party_global_id(info, self.confirmer_row_id)


def delivery_from_row(row: Any) -> Delivery:
    return Delivery(
        payment_id=relay.GlobalID("Payment", str(row.payment_id)),
        delivered_at=row.delivered_at,
        confirmed_at=row.confirmed_at,
        evidence=row.evidence,
        confirmer_row_id=row.confirmed_by_party_id,
    )


@strawberry.type(description="A line of a statement. The lines of a statement add up to its closing balance.")
class SettlementLine:
    id: relay.GlobalID = strawberry.field(description="The line.")
    kind: LineKindEnum = strawberry.field(description="What the line is.")
    amount: Money = strawberry.field(description="As the party sees it: positive adds to what it is paid.")
    journal_entry_id: relay.GlobalID | None = strawberry.field(
        description="The ledger entry behind the line (none for a balance carried forward)."
    )
    reserve_release_on: date | None = strawberry.field(
        description="RESERVE_HELD: the first settlement day that pays this reserve back."
    )


def line_from_row(row: Any) -> SettlementLine:
    return SettlementLine(
        id=relay.GlobalID("SettlementLine", str(row.id)),
        kind=LineKind(row.kind),
        amount=_money(row.amount_minor, row.currency),
        journal_entry_id=relay.GlobalID("JournalEntry", str(row.entry_id)) if row.entry_id else None,
        reserve_release_on=row.reserve_release_on,
    )


@strawberry.type(
    description="A settlement statement: one party, one currency, one period. closingBalance = openingBalance "
    "+ movements + reserveReleased - reserveHeld - payout; it never changes once written."
)
class Settlement(relay.Node):
    id: relay.NodeID[int]
    currency: str = strawberry.field(description="ISO 4217 code.")
    period_date: date = strawberry.field(
        description="The settlement day (a local day of the platform's settlement time zone) it settles."
    )
    window_end: datetime = strawberry.field(
        description="It takes what reached AVAILABLE before this instant: the end of the T+N day, or the cut-off."
    )
    opening_balance: Money = strawberry.field(
        description="The last statement's closing balance: negative is a debt carried forward."
    )
    movements: Money = strawberry.field(
        description="What moved in AVAILABLE in the window: releases, refund reversals, returned payouts, adjustments."
    )
    released: Money = strawberry.field(description="Of the movements, the releases: the base of the reserve.")
    reserve_held: Money = strawberry.field(description="Rolling reserve held back (rounded down).")
    reserve_released: Money = strawberry.field(description="Earlier reserves paid back by this statement.")
    net: Money = strawberry.field(description="What the party could be paid: opening + movements + reserves.")
    payout_amount: Money = strawberry.field(
        description="Paid out: the whole net when it reaches the minimum payout, else zero."
    )
    closing_balance: Money = strawberry.field(description="Carried to the next statement.")
    created_at: datetime = strawberry.field(description="When the run wrote it.")
    party_row_id: strawberry.Private[int]
    run_row_id: strawberry.Private[int]

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Any, required: bool = False) -> list[Settlement | None]:
        ids = [int(node_id) for node_id in node_ids]
        found = await settlement_reads.settlements_by_ids(info.context.principal, ids)
        return [settlement_from_row(found[i]) if i in found else None for i in ids]

    @strawberry.field(description="The party settled.")
    async def party_id(self, info: Info) -> relay.GlobalID:
        return await party_global_id(info, self.party_row_id)

    @strawberry.field(
        description="Its payout, when the net reached the minimum and the caller may read payouts (`payouts:read`)."
    )
    async def payout(self, info: Info) -> Payout | None:
        row = await info.context.loaders.settlement_payout.load(self.id)
        return payout_from_row(row) if row is not None else None

    @strawberry.field(description="The run that wrote it (a `SettlementRun` id).")
    def run_id(self) -> relay.GlobalID:
        return relay.GlobalID("SettlementRun", str(self.run_row_id))

    @strawberry.field(description="Its lines, newest first. `first` (1..100) after `after`.")
    async def lines(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[SettlementLine]:
        page = await settlement_reads.lines_of(
            info.context.principal, info.context.runtime, self.id, page_request(first, after)
        )
        return to_connection(page, line_from_row)

    @strawberry.field(
        description="The statement as CSV: one row per line (a RELEASE line one row per order it released, with "
        "the order reference), then the closing balance. Columns: statement_id, party, currency, period, line_id, "
        "kind, external_order_id, released_at, amount (major units)."
    )
    async def csv(self, info: Info) -> str:
        row = await settlement_reads.get_settlement(info.context.principal, self.id)
        return await settlement_reads.statement_csv(info.context.principal, row)


def settlement_from_row(row: Any) -> Settlement:
    c = row.currency
    return Settlement(
        id=row.id,
        currency=c,
        period_date=row.period_date,
        window_end=row.window_end,
        opening_balance=_money(row.opening_minor, c),
        movements=_money(row.movements_minor, c),
        released=_money(row.released_minor, c),
        reserve_held=_money(row.reserve_held_minor, c),
        reserve_released=_money(row.reserve_released_minor, c),
        net=_money(row.net_minor, c),
        payout_amount=_money(row.payout_minor, c),
        closing_balance=_money(row.closing_minor, c),
        created_at=row.created_at,
        party_row_id=row.party_id,
        run_row_id=row.run_id,
    )


@strawberry.type(description="Figures of a run in one currency.")
class SettlementRunTotal:
    currency: str = strawberry.field(description="ISO 4217 code.")
    statements: int = strawberry.field(description="Statements written in this currency.")
    payout_count: int = strawberry.field(description="Payouts created (awaiting approval).")
    net: Money = strawberry.field(description="Sum of the statements' net amounts.")
    payout_amount: Money = strawberry.field(description="Sum of the payouts.")


@strawberry.type(description="One settlement run: what it was asked and what it did.")
class SettlementRun(relay.Node):
    id: relay.NodeID[int]
    cutoff: datetime = strawberry.field(description="The cut-off instant it settled up to.")
    currency: str | None = strawberry.field(description="The one currency it settled, or null for all.")
    status: str = strawberry.field(
        description="RUNNING, or COMPLETED. A run left RUNNING was interrupted; the next run completes its work."
    )
    started_at: datetime = strawberry.field(description="When it started.")
    finished_at: datetime | None = strawberry.field(description="When it finished.")
    duration_ms: int | None = strawberry.field(description="How long it took, in milliseconds.")
    parties_considered: int = strawberry.field(description="Parties with money past escrow in its scope.")
    statements_created: int = strawberry.field(description="Statements it wrote (others' periods were done).")
    payout_count: int = strawberry.field(description="Payouts it created, awaiting approval.")
    skipped_unverified: int = strawberry.field(
        description="Merchants passed over because their KYC is not VERIFIED (never settled into a payout)."
    )
    totals: list[SettlementRunTotal] = strawberry.field(description="Figures per currency.")

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Any, required: bool = False) -> list[SettlementRun | None]:
        ids = [int(node_id) for node_id in node_ids]
        found = await settlement_reads.runs_by_ids(info.context.principal, ids)
        return [run_from_row(found[i]) if i in found else None for i in ids]


def run_from_row(row: Any) -> SettlementRun:
    totals = json.loads(row.totals or "{}")
    return SettlementRun(
        id=row.id,
        cutoff=row.cutoff,
        currency=row.currency,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_ms=row.duration_ms,
        parties_considered=row.parties_considered,
        statements_created=row.statements_created,
        payout_count=row.payouts_created,
        skipped_unverified=row.skipped_unverified,
        totals=[
            SettlementRunTotal(
                currency=code,
                statements=figures["statements"],
                payout_count=figures["payouts"],
                net=_money(figures["net_minor"], code),
                payout_amount=_money(figures["payout_minor"], code),
            )
            for code, figures in sorted(totals.items())
        ],
    )


@strawberry.type(description="The caller's shares in one state and currency.")
class SharesInState:
    state: ShareStateEnum = strawberry.field(description="Where these shares stand.")
    currency: str = strawberry.field(description="ISO 4217 code.")
    count: int = strawberry.field(description="How many shares (one per payment).")
    total: Money = strawberry.field(description="Their sum.")
