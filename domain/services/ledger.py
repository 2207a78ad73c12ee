"""Posting journal entries under ordered locks, reading balances and entries in scope, verifying the ledger."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import Subquery

from auth.principal import Principal
from auth.scoping import readable
from domain.errors import DomainError, ErrorCode, Forbidden, NotFound
from domain.ledger import (
    AccountKey,
    Bucket,
    EntryKind,
    JournalEntryDraft,
    SystemAccount,
    check_balanced,
    net_by_account,
)
from domain.models import JournalEntry, LedgerAccount, Party, Posting
from domain.money import Money
from domain.parties import PartyKind
from domain.services import dialect
from domain.services.authorization import require
from domain.services.pagination import Page, PageRequest, fetch_page
from domain.services.runtime import Runtime


class InsufficientFunds(DomainError):
    """An account holds less than a movement needs; nothing was posted."""

    def __init__(self, account: AccountKey, held_minor: int, needed_minor: int) -> None:
        super().__init__(
            ErrorCode.INSUFFICIENT_FUNDS,
            f"{account.text} holds {Money(held_minor, account.currency).format()} {account.currency}; "
            f"{Money(needed_minor, account.currency).format()} are needed",
        )
        self.account = account
        self.held_minor = held_minor
        self.needed_minor = needed_minor


@dataclass(frozen=True)
class AtLeast:
    """A condition checked under the balance locks, before anything is posted: `account` holds this much."""

    account: AccountKey
    amount_minor: int


async def _accounts_for(keys: Iterable[AccountKey]) -> dict[AccountKey, LedgerAccount]:
    """The accounts for `keys`, created on first use. Safe when concurrent writers create the same account."""
    texts = {key.text: key for key in keys}
    found = {row.key: row for row in await LedgerAccount.filter(key__in=list(texts))}
    # Inserted in key order: two writers creating the same accounts wait on each other's unique-index entries in
    # the same order, never crosswise.
    missing = sorted((key for text, key in texts.items() if text not in found), key=lambda key: key.text)
    if missing:
        await LedgerAccount.bulk_create(
            [
                LedgerAccount(
                    key=key.text,
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


async def _lock_balances(account_ids: Iterable[int]) -> dict[int, int]:
    """Locks the balance rows in ascending id order, the one global order every poster uses, so two
    transactions never each hold a row the other waits for; returns the locked balances.

    FOR NO KEY UPDATE, not FOR UPDATE: inserting a posting takes a key-share lock on its account, which a plain
    FOR UPDATE would wait for, and two posters that had both inserted postings would then wait for each other.
    SQLite has no row locks: its transactions run one at a time (tortoise serialises them in the process).
    """
    ids = sorted(set(account_ids))
    if dialect.is_postgres():
        rows = await dialect.rows(
            "SELECT id, balance_minor FROM ledger_accounts WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE",
            ids,
        )
    else:
        rows = await dialect.rows(
            "SELECT id, balance_minor FROM ledger_accounts WHERE id IN (SELECT value FROM json_each($1))",
            json.dumps(ids),
        )
    return {int(row["id"]): int(row["balance_minor"]) for row in rows}


def _check(requirements: Iterable[AtLeast], accounts: dict[AccountKey, int], balances: dict[int, int]) -> None:
    for requirement in requirements:
        held = requirement.account.held_minor(balances.get(accounts[requirement.account], 0))
        if held < requirement.amount_minor:
            raise InsufficientFunds(requirement.account, held, requirement.amount_minor)


async def post_entries(
    entries: Sequence[JournalEntryDraft],
    *,
    entry_ids: Sequence[int] | None = None,
    at_least: Sequence[AtLeast] = (),
    posted_at: datetime | None = None,
) -> list[int]:
    """Appends balanced journal entries, their postings, and each touched account's cached balance moved once
    by its net change; returns the entries' ids in order. Call inside a transaction.

    `entry_ids` are ids taken from the journal_entries sequence up front (the PostgreSQL batch path), or None
    for new ones. `at_least` conditions are checked under the balance locks before anything is written.
    `posted_at` is the instant the entries and postings carry (the service's clock; the database's when None):
    balances at a point in time and settlement windows are read from it.
    The number of statements does not grow with the number of entries, except on SQLite, where each entry
    without an id is one in-process insert.
    """
    drafts = list(entries)
    if not drafts:
        return []
    for draft in drafts:
        check_balanced(draft.postings)  # drafts balance when built; this catches one assembled by hand
    if entry_ids is not None and (len(entry_ids) != len(drafts) or len(set(entry_ids)) != len(drafts)):
        raise ValueError("post_entries needs one distinct pre-allocated id per entry")
    deltas = net_by_account(drafts)
    accounts = {key: row.id for key, row in (await _accounts_for([*deltas, *(r.account for r in at_least)])).items()}
    if at_least:
        # Checked before writing, so a caller that catches InsufficientFunds has nothing half written.
        _check(at_least, accounts, await _lock_balances(accounts.values()))
    ids = await _insert_entries(drafts, entry_ids, posted_at)
    stamp = {} if posted_at is None else {"created_at": posted_at}
    await Posting.bulk_create(
        [
            Posting(
                entry_id=entry_id,
                account_id=accounts[posting.account],
                party_id=posting.account.party_id,
                currency=posting.account.currency,
                amount_minor=posting.amount_minor,
                **stamp,
            )
            for entry_id, draft in zip(ids, drafts, strict=True)
            for posting in draft.postings
        ]
    )
    # Locked last (when nothing was checked first), just before commit: the PSP clearing row is shared by every
    # payment, so concurrent posters wait on each other as briefly as possible.
    await _lock_balances(accounts.values())
    await _move_balances({accounts[key]: delta for key, delta in deltas.items() if delta})
    return ids


async def _insert_entries(
    drafts: Sequence[JournalEntryDraft], entry_ids: Sequence[int] | None, posted_at: datetime | None
) -> list[int]:
    stamp: dict[str, Any] = {} if posted_at is None else {"created_at": posted_at}
    if entry_ids is None and dialect.is_postgres():
        entry_ids = await dialect.next_ids("journal_entries", len(drafts))
    if entry_ids is None:
        # SQLite: one writer at a time, no server round trip; the database assigns each id.
        created = [
            await JournalEntry.create(kind=d.kind.value, payment_id=d.payment_id, memo=d.memo, **stamp) for d in drafts
        ]
        return [entry.id for entry in created]
    await JournalEntry.bulk_create(
        [
            JournalEntry(id=entry_id, kind=d.kind.value, payment_id=d.payment_id, memo=d.memo, **stamp)
            for entry_id, d in zip(entry_ids, drafts, strict=True)
        ]
    )
    return list(entry_ids)


async def _move_balances(deltas: dict[int, int]) -> None:
    """One statement whatever the number of accounts; call with the rows locked."""
    if not deltas:
        return
    ids, amounts = zip(*sorted(deltas.items()), strict=True)
    if dialect.is_postgres():
        await dialect.rows(
            "UPDATE ledger_accounts AS a SET balance_minor = a.balance_minor + d.delta "
            "FROM unnest($1::bigint[], $2::bigint[]) AS d(id, delta) WHERE a.id = d.id",
            list(ids),
            list(amounts),
        )
    else:
        await dialect.rows(
            "UPDATE ledger_accounts SET balance_minor = balance_minor + d.delta "
            "FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS delta "
            "FROM json_each($1)) AS d WHERE ledger_accounts.id = d.id",
            json.dumps([list(pair) for pair in zip(ids, amounts, strict=True)]),
        )


# --- reads ------------------------------------------------------------------------------------------------


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
    """Entries in the caller's scope (auth/scoping.py: the ones touching an account it may read; all of them for
    the platform), newest first; with `party_id`, those touching that party's accounts.

    Both are subqueries the database evaluates: a party may have more entries than a statement can take
    parameters (32,767 on PostgreSQL), so their ids never travel through Python."""
    require(principal, "ledger:read")
    query = readable(principal, JournalEntry)
    if party_id is not None:
        postings = readable(principal, Posting).filter(party_id=party_id)
        query = query.filter(id__in=Subquery(postings.values_list("entry_id", flat=True)))
    return await fetch_page(query, page.checked(runtime.max_page_size))


async def entries_by_ids(principal: Principal, entry_ids: list[int]) -> dict[int, JournalEntry]:
    """For node lookups: the entries among `entry_ids` in the caller's scope."""
    require(principal, "ledger:read")
    return {row.id: row for row in await readable(principal, JournalEntry).filter(id__in=entry_ids)}


