"""The ledger's vocabulary: accounts, entry kinds, and one pure builder per movement of money. Pure.

Sign convention: debits are positive, credits negative, and every journal entry sums to zero per currency.
Party accounts are liabilities (money owed to the party), so what a party's account holds is the negated sum
of its postings. Every builder returns a `JournalEntryDraft`, which refuses to exist unless it balances; the
checks raise `LedgerInvariantViolation` rather than `assert`, so they hold under `python -O` too.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from domain.money import CURRENCY_EXPONENTS

MAX_MEMO_LENGTH = 400  # the width of journal_entries.memo


class LedgerInvariantViolation(Exception):
    """A rule that protects money was about to be broken: a bug in the caller, never a user's mistake."""


class UnbalancedEntry(LedgerInvariantViolation):
    """A journal entry's postings do not sum to zero in some currency."""


class Bucket(enum.StrEnum):
    PENDING = "PENDING"  # held in escrow
    AVAILABLE = "AVAILABLE"  # released, not yet settled
    SETTLING = "SETTLING"  # in a payout
    RESERVE = "RESERVE"  # a rolling reserve held back from settlement
    DISPUTED = "DISPUTED"  # held from a merchant while a buyer's chargeback is open


class SystemAccount(enum.StrEnum):
    PSP_CLEARING = "PSP_CLEARING"  # buyers' money received from the payment provider
    PAYOUTS_IN_TRANSIT = "PAYOUTS_IN_TRANSIT"


class EntryKind(enum.StrEnum):
    """What an entry did. The values are stored in journal_entries.kind: add, never rename."""

    CAPTURE = "payment_captured"
    RELEASE = "funds_released"
    SETTLE = "funds_settled"
    REVERSAL = "entry_reversed"
    RESERVE_HELD = "reserve_held"
    RESERVE_RELEASED = "reserve_released"
    PAYOUT_SENT = "payout_sent"
    PAYOUT_PAID = "payout_paid"
    PAYOUT_FAILED = "payout_failed"
    REFUND = "payment_refunded"
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_RELEASED = "dispute_released"
    DISPUTE_LOST = "dispute_lost"


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise LedgerInvariantViolation(message)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class AccountKey:
    """An account: a party's bucket in one currency, or a system account in one currency."""

    currency: str
    party_id: int | None = None
    bucket: Bucket | None = None
    system: SystemAccount | None = None

    def __post_init__(self) -> None:
        _require(self.currency in CURRENCY_EXPONENTS, f"unknown currency {self.currency!r}")
        _require((self.party_id is None) != (self.system is None), "an account is a party's or the system's")
        _require(
            (self.party_id is None) == (self.bucket is None), "a party's account has a bucket, a system account none"
        )
        if self.party_id is not None:
            _require(_is_int(self.party_id) and self.party_id > 0, f"party id must be positive, got {self.party_id!r}")
        # Keys rebuilt from database rows carry plain strings; an unknown name is refused here, not stored.
        try:
            if self.bucket is not None:
                object.__setattr__(self, "bucket", Bucket(self.bucket))
            if self.system is not None:
                object.__setattr__(self, "system", SystemAccount(self.system))
        except ValueError as exc:
            raise LedgerInvariantViolation(str(exc)) from None

    @property
    def text(self) -> str:
        """The account's unique key as stored, e.g. party:12:CNY:PENDING or system:PSP_CLEARING:CNY."""
        if self.system is not None:
            return f"system:{self.system.value}:{self.currency}"
        return f"party:{self.party_id}:{self.currency}:{self.bucket}"

    def held_minor(self, balance_minor: int) -> int:
        """What the account holds, given the sum of its postings: owed money (party accounts, payouts on their
        way out) is a credit, so it holds the negated sum; PSP clearing is money received, a debit."""
        return balance_minor if self.system is SystemAccount.PSP_CLEARING else -balance_minor


def party_account(party_id: int, currency: str, bucket: Bucket) -> AccountKey:
    return AccountKey(currency, party_id=party_id, bucket=bucket)


def system_account(system: SystemAccount, currency: str) -> AccountKey:
    return AccountKey(currency, system=system)


@dataclass(frozen=True, slots=True)
class PostingDraft:
    account: AccountKey
    amount_minor: int  # debit positive, credit negative

    def __post_init__(self) -> None:
        _require(isinstance(self.account, AccountKey), f"a posting needs an AccountKey, got {self.account!r}")
        _require(_is_int(self.amount_minor), f"amounts are integer minor units, got {self.amount_minor!r}")


