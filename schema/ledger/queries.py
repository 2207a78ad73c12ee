"""Read fields of the ledger."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry import relay

from domain.services import ledger as ledger_service
from domain.services import settlement_reads
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
        description=describe(
            "A party's balances per currency and bucket: now, or with `asOf` as they were at that instant (summed "
            "from the postings up to it, so a statement's balances can be checked against the ledger).",
            "ledger:read",
        ),
        extensions=[requires("ledger:read")],
    )
    async def balances(self, info: Info, party_id: relay.GlobalID, as_of: datetime | None = None) -> list[Balance]:
        party = await party_id_from_global_id(info, party_id)
        if as_of is not None:
            rows = await settlement_reads.balances_at(info.context.principal, party, as_of)
            return [balance_from_row(row) for row in rows]
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
            mismatched_release_entry_ids=[
                relay.GlobalID("JournalEntry", str(i)) for i in check.mismatched_release_entry_ids
            ],
            mismatched_settlement_ids=[relay.GlobalID("Settlement", str(i)) for i in check.mismatched_settlement_ids],
        )