async def postings_of(principal: Principal, entry_ids: list[int]) -> dict[int, list[Posting]]:
    """For data loaders: each entry's postings that the caller may see."""
    rows = await readable(principal, Posting).filter(entry_id__in=entry_ids).select_related("account").order_by("id")
    grouped: dict[int, list[Posting]] = {entry_id: [] for entry_id in entry_ids}
    for row in rows:
        grouped[row.entry_id].append(row)
    return grouped


# --- verification -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerCheck:
    entries_checked: int
    accounts_checked: int
    payments_checked: int
    unbalanced_entry_ids: list[int]
    mismatched_account_ids: list[int]  # a cached balance differs from its postings, or DISPUTED from open disputes
    # Allocations differ from what the capture entry holds, or refunds reversed more of one than it holds.
    mismatched_allocation_payment_ids: list[int]
    # The total differs from what the capture entry cleared, or a refund from its reversals or its entry, or
    # the refunds from more than the total.
    mismatched_total_payment_ids: list[int]
    mismatched_release_entry_ids: list[int]  # release rows differ from the release entry they name
    mismatched_settlement_ids: list[int]  # a statement's lines differ from its closing balance or their postings

    @property
    def ok(self) -> bool:
        return not (
            self.unbalanced_entry_ids
            or self.mismatched_account_ids
            or self.mismatched_allocation_payment_ids
            or self.mismatched_total_payment_ids
            or self.mismatched_release_entry_ids
            or self.mismatched_settlement_ids
        )