def check_balanced(postings: Iterable[PostingDraft]) -> None:
    """Raises UnbalancedEntry unless the postings sum to zero in every currency."""
    totals: dict[str, int] = {}
    for posting in postings:
        totals[posting.account.currency] = totals.get(posting.account.currency, 0) + posting.amount_minor
    unbalanced = {currency: total for currency, total in totals.items() if total != 0}
    if unbalanced:
        raise UnbalancedEntry(f"journal entry does not balance: {unbalanced}")


@dataclass(frozen=True, slots=True)
class JournalEntryDraft:
    """An entry about to be posted. It cannot be built unbalanced: every builder below returns one."""

    kind: EntryKind
    postings: tuple[PostingDraft, ...]
    payment_id: int | None = None
    memo: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", EntryKind(self.kind))
        except ValueError:
            raise LedgerInvariantViolation(f"unknown entry kind {self.kind!r}") from None
        object.__setattr__(self, "postings", tuple(self.postings))
        _require(bool(self.postings), "a journal entry needs at least one posting")
        _require(all(isinstance(posting, PostingDraft) for posting in self.postings), "postings must be PostingDrafts")
        _require(
            self.payment_id is None or (_is_int(self.payment_id) and self.payment_id > 0),
            f"payment id must be positive, got {self.payment_id!r}",
        )
        _require(
            self.memo is None or len(self.memo) <= MAX_MEMO_LENGTH, f"a memo has at most {MAX_MEMO_LENGTH} characters"
        )
        check_balanced(self.postings)


def net_by_account(entries: Iterable[JournalEntryDraft]) -> dict[AccountKey, int]:
    """Each account's net change over `entries`: what its cached balance moves by when they are posted."""
    totals: dict[AccountKey, int] = {}
    for entry in entries:
        for posting in entry.postings:
            totals[posting.account] = totals.get(posting.account, 0) + posting.amount_minor
    return totals


# --- the movements ----------------------------------------------------------------------------------------


def capture(
    currency: str,
    total_minor: int,
    shares_by_party: Mapping[int, int],
    *,
    payment_id: int | None = None,
    memo: str | None = None,
) -> JournalEntryDraft:
    """A buyer's payment: the money into PSP clearing, each party's share into its PENDING account (held in
    escrow until release). The shares must add up to the total, or the entry does not balance."""
    _require(_is_int(total_minor) and total_minor >= 0, f"a captured total is zero or more, got {total_minor!r}")
    _require(
        all(_is_int(amount) and amount >= 0 for amount in shares_by_party.values()),
        f"a share is zero or more: {dict(shares_by_party)}",
    )
    postings = [PostingDraft(system_account(SystemAccount.PSP_CLEARING, currency), total_minor)]
    postings += [
        PostingDraft(party_account(party_id, currency, Bucket.PENDING), -amount)
        for party_id, amount in sorted(shares_by_party.items())
        if amount  # a party with a zero share gets no posting (and no account) from this payment
    ]
    return JournalEntryDraft(EntryKind.CAPTURE, tuple(postings), payment_id, memo)


def _between_buckets(
    kind: EntryKind,
    party_id: int,
    currency: str,
    amount_minor: int,
    source: Bucket,
    target: Bucket,
    payment_id: int | None,
    memo: str | None,
) -> JournalEntryDraft:
    _require(_is_int(amount_minor) and amount_minor > 0, f"{kind.value} moves a positive amount, got {amount_minor!r}")
    # Debiting a liability lowers what the party is owed there; crediting raises it.
    postings = (
        PostingDraft(party_account(party_id, currency, source), amount_minor),
        PostingDraft(party_account(party_id, currency, target), -amount_minor),
    )
    return JournalEntryDraft(kind, postings, payment_id, memo)


def release(
    party_id: int, currency: str, amount_minor: int, *, payment_id: int | None = None, memo: str | None = None
) -> JournalEntryDraft:
    """Held funds become the party's to be settled: PENDING -> AVAILABLE."""
    return _between_buckets(
        EntryKind.RELEASE, party_id, currency, amount_minor, Bucket.PENDING, Bucket.AVAILABLE, payment_id, memo
    )


