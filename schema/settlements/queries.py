"""Read fields of money going out: statements, runs, and a party's shares by state."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry import relay

from domain.money import Money as DomainMoney
from domain.services import settlement_reads
from schema.context import Info
from schema.ids import is_database_id, required_id
from schema.money import Money
from schema.node import party_id_from_global_id
from schema.pagination import PAGE_ARGS_HELP, Connection, page_request, to_connection
from schema.permissions import describe, requires
from schema.settlements.types import (
    Settlement,
    SettlementRun,
    SharesInState,
    run_from_row,
    settlement_from_row,
)


@strawberry.type
class SettlementQuery:
    @strawberry.field(
        description=describe(
            "Settlement statements in the caller's scope (a party sees its own), filtered by party, currency or "
            f"run. {PAGE_ARGS_HELP}",
            "settlements:read",
        ),
        extensions=[requires("settlements:read")],
    )
    async def settlements(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        party_id: relay.GlobalID | None = None,
        currency: str | None = None,
        run_id: relay.GlobalID | None = None,
    ) -> Connection[Settlement]:
        party = await party_id_from_global_id(info, party_id) if party_id is not None else None
        run = required_id(run_id, "SettlementRun", "settlement run", "runId") if run_id is not None else None
        page = await settlement_reads.list_settlements(
            info.context.principal,
            info.context.runtime,
            page_request(first, after),
            party_id=party,
            currency=currency,
            run_id=run,
        )
        return to_connection(page, settlement_from_row)

    @strawberry.field(
        description=describe(
            "One statement by id; null when it does not exist or is out of scope.", "settlements:read"
        ),
        extensions=[requires("settlements:read")],
    )
    async def settlement(self, info: Info, id: relay.GlobalID) -> Settlement | None:
        if id.type_name != "Settlement" or not is_database_id(id.node_id):
            return None
        found = await Settlement.resolve_nodes(info=info, node_ids=[id.node_id])
        return found[0]

    @strawberry.field(
        description=describe(f"Settlement runs, newest first. {PAGE_ARGS_HELP}", "settlements:run"),
        extensions=[requires("settlements:run")],
    )
    async def settlement_runs(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[SettlementRun]:
        page = await settlement_reads.list_runs(
            info.context.principal, info.context.runtime, page_request(first, after)
        )
        return to_connection(page, run_from_row)

    @strawberry.field(
        description=describe(
            "The caller's own shares of the payments paid in [from, to) (at most 366 days), by state and "
            "currency: how many and how much is held, available, in settlement and paid. One request answers "
            "a logistics partner's or a supplier's question 'where is my money?'.",
            "payments:read",
        ),
        extensions=[requires("payments:read")],
    )
    async def my_shares(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from", description="Paid at or after this instant.")],
        to: Annotated[datetime, strawberry.argument(description="Paid before this instant.")],
    ) -> list[SharesInState]:
        rows = await settlement_reads.my_shares(info.context.principal, from_, to)
        return [
            SharesInState(
                state=row.state,
                currency=row.currency,
                count=row.count,
                total=Money.of(DomainMoney(row.amount_minor, row.currency)),
            )
            for row in rows
        ]