# Per payment, party and currency: the allocations, plus the PENDING postings of the payment's capture entry
# (which are their negation), must come to zero; an allocation whose goods and shipping parts do not add up to
# its amount, or that refunds reversed more of than it holds, throws its sum off by one. A payment is listed
# once, however many parties are off.
_ALLOCATIONS_AGAINST_CAPTURE = """
SELECT DISTINCT payment_id FROM (
  SELECT payment_id, party_id, currency, amount_minor FROM allocations
  UNION ALL
  SELECT payment_id, party_id, currency, 1 FROM allocations WHERE goods_minor + shipping_minor <> amount_minor
  UNION ALL
  SELECT a.payment_id, a.party_id, a.currency, 1 FROM allocations a
  WHERE a.amount_minor < (SELECT COALESCE(SUM(r.amount_minor), 0) FROM refund_reversals r WHERE r.allocation_id = a.id)
  UNION ALL
  SELECT e.payment_id, p.party_id, p.currency, p.amount_minor
  FROM journal_entries e JOIN postings p ON p.entry_id = e.id JOIN ledger_accounts a ON a.id = p.account_id
  WHERE e.kind = $1 AND e.payment_id IS NOT NULL AND a.bucket = $2
) shares
GROUP BY payment_id, party_id, currency
HAVING SUM(amount_minor) <> 0
"""

# Per payment: its capture entry debits PSP clearing, in the payment's currency, by exactly the total. A payment
# without a capture entry is listed too.
_TOTAL_AGAINST_CLEARING = """
SELECT pay.id FROM payments pay LEFT JOIN (
  SELECT e.payment_id, p.currency, SUM(p.amount_minor) AS cleared
  FROM journal_entries e JOIN postings p ON p.entry_id = e.id JOIN ledger_accounts a ON a.id = p.account_id
  WHERE e.kind = $1 AND e.payment_id IS NOT NULL AND a.system = $2
  GROUP BY e.payment_id, p.currency
) c ON c.payment_id = pay.id AND c.currency = pay.currency
WHERE c.cleared IS NULL OR c.cleared <> pay.total_minor
"""


# Per entry named by release rows, and party: the rows, plus the entry's AVAILABLE posting of a release (their
# negation: a credit), come to zero; rows naming an entry that released nothing are listed too. (A release entry
# that no row names is the ledger engine's own business, as its tests post them: not checked here.)
_RELEASES_AGAINST_ENTRIES = """
SELECT DISTINCT entry_id FROM (
  SELECT entry_id, party_id, amount_minor FROM releases
  UNION ALL
  SELECT p.entry_id, p.party_id, p.amount_minor
  FROM journal_entries e JOIN postings p ON p.entry_id = e.id JOIN ledger_accounts a ON a.id = p.account_id
  WHERE e.kind = $1 AND a.bucket = $2 AND e.id IN (SELECT entry_id FROM releases)
) shares
GROUP BY entry_id, party_id
HAVING SUM(amount_minor) <> 0
"""

# A statement's lines add up to its closing balance, and a line that takes a posting shows its exact amount.
_STATEMENTS_AGAINST_LINES = """
SELECT s.id FROM settlements s LEFT JOIN (
  SELECT settlement_id, SUM(amount_minor) AS total FROM settlement_lines GROUP BY settlement_id
) l ON l.settlement_id = s.id
WHERE COALESCE(l.total, 0) <> s.closing_minor
UNION
SELECT l.settlement_id FROM settlement_lines l JOIN postings p ON p.id = l.posting_id
WHERE l.amount_minor <> -p.amount_minor
"""


