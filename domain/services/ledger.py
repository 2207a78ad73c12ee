"""Posting journal entries, reading balances and entries in scope, and verifying the whole ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tortoise import connections
from tortoise.expressions import F

from auth.principal import Principal
from auth.scoping import readable
from domain.errors import Forbidden, NotFound
from domain.ledger import AccountKey, PostingDraft, assert_balanced
from domain.models import JournalEntry, LedgerAccount, Party, Posting
from domain.parties import PartyKind
from domain.services.authorization import require
from domain.services.pagination import Page, PageRequest, fetch_page
from domain.services.runtime import Runtime


def account_key_text(key: AccountKey) -> str:
    if key.system is not None:
        return f"system:{key.system.value}:{key.currency}"
    return f"party:{key.party_id}:{key.currency}:{key.bucket.value if key.bucket else ''}"


async def _accounts_for(keys: Sequence[AccountKey]) -> dict[AccountKey, LedgerAccount]:
    """The accounts for `keys`, created on first use. Safe when concurrent writers create the same account."""
    texts = {account_key_text(key): key for key in keys}
    found = {row.key: row for row in await LedgerAccount.filter(key__in=list(texts))}
    missing = [key for text, key in texts.items() if text not in found]
    if missing:
        await LedgerAccount.bulk_create(
            [
                LedgerAccount(
                    key=account_key_text(key),
                    party_id=key.party_id,
                    currency=key.currency,
                    bucket=key.bucket.value if key.bucket else None,
                    system=key.system.value if key.system else None,
                )
                for key in missing
            ],
            ignore_conflicts=True,
        )
        found = {row.key: row for row in await LedgerAccount.filter(key__in=list(texts))}
    return {key: found[text] for text, key in texts.items()}


@dataclass(frozen=True)
class EntryDraft:
    kind: str
    payment_id: int | None
    memo: str | None
    postings: Sequence[PostingDraft]
    entry_id: int | None = None  # pre-allocated (PostgreSQL batch path), or None for the database to assign


async def post_entry(entry: EntryDraft) -> JournalEntry:
    """Appends one balanced journal entry and moves the cached balances with it. Call inside a transaction."""
    assert_balanced(entry.postings)
    row = await JournalEntry.create(kind=entry.kind, payment_id=entry.payment_id, memo=entry.memo)
    await _append_postings([(row.id, entry)])
    return row


async def post_entries(entries: Sequence[EntryDraft]) -> None:
    """Appends many balanced entries whose ids were allocated up front, at once. Call inside a transaction."""
    ids = []
    for entry in entries:
        assert entry.entry_id is not None, "post_entries needs pre-allocated entry ids"
        assert_balanced(entry.postings)
        ids.append(entry.entry_id)
    await JournalEntry.bulk_create(
        [JournalEntry(id=e.entry_id, kind=e.kind, payment_id=e.payment_id, memo=e.memo) for e in entries]
    )
    await _append_postings(list(zip(ids, entries, strict=True)))


async def _append_postings(entries: Sequence[tuple[int, EntryDraft]]) -> None:
    """The postings of saved entries; then each account's cached balance moves once by its net change, in sorted
    account order, so concurrent writers lock accounts in the same order and cannot deadlock."""
    accounts = await _accounts_for([p.account for _, entry in entries for p in entry.postings])
    await Posting.bulk_create(
        [
            Posting(
                entry_id=entry_id,
                account_id=accounts[p.account].id,
                party_id=p.account.party_id,
                currency=p.account.currency,
                amount_minor=p.amount_minor,
            )
            for entry_id, entry in entries
            for p in entry.postings
        ]
    )
    deltas: dict[int, int] = {}
    for _, entry in entries:
        for posting in entry.postings:
            account_id = accounts[posting.account].id
            deltas[account_id] = deltas.get(account_id, 0) + posting.amount_minor
    for account_id in sorted(deltas):
        if deltas[account_id]:
            await LedgerAccount.filter(id=account_id).update(balance_minor=F("balance_minor") + deltas[account_id])


@dataclass(frozen=True)
class Balance:
    party_id: int
    currency: str
    bucket: str
    amount_minor: int  # as the party sees it: what it is owed


async def balances(principal: Principal, party_id: int) -> list[Balance]:
    require(principal, "ledger:read")
    if not await readable(principal, Party).filter(id=party_id).exists():
        raise NotFound("party", field="partyId")
    rows = await readable(principal, LedgerAccount).filter(party_id=party_id).order_by("currency", "bucket")
    return [Balance(party_id, row.currency, row.bucket or "", -row.balance_minor) for row in rows]


async def list_entries(
    principal: Principal, runtime: Runtime, page: PageRequest, party_id: int | None = None
) -> Page[JournalEntry]:
    """Entries that touch an account the caller may read (all of them, for the platform)."""
    require(principal, "ledger:read")
    postings = readable(principal, Posting)
    if party_id is not None:
        postings = postings.filter(party_id=party_id)
    scoped = principal.party_kind is not PartyKind.PLATFORM
    query = JournalEntry.all()
    if scoped or party_id is not None:
        entry_ids = postings.distinct().values_list("entry_id", flat=True)
        query = query.filter(id__in=await entry_ids)
    return await fetch_page(query, page.checked(runtime.max_page_size))


async def postings_of(principal: Principal, entry_ids: list[int]) -> dict[int, list[Posting]]:
    """For data loaders: each entry's postings that the caller may see."""
    rows = await readable(principal, Posting).filter(entry_id__in=entry_ids).select_related("account").order_by("id")
    grouped: dict[int, list[Posting]] = {entry_id: [] for entry_id in entry_ids}
    for row in rows:
        grouped[row.entry_id].append(row)
    return grouped


@dataclass(frozen=True)
class LedgerCheck:
    entries_checked: int
    accounts_checked: int
    unbalanced_entry_ids: list[int]
    mismatched_account_ids: list[int]

    @property
    def ok(self) -> bool:
        return not self.unbalanced_entry_ids and not self.mismatched_account_ids


async def verify_ledger(principal: Principal) -> LedgerCheck:
    """Every entry sums to zero per currency; every cached balance equals the sum of its postings."""
    require(principal, "ledger:read")
    if principal.party_kind is not PartyKind.PLATFORM:
        raise Forbidden("only platform staff verify the whole ledger")
    connection = connections.get("default")
    unbalanced = await connection.execute_query_dict(
        "SELECT entry_id FROM postings GROUP BY entry_id, currency HAVING SUM(amount_minor) <> 0"
    )
    mismatched = await connection.execute_query_dict(
        "SELECT a.id FROM ledger_accounts a LEFT JOIN (SELECT account_id, SUM(amount_minor) AS total "
        "FROM postings GROUP BY account_id) p ON p.account_id = a.id "
        "WHERE a.balance_minor <> COALESCE(p.total, 0)"
    )
    counts = await connection.execute_query_dict(
        "SELECT (SELECT COUNT(*) FROM journal_entries) AS entries, (SELECT COUNT(*) FROM ledger_accounts) AS accounts"
    )
    return LedgerCheck(
        entries_checked=int(counts[0]["entries"]),
        accounts_checked=int(counts[0]["accounts"]),
        unbalanced_entry_ids=sorted({int(row["entry_id"]) for row in unbalanced}),
        mismatched_account_ids=sorted(int(row["id"]) for row in mismatched),
    )