def settle(party_id: int, currency: str, amount_minor: int, *, memo: str | None = None) -> JournalEntryDraft:
    """Released funds go into a payout: AVAILABLE -> SETTLING."""
    return _between_buckets(
        EntryKind.SETTLE, party_id, currency, amount_minor, Bucket.AVAILABLE, Bucket.SETTLING, None, memo
    )


def hold_reserve(party_id: int, currency: str, amount_minor: int, *, memo: str | None = None) -> JournalEntryDraft:
    """A settlement holds back its rolling reserve: AVAILABLE -> RESERVE."""
    return _between_buckets(
        EntryKind.RESERVE_HELD, party_id, currency, amount_minor, Bucket.AVAILABLE, Bucket.RESERVE, None, memo
    )


def release_reserve(party_id: int, currency: str, amount_minor: int, *, memo: str | None = None) -> JournalEntryDraft:
    """A reserve's days are over: RESERVE -> AVAILABLE, paid with the settlement that releases it."""
    return _between_buckets(
        EntryKind.RESERVE_RELEASED, party_id, currency, amount_minor, Bucket.RESERVE, Bucket.AVAILABLE, None, memo
    )


def _positive(kind: EntryKind, amount_minor: int) -> None:
    _require(_is_int(amount_minor) and amount_minor > 0, f"{kind.value} moves a positive amount, got {amount_minor!r}")


def send_payout(party_id: int, currency: str, amount_minor: int, *, memo: str | None = None) -> JournalEntryDraft:
    """A payout leaves for the bank: the party is no longer owed it in SETTLING; the platform owes the transfer."""
    _positive(EntryKind.PAYOUT_SENT, amount_minor)
    postings = (
        PostingDraft(party_account(party_id, currency, Bucket.SETTLING), amount_minor),
        PostingDraft(system_account(SystemAccount.PAYOUTS_IN_TRANSIT, currency), -amount_minor),
    )
    return JournalEntryDraft(EntryKind.PAYOUT_SENT, postings, None, memo)


def confirm_payout(currency: str, amount_minor: int, *, memo: str | None = None) -> JournalEntryDraft:
    """The bank confirms the transfer: the money has left the platform's clearing account."""
    _positive(EntryKind.PAYOUT_PAID, amount_minor)
    postings = (
        PostingDraft(system_account(SystemAccount.PAYOUTS_IN_TRANSIT, currency), amount_minor),
        PostingDraft(system_account(SystemAccount.PSP_CLEARING, currency), -amount_minor),
    )
    return JournalEntryDraft(EntryKind.PAYOUT_PAID, postings, None, memo)


def fail_payout(
    party_id: int, currency: str, amount_minor: int, *, was_sent: bool, memo: str | None = None
) -> JournalEntryDraft:
    """A payout failed: its money returns to the party's AVAILABLE balance, from wherever the payout had got to
    (in transit once sent, SETTLING before), and the next statement shows it as a PAYOUT_RETURNED line."""
    _positive(EntryKind.PAYOUT_FAILED, amount_minor)
    source = (
        system_account(SystemAccount.PAYOUTS_IN_TRANSIT, currency)
        if was_sent
        else party_account(party_id, currency, Bucket.SETTLING)
    )
    postings = (
        PostingDraft(source, amount_minor),
        PostingDraft(party_account(party_id, currency, Bucket.AVAILABLE), -amount_minor),
    )
    return JournalEntryDraft(EntryKind.PAYOUT_FAILED, postings, None, memo)


def refund(
    currency: str,
    taken: Mapping[tuple[int, Bucket], int],
    *,
    payment_id: int | None = None,
    memo: str | None = None,
) -> JournalEntryDraft:
    """Money back to the buyer: out of PSP clearing, taken from each party's buckets as `taken` says
    ((party, bucket) -> amount; a bucket may be overdrawn: a negative AVAILABLE balance is a debt)."""
    _require(
        all(_is_int(amount) and amount > 0 for amount in taken.values()), f"a refund takes positive amounts: {taken}"
    )
    total = sum(taken.values())
    _positive(EntryKind.REFUND, total)
    postings = [
        PostingDraft(party_account(party_id, currency, bucket), amount)
        for (party_id, bucket), amount in sorted(taken.items())
    ]
    postings.append(PostingDraft(system_account(SystemAccount.PSP_CLEARING, currency), -total))
    return JournalEntryDraft(EntryKind.REFUND, tuple(postings), payment_id, memo)


