"""GraphQL types of the ledger: entries, postings, balances and the verification result."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from domain.ledger import Bucket, EntryKind
from domain.money import Money as DomainMoney
from domain.services import ledger as ledger_service
from schema.context import Info
from schema.merchants.types import party_global_id
from schema.money import Money

BucketEnum = strawberry.enum(
    Bucket,
    name="LedgerBucket",
    description="Where a party's money stands: PENDING (held in escrow until delivery or the hold period ends), "
    "AVAILABLE (released, not yet settled; negative: a debt its next statements deduct), SETTLING (in a payout), "
    "RESERVE (a rolling reserve held back from settlement) or DISPUTED (held for an open dispute).",
)
EntryKindEnum = strawberry.enum(
    EntryKind,
    name="JournalEntryKind",
    description="What a journal entry did: CAPTURE (a payment came in and was split), RELEASE (escrow released), "
    "SETTLE (moved into a payout), RESERVE_HELD / RESERVE_RELEASED (the rolling reserve), PAYOUT_SENT / "
    "PAYOUT_PAID / PAYOUT_FAILED (a payout on its way, confirmed, or returned to AVAILABLE), REFUND (money back "
    "to a buyer from each party's share), DISPUTE_OPENED / DISPUTE_RELEASED / DISPUTE_LOST (a chargeback held, "
    "won, lost) or REVERSAL (a correcting entry that reverses another).",
)


@strawberry.type(
    description="One side of a journal entry. Debits are positive, credits negative; an entry's postings sum to zero."
)
class LedgerPosting:
    account: str = strawberry.field(description="Account key, e.g. party:12:CNY:PENDING or system:PSP_CLEARING:CNY.")
    bucket: BucketEnum | None = strawberry.field(description="The bucket, for party accounts.")
    amount: Money = strawberry.field(description="Signed amount.")
    party_row_id: strawberry.Private[int | None]

    @strawberry.field(description="The party owning the account, if any: a global id of its kind's type.")
    async def party_id(self, info: Info) -> relay.GlobalID | None:
        return await party_global_id(info, self.party_row_id) if self.party_row_id is not None else None


@strawberry.type(description="A balanced, append-only journal entry.")
class JournalEntry(relay.Node):
    id: relay.NodeID[int]
    kind: EntryKindEnum = strawberry.field(description="What the entry did.")
    payment_id: relay.GlobalID | None = strawberry.field(description="The payment it posted, if any (a `Payment` id).")
    memo: str | None = strawberry.field(description="Why; for a reversal, the reason it was reversed.")
    created_at: datetime = strawberry.field(description="When it was posted.")

    @strawberry.field(description="Its postings on accounts the caller may see (a party sees its own only).")
    async def postings(self, info: Info) -> list[LedgerPosting]:
        rows = await info.context.loaders.postings.load(self.id)
        return [
            LedgerPosting(
                account=row.account.key,
                bucket=Bucket(row.account.bucket) if row.account.bucket else None,
                party_row_id=row.party_id,
                amount=Money.of(DomainMoney(row.amount_minor, row.currency)),
            )
            for row in rows
        ]

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False) -> list[Any]:
        ids = [int(i) for i in node_ids]
        rows = await ledger_service.entries_by_ids(info.context.principal, ids)
        return [entry_from_row(rows[i]) if i in rows else None for i in ids]


def entry_from_row(row: Any) -> JournalEntry:
    return JournalEntry(
        id=row.id,
        kind=EntryKind(row.kind),
        memo=row.memo,
        created_at=row.created_at,
        payment_id=relay.GlobalID("Payment", str(row.payment_id)) if row.payment_id else None,
    )


@strawberry.type(description="What a party is owed in one currency and bucket.")
class Balance:
    currency: str = strawberry.field(description="ISO 4217 code.")
    bucket: BucketEnum = strawberry.field(description="Where the money stands.")
    amount: Money = strawberry.field(description="The balance, positive when the party is owed money.")


def balance_from_row(row: Any) -> Balance:
    return Balance(
        currency=row.currency, bucket=Bucket(row.bucket), amount=Money.of(DomainMoney(row.amount_minor, row.currency))
    )


@strawberry.type(description="The result of checking the whole ledger.")
class LedgerVerification:
    ok: bool = strawberry.field(description="True when nothing is wrong: every list below is empty.")
    entries_checked: int = strawberry.field(description="Journal entries checked.")
    accounts_checked: int = strawberry.field(description="Accounts checked.")
    payments_checked: int = strawberry.field(description="Payments checked against their capture entries.")
    unbalanced_entry_ids: list[relay.GlobalID] = strawberry.field(
        description="Entries that do not sum to zero (`JournalEntry` ids)."
    )
    mismatched_account_ids: list[relay.GlobalID] = strawberry.field(
        description="Accounts whose cached balance differs from their postings, or a merchant's DISPUTED account "
        "that holds other than the amounts of its open disputes (`LedgerAccount` ids; accounts are named by their "
        "key in postings and are not nodes)."
    )
    mismatched_allocation_payment_ids: list[relay.GlobalID] = strawberry.field(
        description="Payments whose allocations, per party and currency, differ from what their capture entry "
        "put in the parties' PENDING accounts (an allocation was changed, added or removed), or whose refunds "
        "reversed more of an allocation than it holds."
    )
    mismatched_total_payment_ids: list[relay.GlobalID] = strawberry.field(
        description="Payments whose total differs from what their capture entry put in PSP clearing in the "
        "payment's currency, or that have no capture entry; or with a refund whose reversals or entry differ "
        "from its amount, or whose refunds add up to more than the total."
    )
    mismatched_release_entry_ids: list[relay.GlobalID] = strawberry.field(
        description="Release entries whose AVAILABLE postings differ from the releases (per payment and party) "
        "that name them (`JournalEntry` ids)."
    )
    mismatched_settlement_ids: list[relay.GlobalID] = strawberry.field(
        description="Statements whose lines do not add up to their closing balance, or whose lines differ from "
        "the postings they take (`Settlement` ids)."
    )
