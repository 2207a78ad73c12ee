"""The ledger's vocabulary: every builder balances, reversals cancel exactly, invariants hold under python -O."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.ledger import (
    AccountKey,
    Bucket,
    EntryKind,
    JournalEntryDraft,
    LedgerInvariantViolation,
    PostingDraft,
    SystemAccount,
    UnbalancedEntry,
    capture,
    check_balanced,
    net_by_account,
    release,
    reverse,
    settle,
)
from tests.python_dash_o import run_with_asserts_stripped

PLATFORM, MERCHANT, COURIER = 1, 2, 3

amounts = st.integers(min_value=0, max_value=10**15)
positive_amounts = st.integers(min_value=1, max_value=10**15)
currencies = st.sampled_from(["CNY", "JPY", "KWD", "USD"])
party_ids = st.integers(min_value=1, max_value=10**9)
shares = st.dictionaries(party_ids, amounts, min_size=1, max_size=6)


def sums_by_currency(entry: JournalEntryDraft) -> dict[str, int]:
    totals: dict[str, int] = {}
    for posting in entry.postings:
        totals[posting.account.currency] = totals.get(posting.account.currency, 0) + posting.amount_minor
    return totals


def any_entry() -> st.SearchStrategy[JournalEntryDraft]:
    return st.one_of(
        st.builds(
            lambda currency, by_party: capture(currency, sum(by_party.values()), by_party, payment_id=7),
            currencies,
            shares,
        ),
        st.builds(release, party_ids, currencies, positive_amounts),
        st.builds(settle, party_ids, currencies, positive_amounts),
    )


# --- each builder ---------------------------------------------------------------------------------------


def test_a_capture_puts_the_total_in_clearing_and_each_share_in_pending():
    entry = capture("CNY", 15800, {MERCHANT: 15000, COURIER: 800, PLATFORM: 0}, payment_id=9, memo="payment o-1")
    assert entry.kind is EntryKind.CAPTURE and entry.kind == "payment_captured"
    assert (entry.payment_id, entry.memo) == (9, "payment o-1")
    assert [(p.account.text, p.amount_minor) for p in entry.postings] == [
        ("system:PSP_CLEARING:CNY", 15800),
        ("party:2:CNY:PENDING", -15000),
        ("party:3:CNY:PENDING", -800),
    ]


def test_a_capture_whose_shares_miss_the_total_does_not_balance():
    with pytest.raises(UnbalancedEntry):
        capture("CNY", 15800, {MERCHANT: 15000})


def test_a_release_moves_a_party_share_from_pending_to_available():
    entry = release(MERCHANT, "CNY", 500, payment_id=4)
    assert entry.kind is EntryKind.RELEASE and entry.payment_id == 4
    assert net_by_account([entry]) == {
        AccountKey("CNY", MERCHANT, Bucket.PENDING): 500,
        AccountKey("CNY", MERCHANT, Bucket.AVAILABLE): -500,
    }


def test_a_settlement_moves_available_funds_into_settling():
    entry = settle(MERCHANT, "JPY", 1200, memo="statement 2026-01")
    assert entry.kind is EntryKind.SETTLE
    assert net_by_account([entry]) == {
        AccountKey("JPY", MERCHANT, Bucket.AVAILABLE): 1200,
        AccountKey("JPY", MERCHANT, Bucket.SETTLING): -1200,
    }


@pytest.mark.parametrize("amount", [0, -5, 1.5, True])
def test_a_release_or_settlement_moves_a_positive_whole_amount(amount):
    for build in (release, settle):
        with pytest.raises(LedgerInvariantViolation):
            build(MERCHANT, "CNY", amount)


def test_a_capture_refuses_negative_shares_and_totals():
    with pytest.raises(LedgerInvariantViolation):
        capture("CNY", 100, {MERCHANT: 150, PLATFORM: -50})
    with pytest.raises(LedgerInvariantViolation):
        capture("CNY", -100, {})


def test_a_reversal_negates_every_posting_and_says_why():
    original = capture("CNY", 1500, {PLATFORM: 300, MERCHANT: 1200}, payment_id=5)
    reversal = reverse(original, reason="  captured twice by mistake ")
    assert reversal.kind is EntryKind.REVERSAL and reversal.payment_id == 5
    assert reversal.memo == "captured twice by mistake"
    assert [(p.account, -p.amount_minor) for p in reversal.postings] == [
        (p.account, p.amount_minor) for p in original.postings
    ]
    with pytest.raises(LedgerInvariantViolation):
        reverse(original, reason=" ")


def test_a_draft_cannot_be_built_unbalanced_empty_or_of_an_unknown_kind():
    clearing = AccountKey("CNY", system=SystemAccount.PSP_CLEARING)
    with pytest.raises(UnbalancedEntry):
        JournalEntryDraft(EntryKind.CAPTURE, (PostingDraft(clearing, 1),))
    with pytest.raises(LedgerInvariantViolation):
        JournalEntryDraft(EntryKind.CAPTURE, ())
    with pytest.raises(LedgerInvariantViolation):
        JournalEntryDraft("payment_refunded_twice", (PostingDraft(clearing, 0),))  # type: ignore[arg-type]
    with pytest.raises(LedgerInvariantViolation):
        JournalEntryDraft(EntryKind.CAPTURE, (PostingDraft(clearing, 0),), memo="x" * 401)


def test_balance_is_per_currency_not_across_currencies():
    cny = AccountKey("CNY", system=SystemAccount.PSP_CLEARING)
    usd = AccountKey("USD", system=SystemAccount.PSP_CLEARING)
    with pytest.raises(UnbalancedEntry):
        check_balanced([PostingDraft(cny, 100), PostingDraft(usd, -100)])


@pytest.mark.parametrize(
    "fields",
    [
        {"currency": "CNY"},  # neither a party's nor the system's
        {"currency": "CNY", "party_id": 1},  # a party's account without a bucket
        {"currency": "CNY", "party_id": 1, "bucket": Bucket.PENDING, "system": SystemAccount.PSP_CLEARING},
        {"currency": "CNY", "system": SystemAccount.PSP_CLEARING, "bucket": Bucket.PENDING},
        {"currency": "XXX", "system": SystemAccount.PSP_CLEARING},  # unknown currency
        {"currency": "CNY", "party_id": 0, "bucket": Bucket.PENDING},
        {"currency": "CNY", "party_id": 1, "bucket": "ESCROWISH"},
    ],
)
def test_an_account_is_a_party_bucket_or_a_system_account_in_a_known_currency(fields):
    with pytest.raises(LedgerInvariantViolation):
        AccountKey(**fields)


def test_an_account_rebuilt_from_stored_text_equals_the_one_built_from_enums():
    assert AccountKey("CNY", 7, "PENDING") == AccountKey("CNY", 7, Bucket.PENDING)  # type: ignore[arg-type]
    assert AccountKey("CNY", system="PSP_CLEARING").system is SystemAccount.PSP_CLEARING  # type: ignore[arg-type]


def test_a_party_account_holds_what_the_party_is_owed_and_clearing_what_was_received():
    assert AccountKey("CNY", 7, Bucket.AVAILABLE).held_minor(-500) == 500
    assert AccountKey("CNY", system=SystemAccount.PSP_CLEARING).held_minor(500) == 500


def test_posting_amounts_are_integer_minor_units():
    clearing = AccountKey("CNY", system=SystemAccount.PSP_CLEARING)
    for amount in (1.0, "1", None, False):
        with pytest.raises(LedgerInvariantViolation):
            PostingDraft(clearing, amount)  # type: ignore[arg-type]


# --- properties ---------------------------------------------------------------------------------------------


@given(any_entry())
def test_every_builder_balances_per_currency_for_any_amounts(entry):
    assert all(total == 0 for total in sums_by_currency(entry).values())


@given(currencies, shares)
def test_a_capture_clears_exactly_the_total_and_holds_exactly_each_share(currency, by_party):
    total = sum(by_party.values())
    entry = capture(currency, total, by_party)
    net = net_by_account([entry])
    assert net[AccountKey(currency, system=SystemAccount.PSP_CLEARING)] == total
    for party_id, amount in by_party.items():
        assert net.get(AccountKey(currency, party_id, Bucket.PENDING), 0) == -amount


@given(any_entry())
def test_an_entry_and_its_reversal_net_to_zero_on_every_account(entry):
    net = net_by_account([entry, reverse(entry, reason="correction")])
    assert set(net.values()) == {0}


# --- python -O ---------------------------------------------------------------------------------------------


def test_the_ledger_invariants_hold_under_python_dash_o():
    """Bare asserts vanish under -O; the ledger's checks must not."""
    script = textwrap.dedent(
        """
        assert False, "this line proves asserts are off"
        """
    )
    asserts_off = run_with_asserts_stripped(script)
    assert asserts_off.returncode == 0, "python -O should have skipped the assert"
    script = textwrap.dedent(
        """
        from domain.ledger import (
            AccountKey, Bucket, LedgerInvariantViolation, UnbalancedEntry, capture, release,
        )
        refused = 0
        for attempt in (
            lambda: capture("CNY", 15800, {2: 15000}),
            lambda: AccountKey("CNY", party_id=1, bucket=None),
            lambda: AccountKey("CNY"),
            lambda: release(2, "CNY", -1),
        ):
            try:
                attempt()
            except LedgerInvariantViolation:
                refused += 1
        try:
            capture("CNY", 1, {})
        except UnbalancedEntry:
            refused += 1
        print(refused)
        """
    )
    result = run_with_asserts_stripped(script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "5"