def reverse(entry: JournalEntryDraft, *, reason: str) -> JournalEntryDraft:
    """The exact negation of a posted entry, with the reason as its memo: posted entries are never edited."""
    _require(isinstance(reason, str) and bool(reason.strip()), "a reversal needs a reason")
    negated = tuple(PostingDraft(posting.account, -posting.amount_minor) for posting in entry.postings)
    return JournalEntryDraft(EntryKind.REVERSAL, negated, entry.payment_id, reason.strip())


# --- disputes (chargebacks) ---------------------------------------------------------------------------------


def _dispute_postings(
    kind: EntryKind, party_id: int, currency: str, amounts: Mapping[Bucket, int], sign: int
) -> list[PostingDraft]:
    _require(all(_is_int(amount) and amount > 0 for amount in amounts.values()), f"{kind.value} moves positive amounts")
    _require(Bucket.DISPUTED not in amounts, f"{kind.value} moves money between DISPUTED and other buckets")
    _positive(kind, sum(amounts.values()))
    return [
        PostingDraft(party_account(party_id, currency, bucket), sign * amount)
        for bucket, amount in sorted(amounts.items())
    ]


def hold_for_dispute(
    party_id: int,
    currency: str,
    taken: Mapping[Bucket, int],
    *,
    payment_id: int | None = None,
    memo: str | None = None,
) -> JournalEntryDraft:
    """A buyer disputes a payment: the disputed amount of the merchant's money moves into DISPUTED, taken from
    its buckets as `taken` says (bucket -> amount; AVAILABLE may be overdrawn: a debt)."""
    postings = _dispute_postings(EntryKind.DISPUTE_OPENED, party_id, currency, taken, 1)
    held = sum(posting.amount_minor for posting in postings)
    postings.append(PostingDraft(party_account(party_id, currency, Bucket.DISPUTED), -held))
    return JournalEntryDraft(EntryKind.DISPUTE_OPENED, tuple(postings), payment_id, memo)


def release_dispute_hold(
    party_id: int,
    currency: str,
    returned: Mapping[Bucket, int],
    *,
    payment_id: int | None = None,
    memo: str | None = None,
) -> JournalEntryDraft:
    """A dispute's hold, or what a lost dispute leaves of it, goes back to the merchant: DISPUTED -> its buckets
    as `returned` says (bucket -> amount)."""
    postings = _dispute_postings(EntryKind.DISPUTE_RELEASED, party_id, currency, returned, -1)
    released = -sum(posting.amount_minor for posting in postings)
    postings.insert(0, PostingDraft(party_account(party_id, currency, Bucket.DISPUTED), released))
    return JournalEntryDraft(EntryKind.DISPUTE_RELEASED, tuple(postings), payment_id, memo)


def lose_dispute(
    currency: str,
    merchant_id: int,
    from_hold_minor: int,
    taken: Mapping[tuple[int, Bucket], int] | None = None,
    *,
    payment_id: int | None = None,
    memo: str | None = None,
) -> JournalEntryDraft:
    """A chargeback is lost: the money leaves through PSP clearing, `from_hold_minor` out of the merchant's
    DISPUTED hold and the rest from other parties' buckets as `taken` says ((party, bucket) -> amount)."""
    others = dict(taken or {})
    _require(
        all(_is_int(amount) and amount > 0 for amount in others.values()),
        f"a lost dispute takes positive amounts: {others}",
    )
    _require(all(bucket is not Bucket.DISPUTED for _, bucket in others), "only the merchant's hold is DISPUTED")
    _require(_is_int(from_hold_minor) and from_hold_minor >= 0, f"the hold gives zero or more, got {from_hold_minor!r}")
    total = from_hold_minor + sum(others.values())
    _positive(EntryKind.DISPUTE_LOST, total)
    postings = []
    if from_hold_minor:
        postings.append(PostingDraft(party_account(merchant_id, currency, Bucket.DISPUTED), from_hold_minor))
    postings += [
        PostingDraft(party_account(party_id, currency, bucket), amount)
        for (party_id, bucket), amount in sorted(others.items())
    ]
    postings.append(PostingDraft(system_account(SystemAccount.PSP_CLEARING, currency), -total))
    return JournalEntryDraft(EntryKind.DISPUTE_LOST, tuple(postings), payment_id, memo)
