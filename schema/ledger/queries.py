"""Read fields of the ledger."""

from __future__ import annotations

import strawberry
from strawberry import relay

from domain.services import ledger as ledger_service
from schema.context import Info
from schema.ledger.types import Balance, JournalEntry, LedgerVerification, balance_from_row, entry_from_row
from schema.node import party_id_from_global_id
from schema.pagination import Connection, page_request, to_connection
from schema.permissions import describe, requires


@strawberry.type
class LedgerQuery:
    @strawberry.field(
        description=describe(
            "Journal entries touching accounts in the caller's scope, newest first. `first` (1..100) after `after`.",
            "ledger:read",
        ),
        extensions=[requires("ledger:read")],
    )
    async def ledger_entries(
        self, info: Info, first: int | None = None, after: str | None = None, party_id: relay.GlobalID | None = None
    ) -> Connection[JournalEntry]:
        party = await party_id_from_global_id(info, party_id) if party_id is not None else None
        page = await ledger_service.list_entries(
            info.context.principal, info.context.runtime, page_request(first, after), party
        )
        return to_connection(page, entry_from_row)

    @strawberry.field(
        description=describe("A party's balances per currency and bucket.", "ledger:read"),
        extensions=[requires("ledger:read")],
    )
    async def balances(self, info: Info, party_id: relay.GlobalID) -> list[Balance]:
        party = await party_id_from_global_id(info, party_id)
        return [balance_from_row(row) for row in await ledger_service.balances(info.context.principal, party)]

    @strawberry.field(
        description=describe(
            "Checks that every entry sums to zero per currency, every cached balance equals its postings, and "
            "every payment's allocations and total equal its capture entry. Platform staff only.",
            "ledger:read",
        ),
        extensions=[requires("ledger:read")],
    )
    async def verify_ledger(self, info: Info) -> LedgerVerification:
        check = await ledger_service.verify_ledger(info.context.principal)
        return LedgerVerification(
            ok=check.ok,
            entries_checked=check.entries_checked,
            accounts_checked=check.accounts_checked,
            payments_checked=check.payments_checked,
            unbalanced_entry_ids=[relay.GlobalID("JournalEntry", str(i)) for i in check.unbalanced_entry_ids],
            mismatched_account_ids=[relay.GlobalID("LedgerAccount", str(i)) for i in check.mismatched_account_ids],
            mismatched_allocation_payment_ids=[
                relay.GlobalID("Payment", str(i)) for i in check.mismatched_allocation_payment_ids
            ],
            mismatched_total_payment_ids=[
                relay.GlobalID("Payment", str(i)) for i in check.mismatched_total_payment_ids
            ],
        )