# A refund's reversals add up to its amount, its entry takes exactly that out of PSP clearing, and a payment's
# refunds never add up to more than its total.
_REFUNDS_AGAINST_ENTRIES = """
SELECT f.payment_id AS id FROM refunds f LEFT JOIN (
  SELECT refund_id, SUM(amount_minor) AS reversed FROM refund_reversals GROUP BY refund_id
) r ON r.refund_id = f.id WHERE COALESCE(r.reversed, 0) <> f.amount_minor
UNION
SELECT f.payment_id FROM refunds f JOIN postings p ON p.entry_id = f.journal_entry_id
JOIN ledger_accounts a ON a.id = p.account_id WHERE a.system = $1 AND p.amount_minor <> -f.amount_minor
UNION
SELECT pay.id FROM payments pay JOIN refunds f ON f.payment_id = pay.id GROUP BY pay.id, pay.total_minor
HAVING SUM(f.amount_minor) > pay.total_minor
"""


# A merchant's DISPUTED account holds exactly the amounts of its open disputes, per currency.
_DISPUTED_AGAINST_OPEN_DISPUTES = """
SELECT a.id FROM ledger_accounts a LEFT JOIN (
  SELECT merchant_id, currency, SUM(amount_minor) AS held FROM disputes WHERE status = 'OPEN'
  GROUP BY merchant_id, currency
) d ON d.merchant_id = a.party_id AND d.currency = a.currency
WHERE a.bucket = $1 AND -a.balance_minor <> COALESCE(d.held, 0)
"""


async def verify_ledger(principal: Principal) -> LedgerCheck:
    """Every entry sums to zero per currency; every cached balance equals the sum of its postings; every
    payment's allocations and total agree with its capture entry; every release entry agrees with its release
    rows; every statement's lines add up to its closing balance and to their postings. Set-based: a handful of
    statements."""
    require(principal, "ledger:read")
    if principal.party_kind is not PartyKind.PLATFORM:
        raise Forbidden("only platform staff verify the whole ledger")
    unbalanced = await dialect.rows(
        "SELECT DISTINCT entry_id FROM postings GROUP BY entry_id, currency HAVING SUM(amount_minor) <> 0"
    )
    mismatched = await dialect.rows(
        "SELECT a.id FROM ledger_accounts a LEFT JOIN (SELECT account_id, SUM(amount_minor) AS total "
        "FROM postings GROUP BY account_id) p ON p.account_id = a.id "
        "WHERE a.balance_minor <> COALESCE(p.total, 0)"
    )
    mismatched += await dialect.rows(_DISPUTED_AGAINST_OPEN_DISPUTES, Bucket.DISPUTED.value)
    allocations = await dialect.rows(_ALLOCATIONS_AGAINST_CAPTURE, EntryKind.CAPTURE.value, Bucket.PENDING.value)
    totals = await dialect.rows(_TOTAL_AGAINST_CLEARING, EntryKind.CAPTURE.value, SystemAccount.PSP_CLEARING.value)
    totals += await dialect.rows(_REFUNDS_AGAINST_ENTRIES, SystemAccount.PSP_CLEARING.value)
    releases = await dialect.rows(_RELEASES_AGAINST_ENTRIES, EntryKind.RELEASE.value, Bucket.AVAILABLE.value)
    statements = await dialect.rows(_STATEMENTS_AGAINST_LINES)
    counts = await dialect.rows(
        "SELECT (SELECT COUNT(*) FROM journal_entries) AS entries, (SELECT COUNT(*) FROM ledger_accounts) AS accounts, "
        "(SELECT COUNT(*) FROM payments) AS payments"
    )
    return LedgerCheck(
        entries_checked=int(counts[0]["entries"]),
        accounts_checked=int(counts[0]["accounts"]),
        payments_checked=int(counts[0]["payments"]),
        unbalanced_entry_ids=sorted(int(row["entry_id"]) for row in unbalanced),
        mismatched_account_ids=sorted({int(row["id"]) for row in mismatched}),
        mismatched_allocation_payment_ids=sorted(int(row["payment_id"]) for row in allocations),
        mismatched_total_payment_ids=sorted({int(row["id"]) for row in totals}),
        mismatched_release_entry_ids=sorted(int(row["entry_id"]) for row in releases),
        mismatched_settlement_ids=sorted(int(row["id"]) for row in statements),
    )
