"""Double-entry postings: accounts, the postings of a payment, and the balance invariant. Pure.

Sign convention: debits are positive, credits negative, and every journal entry sums to zero per currency.
Party accounts are liabilities (money owed to the party), so their balance as a party sees it is the negated
sum of their postings.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class Bucket(enum.StrEnum):
    PENDING = "PENDING"  # held in escrow
    AVAILABLE = "AVAILABLE"  # released, not yet settled
    SETTLING = "SETTLING"  # in a payout


class SystemAccount(enum.StrEnum):
    PSP_CLEARING = "PSP_CLEARING"  # buyers' money received from the payment provider
    PAYOUTS_IN_TRANSIT = "PAYOUTS_IN_TRANSIT"


@dataclass(frozen=True, slots=True, order=True)
class AccountKey:
    currency: str
    party_id: int | None = None
    bucket: Bucket | None = None
    system: SystemAccount | None = None

    def __post_init__(self) -> None:
        assert (self.party_id is None) != (self.system is None), "an account is a party's or the system's"
        assert (self.party_id is None) == (self.bucket is None)


@dataclass(frozen=True, slots=True)
class PostingDraft:
    account: AccountKey
    amount_minor: int


class UnbalancedEntry(AssertionError):
    pass


def assert_balanced(postings: Iterable[PostingDraft]) -> None:
    totals: dict[str, int] = {}
    for posting in postings:
        totals[posting.account.currency] = totals.get(posting.account.currency, 0) + posting.amount_minor
    unbalanced = {currency: total for currency, total in totals.items() if total != 0}
    if unbalanced:
        raise UnbalancedEntry(f"journal entry does not balance: {unbalanced}")


def payment_postings(currency: str, total_minor: int, shares_by_party: Mapping[int, int]) -> list[PostingDraft]:
    """Buyer's money into PSP clearing; each party's share into its PENDING account (held until release)."""
    postings = [PostingDraft(AccountKey(currency, system=SystemAccount.PSP_CLEARING), total_minor)]
    for party_id, amount in sorted(shares_by_party.items()):
        if amount:
            postings.append(PostingDraft(AccountKey(currency, party_id=party_id, bucket=Bucket.PENDING), -amount))
    assert_balanced(postings)
    return postings
