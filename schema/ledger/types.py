"""GraphQL types of the ledger: entries, postings, balances and the verification result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from domain.ledger import EntryKind
from domain.money import Money as DomainMoney
from schema.context import Info
from schema.money import Money


@strawberry.type(
    description="One side of a journal entry. Debits are positive, credits negative; an entry's postings sum to zero."
)
class LedgerPosting:
    account: str = strawberry.field(description="Account key, e.g. party:12:CNY:PENDING or system:PSP_CLEARING:CNY.")
    party_id: strawberry.ID | None = strawberry.field(description="The party owning the account, if any.")
    bucket: str | None = strawberry.field(description="PENDING, AVAILABLE or SETTLING, for party accounts.")
    amount: Money = strawberry.field(description="Signed amount.")


@strawberry.type(description="A balanced, append-only journal entry.")
class JournalEntry:
    id: strawberry.ID = strawberry.field(description="Entry id.")
    kind: str = strawberry.field(description="What the entry did: " + ", ".join(kind.value for kind in EntryKind) + ".")
    payment_id: strawberry.ID | None = strawberry.field(description="The payment it posted, if any.")
    memo: str | None = strawberry.field(description="Why; for a reversal, the reason it was reversed.")
    created_at: datetime = strawberry.field(description="When it was posted.")

    @strawberry.field(description="Its postings on accounts the caller may see (a party sees its own only).")
    async def postings(self, info: Info) -> list[LedgerPosting]:
        rows = await info.context.loaders.postings.load(int(self.id))
        return [
            LedgerPosting(
                account=row.account.key,
                bucket=row.account.bucket,
                party_id=strawberry.ID(str(row.party_id)) if row.party_id else None,
                amount=Money.of(DomainMoney(row.amount_minor, row.currency)),
            )
            for row in rows
        ]


def entry_from_row(row: Any) -> JournalEntry:
    return JournalEntry(
        id=strawberry.ID(str(row.id)),
        kind=row.kind,
        memo=row.memo,
        created_at=row.created_at,
        payment_id=strawberry.ID(str(row.payment_id)) if row.payment_id else None,
    )


@strawberry.type(description="What a party is owed in one currency and bucket.")
class Balance:
    currency: str = strawberry.field(description="ISO 4217 code.")
    bucket: str = strawberry.field(description="PENDING (in escrow), AVAILABLE or SETTLING.")
    amount: Money = strawberry.field(description="The balance, positive when the party is owed money.")


@strawberry.type(description="The result of checking the whole ledger.")
class LedgerVerification:
    ok: bool = strawberry.field(description="True when nothing is wrong: every list below is empty.")
    entries_checked: int = strawberry.field(description="Journal entries checked.")
    accounts_checked: int = strawberry.field(description="Accounts checked.")
    payments_checked: int = strawberry.field(description="Payments checked against their capture entries.")
    unbalanced_entry_ids: list[strawberry.ID] = strawberry.field(description="Entries that do not sum to zero.")
    mismatched_account_ids: list[strawberry.ID] = strawberry.field(
        description="Accounts whose cached balance differs from their postings."
    )
    mismatched_allocation_payment_ids: list[relay.GlobalID] = strawberry.field(
        description="Payments whose allocations, per party and currency, differ from what their capture entry "
        "put in the parties' PENDING accounts (an allocation was changed, added or removed)."
    )
    mismatched_total_payment_ids: list[relay.GlobalID] = strawberry.field(
        description="Payments whose total differs from what their capture entry put in PSP clearing in the "
        "payment's currency, or that have no capture entry."
    )
