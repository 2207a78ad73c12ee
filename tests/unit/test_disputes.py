"""Dispute arithmetic and ledger verbs: what is disputable, where a hold comes from and goes, that every entry
balances, that a share's escrow and its release stay equal whatever a dispute does, and the statement lines."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.disputes import (
    DisputeInvariantViolation,
    DisputeOutcome,
    Hold,
    LostDisputeBearer,
    bearer_for,
    check_disputable,
    disputable,
    escrow_held,
    hold_for,
    where_the_hold_goes,
)
from domain.errors import ErrorCode, InvalidInput
from domain.ledger import (
    Bucket,
    EntryKind,
    LedgerInvariantViolation,
    SystemAccount,
    hold_for_dispute,
    lose_dispute,
    party_account,
    release_dispute_hold,
    system_account,
)
from domain.settlement import LineKind, line_kind_for

FAST = settings(max_examples=200, deadline=None)
MERCHANT, COURIER, PLATFORM = 7, 8, 1
amounts = st.integers(min_value=1, max_value=10**9)


def test_what_is_disputable_is_the_total_less_refunds_and_other_open_or_lost_disputes():
    assert disputable(15800, 3000, 5000) == 7800
    check_disputable(7800, 7800, "CNY")
    with pytest.raises(InvalidInput) as refused:
        check_disputable(7801, 7800, "CNY")
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_AMOUNT, "amount")
    assert "78.01 CNY is more than the 78.00 CNY still disputable" in refused.value.message
    with pytest.raises(InvalidInput, match="nothing is left to dispute"):
        check_disputable(1, 0, "JPY")
    with pytest.raises(InvalidInput, match="more than zero"):
        check_disputable(0, 100, "CNY")
    with pytest.raises(DisputeInvariantViolation):
        disputable(100, 60, 50)  # stored rows that add up to more than the payment: broken data, not input


@given(amount=amounts, escrow=st.integers(min_value=0, max_value=10**9))
@FAST
def test_a_hold_takes_escrow_first_and_the_rest_from_available(amount, escrow):
    hold = hold_for(amount, escrow)
    assert hold.amount_minor == amount
    assert hold.from_escrow_minor == min(amount, escrow) and hold.from_available_minor >= 0


def test_escrow_held_is_what_the_share_still_holds_and_nothing_once_released():
    assert escrow_held(13500, 2000, 5000, released=False) == 6500
    assert escrow_held(13500, 2000, -1000, released=False) == 12500  # a shared loss lifted the release back
    assert escrow_held(13500, 13500, 0, released=False) == 0
    assert escrow_held(13500, 0, 0, released=True) == 0


@st.composite
def open_holds(draw):
    """A held share and a dispute that took part of its escrow: (share, reversed, withheld by others, hold,
    merchant's part of a refund of the disputed amount)."""
    share = draw(st.integers(min_value=0, max_value=10**6))
    reversed_ = draw(st.integers(min_value=0, max_value=share))
    others = draw(st.integers(min_value=-share, max_value=share - reversed_))
    held = escrow_held(share, reversed_, others, released=False)
    hold = hold_for(draw(st.integers(min_value=1, max_value=2 * 10**6)), held)
    merchant_part = draw(st.integers(min_value=0, max_value=min(hold.amount_minor, share - reversed_)))
    return share, reversed_, others, hold, merchant_part


@given(case=open_holds(), outcome=st.sampled_from(["WON", "MERCHANT_ONLY", "PROPORTIONAL"]))
@FAST
def test_whatever_a_dispute_does_the_shares_escrow_equals_what_its_release_will_release(case, outcome):
    """ESCROW_WITHHELD: escrow holds allocations - reversals - withheld, and the release releases exactly that."""
    share, reversed_, others, hold, merchant_part = case
    escrow_before = share - reversed_ - others - hold.from_escrow_minor
    if outcome == "WON":
        result, reversal = where_the_hold_goes(hold, share_released=False), 0
    elif outcome == "MERCHANT_ONLY":
        result, reversal = where_the_hold_goes(hold, share_released=False, lost_minor=hold.amount_minor), 0
    else:
        result = where_the_hold_goes(
            hold, share_released=False, lost_minor=merchant_part, merchant_reversed_minor=merchant_part
        )
        reversal = merchant_part
    escrow_after = escrow_before + result.to_escrow_minor
    withheld_after = others + hold.from_escrow_minor - result.escrow_cleared_minor
    assert escrow_after == share - (reversed_ + reversal) - withheld_after
    assert result.to_escrow_minor + result.to_available_minor + result.lost_minor == hold.amount_minor
    assert min(result.to_escrow_minor, result.to_available_minor, result.lost_minor) >= 0


def test_won_gives_the_hold_back_where_it_came_from():
    hold = Hold(from_escrow_minor=5000, from_available_minor=2000)
    held = where_the_hold_goes(hold, share_released=False)
    assert (held.to_escrow_minor, held.to_available_minor, held.lost_minor, held.escrow_cleared_minor) == (
        5000,
        2000,
        0,
        5000,
    )
    released = where_the_hold_goes(hold, share_released=True)
    assert (released.to_escrow_minor, released.to_available_minor, released.escrow_cleared_minor) == (0, 7000, 0)


def test_a_shared_loss_sends_back_to_escrow_what_the_hold_did_not_lose():
    hold = Hold(from_escrow_minor=3500, from_available_minor=2300)
    result = where_the_hold_goes(hold, share_released=False, lost_minor=4955, merchant_reversed_minor=4955)
    assert (result.to_escrow_minor, result.to_available_minor, result.escrow_cleared_minor) == (845, 0, 5800)


def test_a_loss_the_hold_cannot_cover_or_a_reversal_past_the_loss_is_a_bug():
    hold = Hold(from_escrow_minor=0, from_available_minor=100)
    with pytest.raises(DisputeInvariantViolation):
        where_the_hold_goes(hold, share_released=True, lost_minor=101)
    with pytest.raises(DisputeInvariantViolation):
        where_the_hold_goes(hold, share_released=True, lost_minor=10, merchant_reversed_minor=20)


def test_a_loss_is_shared_out_only_when_the_setting_says_so_and_all_of_it_is_still_refundable():
    assert bearer_for(LostDisputeBearer.PROPORTIONAL, 5000, 5000) is LostDisputeBearer.PROPORTIONAL
    assert bearer_for(LostDisputeBearer.PROPORTIONAL, 5001, 5000) is LostDisputeBearer.MERCHANT_ONLY
    assert bearer_for(LostDisputeBearer.MERCHANT_ONLY, 1, 5000) is LostDisputeBearer.MERCHANT_ONLY
    assert [outcome.value for outcome in DisputeOutcome] == ["WON", "LOST"]


# --- ledger verbs -------------------------------------------------------------------------------------------


def test_opening_a_dispute_moves_the_merchants_money_into_disputed():
    entry = hold_for_dispute(MERCHANT, "CNY", {Bucket.PENDING: 5000, Bucket.AVAILABLE: 2000}, payment_id=3)
    assert entry.kind is EntryKind.DISPUTE_OPENED and entry.payment_id == 3
    assert {(p.account.text, p.amount_minor) for p in entry.postings} == {
        (party_account(MERCHANT, "CNY", Bucket.PENDING).text, 5000),
        (party_account(MERCHANT, "CNY", Bucket.AVAILABLE).text, 2000),
        (party_account(MERCHANT, "CNY", Bucket.DISPUTED).text, -7000),
    }


def test_a_released_hold_goes_from_disputed_back_to_the_merchants_buckets():
    entry = release_dispute_hold(MERCHANT, "CNY", {Bucket.AVAILABLE: 7000})
    assert entry.kind is EntryKind.DISPUTE_RELEASED
    assert [(p.account.bucket, p.amount_minor) for p in entry.postings] == [
        (Bucket.DISPUTED, 7000),
        (Bucket.AVAILABLE, -7000),
    ]


def test_a_lost_dispute_leaves_through_psp_clearing_from_the_hold_and_the_other_parties():
    entry = lose_dispute("CNY", MERCHANT, 6750, {(COURIER, Bucket.PENDING): 400, (PLATFORM, Bucket.AVAILABLE): 750})
    assert entry.kind is EntryKind.DISPUTE_LOST
    assert {(p.account.text, p.amount_minor) for p in entry.postings} == {
        (party_account(MERCHANT, "CNY", Bucket.DISPUTED).text, 6750),
        (party_account(COURIER, "CNY", Bucket.PENDING).text, 400),
        (party_account(PLATFORM, "CNY", Bucket.AVAILABLE).text, 750),
        (system_account(SystemAccount.PSP_CLEARING, "CNY").text, -7900),
    }
    alone = lose_dispute("JPY", MERCHANT, 500)
    assert [p.amount_minor for p in alone.postings] == [500, -500]


@pytest.mark.parametrize(
    "build",
    [
        lambda: hold_for_dispute(MERCHANT, "CNY", {}),
        lambda: hold_for_dispute(MERCHANT, "CNY", {Bucket.AVAILABLE: 0}),
        lambda: hold_for_dispute(MERCHANT, "CNY", {Bucket.DISPUTED: 100}),
        lambda: release_dispute_hold(MERCHANT, "CNY", {Bucket.PENDING: -1}),
        lambda: lose_dispute("CNY", MERCHANT, 0),
        lambda: lose_dispute("CNY", MERCHANT, 10, {(COURIER, Bucket.DISPUTED): 5}),
        lambda: lose_dispute("CNY", MERCHANT, -10, {(COURIER, Bucket.PENDING): 20}),
    ],
)
def test_a_dispute_verb_refuses_what_cannot_be_a_movement(build):
    with pytest.raises(LedgerInvariantViolation):
        build()


@pytest.mark.parametrize(
    ("entry_kind", "line_kind"),
    [
        (EntryKind.DISPUTE_OPENED, LineKind.DISPUTE_HELD),
        (EntryKind.DISPUTE_RELEASED, LineKind.DISPUTE_RELEASED),
        (EntryKind.DISPUTE_LOST, LineKind.DISPUTE_LOST),
    ],
)
def test_what_a_dispute_moves_in_or_out_of_available_is_a_named_statement_line(entry_kind, line_kind):
    assert line_kind_for(entry_kind) is line_kind
    assert line_kind_for(entry_kind.value) is line_kind
