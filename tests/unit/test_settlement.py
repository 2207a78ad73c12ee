"""The settlement core and the ledger verbs for money going out: calendar, release, statements, payouts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.ledger import (
    MAX_MEMO_LENGTH,
    AccountKey,
    Bucket,
    EntryKind,
    JournalEntryDraft,
    LedgerInvariantViolation,
    SystemAccount,
    capture,
    confirm_payout,
    fail_payout,
    hold_reserve,
    net_by_account,
    party_account,
    release,
    release_reserve,
    send_payout,
    settle,
    system_account,
)
from domain.parties import KycStatus, PartyKind, RiskLevel, SettlementCycle
from domain.settlement import (
    BASIS_POINTS,
    RISK_HOLD_EXTENSION_DAYS,
    LineKind,
    ReleasePolicy,
    SettlementError,
    carried_forward_kind,
    compute_statement,
    cycle_day_in_month,
    line_kind_for,
    local_date,
    period_date,
    release_due_at,
    release_policy,
    release_thresholds,
    reserve_release_date,
    settled_through,
    start_of_day,
    window_end,
)

DAILY, WEEKLY, MONTHLY = SettlementCycle.DAILY, SettlementCycle.WEEKLY, SettlementCycle.MONTHLY
MONDAY, WEDNESDAY, SUNDAY = 1, 3, 7
MERCHANT, COURIER = 2, 3
UTC_ZONE = ZoneInfo("UTC")
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
weekly_anchors = st.integers(min_value=1, max_value=7)
monthly_anchors = st.integers(min_value=1, max_value=31)
# Zones whose clocks never change at midnight, so every local day has a midnight to start at.
zones = st.sampled_from([UTC_ZONE, SHANGHAI, NEW_YORK, BERLIN, ZoneInfo("Asia/Kolkata"), ZoneInfo("Pacific/Auckland")])
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC))
delays = st.integers(min_value=0, max_value=90)

positive_amounts = st.integers(min_value=1, max_value=10**15)
currencies = st.sampled_from(["CNY", "JPY", "KWD", "USD"])
party_ids = st.integers(min_value=1, max_value=10**9)

FAST = settings(max_examples=150, deadline=None)


def next_month(day: date) -> tuple[int, int]:
    return (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)


# --- calendar: which period a run settles -----------------------------------------------------------------


@given(on=days, anchor=monthly_anchors)
@FAST
def test_given_a_daily_party_when_a_run_settles_a_day_then_the_period_is_that_day(on, anchor):
    assert period_date(DAILY, anchor, on) == on


@pytest.mark.parametrize(
    ("on", "anchor", "expected"),
    [
        (date(2026, 4, 1), WEDNESDAY, date(2026, 4, 1)),  # a Wednesday: its own period
        (date(2026, 4, 2), WEDNESDAY, date(2026, 4, 1)),
        (date(2026, 4, 7), WEDNESDAY, date(2026, 4, 1)),  # the Tuesday after
        (date(2026, 4, 8), WEDNESDAY, date(2026, 4, 8)),
        (date(2026, 4, 5), MONDAY, date(2026, 3, 30)),  # a Sunday goes back to the Monday before
        (date(2026, 4, 6), MONDAY, date(2026, 4, 6)),
        (date(2026, 4, 4), SUNDAY, date(2026, 3, 29)),  # a Saturday goes back to the Sunday before
        (date(2026, 1, 2), SUNDAY, date(2025, 12, 28)),  # across a year end
    ],
)
def test_given_a_weekly_party_when_a_run_settles_a_day_then_the_period_is_the_latest_anchor_weekday(
    on, anchor, expected
):
    assert period_date(WEEKLY, anchor, on) == expected


@given(on=days, anchor=weekly_anchors)
@FAST
def test_given_any_day_and_weekday_when_settling_weekly_then_the_period_is_that_weekday_within_the_last_week(
    on, anchor
):
    period = period_date(WEEKLY, anchor, on)
    assert period.isoweekday() == anchor
    assert timedelta(0) <= on - period < timedelta(days=7)
    assert period_date(WEEKLY, anchor, period) == period


@pytest.mark.parametrize(
    ("year", "month", "anchor", "expected"),
    [
        (2026, 1, 31, date(2026, 1, 31)),
        (2024, 2, 29, date(2024, 2, 29)),  # leap year
        (2024, 2, 30, date(2024, 2, 29)),
        (2024, 2, 31, date(2024, 2, 29)),
        (2028, 2, 30, date(2028, 2, 29)),  # leap year
        (2025, 2, 29, date(2025, 2, 28)),  # not a leap year
        (2025, 2, 31, date(2025, 2, 28)),
        (2100, 2, 29, date(2100, 2, 28)),  # divisible by 100, not by 400: not a leap year
        (2000, 2, 30, date(2000, 2, 29)),  # divisible by 400: a leap year
        (2026, 4, 31, date(2026, 4, 30)),
        (2026, 6, 31, date(2026, 6, 30)),
        (2026, 6, 30, date(2026, 6, 30)),
        (2026, 9, 15, date(2026, 9, 15)),
    ],
)
def test_given_a_monthly_anchor_past_a_short_month_when_finding_its_day_then_it_falls_back_to_the_last_day(
    year, month, anchor, expected
):
    assert cycle_day_in_month(year, month, anchor) == expected


@pytest.mark.parametrize(
    ("on", "anchor", "expected"),
    [
        (date(2024, 2, 29), 31, date(2024, 2, 29)),  # the leap February's last day is the 31st's stand-in
        (date(2024, 2, 28), 31, date(2024, 1, 31)),
        (date(2024, 2, 29), 29, date(2024, 2, 29)),
        (date(2024, 3, 15), 30, date(2024, 2, 29)),
        (date(2028, 3, 1), 30, date(2028, 2, 29)),
        (date(2025, 2, 28), 29, date(2025, 2, 28)),
        (date(2025, 2, 27), 29, date(2025, 1, 29)),
        (date(2025, 3, 1), 29, date(2025, 2, 28)),
        (date(2025, 3, 30), 31, date(2025, 2, 28)),
        (date(2100, 2, 28), 30, date(2100, 2, 28)),
        (date(2100, 3, 28), 29, date(2100, 2, 28)),
        (date(2026, 4, 30), 31, date(2026, 4, 30)),
        (date(2026, 5, 15), 31, date(2026, 4, 30)),
        (date(2026, 6, 30), 31, date(2026, 6, 30)),
        (date(2026, 7, 30), 31, date(2026, 6, 30)),
        (date(2026, 1, 15), 31, date(2025, 12, 31)),  # across a year end
        (date(2026, 1, 15), 15, date(2026, 1, 15)),
        (date(2026, 1, 14), 1, date(2026, 1, 1)),
    ],
)
def test_given_a_monthly_party_when_a_run_settles_a_day_then_the_period_is_the_latest_cycle_day_on_or_before(
    on, anchor, expected
):
    assert period_date(MONTHLY, anchor, on) == expected


@given(on=days, anchor=monthly_anchors)
@FAST
def test_given_any_day_and_monthly_anchor_when_settling_then_the_period_is_the_latest_cycle_day_within_a_month(
    on, anchor
):
    period = period_date(MONTHLY, anchor, on)
    assert timedelta(0) <= on - period < timedelta(days=31)
    assert period == cycle_day_in_month(period.year, period.month, anchor), "the period is a cycle day"
    assert cycle_day_in_month(*next_month(period), anchor) > on, "no later cycle day is on or before the day"
    assert period_date(MONTHLY, anchor, period) == period


@given(on=days, cycle=st.sampled_from(list(SettlementCycle)), anchor=weekly_anchors)
@FAST
def test_given_any_cycle_when_a_period_is_settled_again_then_it_is_its_own_period(on, cycle, anchor):
    period = period_date(cycle, anchor, on)
    assert period <= on
    assert period_date(cycle, anchor, period) == period


@pytest.mark.parametrize(("cycle", "anchor"), [(WEEKLY, 0), (WEEKLY, 8), (MONTHLY, 0), (MONTHLY, 32)])
def test_given_an_anchor_outside_its_cycle_when_finding_the_period_then_it_is_refused(cycle, anchor):
    with pytest.raises(SettlementError, match="anchor"):
        period_date(cycle, anchor, date(2026, 4, 1))


# --- calendar: T+N, local days and cut-offs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "delay_days", "expected"),
    [
        (date(2026, 4, 1), 0, date(2026, 4, 1)),
        (date(2026, 1, 1), 1, date(2025, 12, 31)),  # across a year end
        (date(2024, 3, 1), 1, date(2024, 2, 29)),  # into a leap day
        (date(2025, 3, 1), 1, date(2025, 2, 28)),
        (date(2026, 3, 2), 3, date(2026, 2, 27)),
        (date(2026, 5, 1), 31, date(2026, 3, 31)),
    ],
)
def test_given_a_period_and_t_plus_n_when_finding_the_last_day_taken_then_it_is_n_calendar_days_earlier(
    period, delay_days, expected
):
    assert settled_through(period, delay_days) == expected


def test_given_a_negative_delay_when_finding_the_last_day_taken_then_it_is_refused():
    with pytest.raises(SettlementError):
        settled_through(date(2026, 4, 1), -1)


@pytest.mark.parametrize(
    ("period", "reserve_days", "expected"),
    [
        (date(2026, 4, 1), 0, date(2026, 4, 1)),
        (date(2025, 12, 20), 30, date(2026, 1, 19)),
        (date(2024, 2, 1), 28, date(2024, 2, 29)),
        (date(2026, 1, 31), 90, date(2026, 5, 1)),
    ],
)
def test_given_a_held_reserve_when_finding_its_release_day_then_it_is_the_period_plus_its_days(
    period, reserve_days, expected
):
    assert reserve_release_date(period, reserve_days) == expected


def test_given_a_cutoff_instant_when_taking_its_local_day_then_the_settlement_zone_decides():
    cutoff = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)
    assert local_date(cutoff, SHANGHAI) == date(2026, 4, 1)
    assert local_date(cutoff, UTC_ZONE) == date(2026, 3, 31)
    assert local_date(cutoff, NEW_YORK) == date(2026, 3, 31)


def test_given_a_naive_instant_when_taking_its_local_day_then_it_is_refused():
    with pytest.raises(SettlementError, match="time zone"):
        local_date(datetime(2026, 3, 31, 16, 30), SHANGHAI)


def test_given_a_local_day_when_finding_its_start_then_it_is_local_midnight_in_utc():
    assert start_of_day(date(2026, 4, 1), SHANGHAI) == datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
    assert start_of_day(date(2026, 4, 1), UTC_ZONE) == datetime(2026, 4, 1, tzinfo=UTC)
    assert start_of_day(date(2026, 4, 1), UTC_ZONE).tzinfo is UTC


@pytest.mark.parametrize(
    ("zone", "day", "starts_at", "hours_long"),
    [
        (NEW_YORK, date(2026, 3, 8), datetime(2026, 3, 8, 5, 0, tzinfo=UTC), 23),  # clocks go forward
        (NEW_YORK, date(2026, 11, 1), datetime(2026, 11, 1, 4, 0, tzinfo=UTC), 25),  # clocks go back
        (BERLIN, date(2026, 3, 29), datetime(2026, 3, 28, 23, 0, tzinfo=UTC), 23),
        (BERLIN, date(2026, 10, 25), datetime(2026, 10, 24, 22, 0, tzinfo=UTC), 25),
    ],
)
def test_given_a_daylight_saving_change_day_when_finding_its_start_then_it_is_still_local_midnight(
    zone, day, starts_at, hours_long
):
    start = start_of_day(day, zone)
    assert start == starts_at
    assert start.astimezone(zone).replace(tzinfo=None) == datetime.combine(day, time(0))
    assert start_of_day(day + timedelta(days=1), zone) - start == timedelta(hours=hours_long)


@given(day=days, zone=zones)
@FAST
def test_given_any_day_and_zone_when_finding_its_start_then_the_instant_before_is_the_day_before(day, zone):
    start = start_of_day(day, zone)
    assert start.astimezone(zone).replace(tzinfo=None) == datetime.combine(day, time(0))
    assert local_date(start, zone) == day
    assert local_date(start - MICROSECOND, zone) == day - timedelta(days=1)


def test_given_a_cutoff_in_shanghai_when_ending_the_t_plus_1_window_then_it_ends_at_the_local_day_end():
    cutoff = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)  # 00:30 on 2026-04-01 in Shanghai
    period = period_date(DAILY, 1, local_date(cutoff, SHANGHAI))
    assert period == date(2026, 4, 1)
    assert window_end(period, 1, SHANGHAI, cutoff) == datetime(2026, 3, 31, 16, 0, tzinfo=UTC)


def taken(posted_at: datetime, end: datetime) -> bool:
    """A statement takes the postings made before its window's end (the end itself is exclusive)."""
    return posted_at < end


def test_given_a_t_plus_0_window_that_would_end_after_the_cutoff_when_ending_it_then_nothing_after_the_cutoff_is_in():
    cutoff = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)
    period = local_date(cutoff, UTC_ZONE)
    for zone in (UTC_ZONE, SHANGHAI):
        end = window_end(period, 0, zone, cutoff)
        assert taken(cutoff - MICROSECOND, end) is (zone is UTC_ZONE)  # in Shanghai 2026-03-31 ended at 16:00Z
        assert not taken(cutoff + MICROSECOND, end)
    assert window_end(period, 0, SHANGHAI, cutoff) == cutoff - timedelta(minutes=30)


@given(period=days, delay_days=delays, zone=zones, cutoff=instants)
@FAST
def test_given_any_period_and_cutoff_when_ending_the_window_then_it_takes_the_t_plus_n_days_up_to_the_cutoff(
    period, delay_days, zone, cutoff
):
    end = window_end(period, delay_days, zone, cutoff)
    last_day = settled_through(period, delay_days)
    day_end = start_of_day(last_day + timedelta(days=1), zone)
    # nothing after the cut-off or after the T+N day; everything before both
    assert not taken(cutoff + MICROSECOND, end)
    assert not taken(day_end, end)
    assert taken(min(day_end, cutoff) - MICROSECOND, end)
    if day_end <= cutoff:
        assert end == day_end
    assert local_date(day_end - MICROSECOND, zone) == last_day
    assert local_date(day_end, zone) == last_day + timedelta(days=1)


# --- release ----------------------------------------------------------------------------------------------


def test_given_a_verified_low_risk_merchant_when_delivery_is_confirmed_before_the_hold_ends_then_it_releases_then():
    policy = release_policy(PartyKind.MERCHANT, 7, KycStatus.VERIFIED, RiskLevel.LOW)
    assert release_due_at(T0, T0 + timedelta(days=2), policy) == T0 + timedelta(days=2)
    assert release_due_at(T0, T0 + timedelta(days=10), policy) == T0 + timedelta(days=7)
    assert release_due_at(T0, None, policy) == T0 + timedelta(days=7)


@pytest.mark.parametrize(("risk_level", "extra_days"), [(RiskLevel.MEDIUM, 2), (RiskLevel.HIGH, 7), (None, 0)])
def test_given_a_risky_merchant_when_either_trigger_fires_then_it_waits_its_extension_longer(risk_level, extra_days):
    policy = release_policy(PartyKind.MERCHANT, 7, KycStatus.VERIFIED, risk_level)
    assert policy.extension_days == extra_days
    confirmed_early, confirmed_late = T0 + timedelta(days=2), T0 + timedelta(days=10)
    assert release_due_at(T0, confirmed_early, policy) == confirmed_early + timedelta(days=extra_days)
    assert release_due_at(T0, confirmed_late, policy) == T0 + timedelta(days=7 + extra_days)
    assert release_due_at(T0, None, policy) == T0 + timedelta(days=7 + extra_days)


@pytest.mark.parametrize("kyc_status", [KycStatus.PENDING, KycStatus.REJECTED, KycStatus.SUSPENDED, None])
def test_given_a_merchant_whose_kyc_is_not_verified_when_asking_when_it_releases_then_never(kyc_status):
    policy = release_policy(PartyKind.MERCHANT, 7, kyc_status, RiskLevel.LOW)
    assert not policy.releasable
    assert release_due_at(T0, T0 + timedelta(days=1), policy) is None
    assert release_due_at(T0, None, policy) is None
    assert release_thresholds(policy, T0 + timedelta(days=365)) is None


@pytest.mark.parametrize("kind", [PartyKind.PLATFORM, PartyKind.LOGISTICS, PartyKind.SUPPLIER])
@pytest.mark.parametrize("kyc_status", [None, *KycStatus])
def test_given_a_party_that_is_not_a_merchant_when_building_its_policy_then_it_has_no_extension_and_releases(
    kind, kyc_status
):
    policy = release_policy(kind, 3, kyc_status, RiskLevel.HIGH)
    assert policy == ReleasePolicy(hold_days=3, extension_days=0, releasable=True)
    assert release_due_at(T0, None, policy) == T0 + timedelta(days=3)


def test_given_the_risk_table_when_reading_it_then_every_risk_level_has_an_extension():
    assert set(RISK_HOLD_EXTENSION_DAYS) == set(RiskLevel)
    assert all(days >= 0 for days in RISK_HOLD_EXTENSION_DAYS.values())


policies = st.one_of(
    st.builds(
        ReleasePolicy,
        hold_days=st.integers(min_value=0, max_value=180),
        extension_days=st.integers(min_value=0, max_value=14),
        releasable=st.booleans(),
    ),
    st.builds(
        release_policy,
        st.sampled_from(list(PartyKind)),
        st.integers(min_value=0, max_value=180),
        st.none() | st.sampled_from(list(KycStatus)),
        st.none() | st.sampled_from(list(RiskLevel)),
    ),
)


def is_due_by_thresholds(paid_at: datetime, confirmed_at: datetime | None, policy: ReleasePolicy, as_of: datetime):
    thresholds = release_thresholds(policy, as_of)
    if thresholds is None:
        return None
    return paid_at <= thresholds.paid_by or (confirmed_at is not None and confirmed_at <= thresholds.confirmed_by)


@given(paid_at=instants, confirmed_at=st.none() | instants, policy=policies, as_of=instants)
@settings(max_examples=300, deadline=None)
def test_given_any_share_when_the_database_compares_thresholds_then_it_agrees_with_the_release_time(
    paid_at, confirmed_at, policy, as_of
):
    due_at = release_due_at(paid_at, confirmed_at, policy)
    due_by_thresholds = is_due_by_thresholds(paid_at, confirmed_at, policy, as_of)
    if due_at is None:
        assert due_by_thresholds is None
    else:
        assert due_by_thresholds is (due_at <= as_of)


@given(paid_at=instants, confirmed_at=st.none() | instants, policy=policies)
@FAST
def test_given_any_share_when_asked_at_its_release_instant_then_it_is_due_and_a_microsecond_before_it_is_not(
    paid_at, confirmed_at, policy
):
    due_at = release_due_at(paid_at, confirmed_at, policy)
    if due_at is None:
        assert not policy.releasable
        return
    assert due_at <= paid_at + timedelta(days=policy.hold_days + policy.extension_days)
    assert is_due_by_thresholds(paid_at, confirmed_at, policy, due_at) is True
    assert is_due_by_thresholds(paid_at, confirmed_at, policy, due_at - MICROSECOND) is False


# --- statement lines --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry_kind", "line_kind"),
    [
        (EntryKind.RELEASE, LineKind.RELEASE),
        (EntryKind.REVERSAL, LineKind.ADJUSTMENT),
        (EntryKind.PAYOUT_FAILED, LineKind.PAYOUT_RETURNED),
        (EntryKind.RESERVE_HELD, LineKind.RESERVE_HELD),
        (EntryKind.RESERVE_RELEASED, LineKind.RESERVE_RELEASED),
    ],
)
def test_given_an_entry_that_moved_available_money_when_it_becomes_a_line_then_its_kind_is_named(entry_kind, line_kind):
    assert line_kind_for(entry_kind) is line_kind
    assert line_kind_for(entry_kind.value) is line_kind, "kinds read back from rows are plain strings"


@pytest.mark.parametrize("entry_kind", [EntryKind.CAPTURE, EntryKind.PAYOUT_SENT, EntryKind.PAYOUT_PAID])
def test_given_an_entry_kind_the_table_does_not_name_when_it_becomes_a_line_then_it_is_an_adjustment(entry_kind):
    assert line_kind_for(entry_kind) is LineKind.ADJUSTMENT
    assert line_kind_for(entry_kind.value) is LineKind.ADJUSTMENT


@pytest.mark.parametrize("entry_kind", list(EntryKind))
def test_given_any_entry_kind_now_or_to_come_when_it_becomes_a_line_then_it_has_a_line_kind(entry_kind):
    assert isinstance(line_kind_for(entry_kind), LineKind)


def test_given_a_kind_the_ledger_has_never_heard_of_when_it_becomes_a_line_then_it_is_refused_not_guessed():
    with pytest.raises(ValueError, match="refund_issued"):
        line_kind_for("refund_issued")


@given(opening=st.integers(min_value=-(10**15), max_value=10**15))
@FAST
def test_given_an_opening_balance_when_carrying_it_forward_then_a_negative_one_is_a_debt(opening):
    expected = LineKind.DEBT_CARRIED_FORWARD if opening < 0 else LineKind.BALANCE_CARRIED_FORWARD
    assert carried_forward_kind(opening) is expected


def test_given_the_edges_of_a_balance_when_carrying_it_forward_then_zero_is_a_balance():
    assert carried_forward_kind(-1) is LineKind.DEBT_CARRIED_FORWARD
    assert carried_forward_kind(0) is LineKind.BALANCE_CARRIED_FORWARD
    assert carried_forward_kind(1) is LineKind.BALANCE_CARRIED_FORWARD


# --- statements: worked examples --------------------------------------------------------------------------


def statement(opening=0, reserve_due=0, bps=0, minimum=0, **movements_by_name):
    return compute_statement(
        opening_minor=opening,
        movements_by_kind={LineKind[name]: amount for name, amount in movements_by_name.items()},
        reserve_due_minor=reserve_due,
        reserve_bps=bps,
        minimum_payout_minor=minimum,
    )


def test_given_releases_and_a_ten_percent_reserve_when_stating_then_the_rest_is_paid_out():
    figures = statement(RELEASE=10_000, bps=1_000, minimum=5_000)
    assert (figures.released_minor, figures.reserve_held_minor) == (10_000, 1_000)
    assert (figures.net_minor, figures.payout_minor, figures.closing_minor) == (9_000, 9_000, 0)


def test_given_a_reserve_that_is_not_a_whole_minor_unit_when_stating_then_it_is_rounded_down():
    assert statement(RELEASE=999, bps=1_000).reserve_held_minor == 99
    assert statement(RELEASE=1, bps=9_999).reserve_held_minor == 0
    assert statement(RELEASE=1, bps=BASIS_POINTS).reserve_held_minor == 1


def test_given_a_refund_after_release_when_stating_then_only_releases_are_the_reserve_base():
    figures = statement(RELEASE=10_000, REFUND_REVERSAL=-4_000, PAYOUT_RETURNED=500, ADJUSTMENT=-100, bps=1_000)
    assert (figures.movements_minor, figures.released_minor, figures.reserve_held_minor) == (6_400, 10_000, 1_000)
    assert figures.payout_minor == 5_400


def test_given_a_net_below_the_minimum_when_stating_then_it_is_carried_forward():
    figures = statement(opening=1_000, RELEASE=3_000, minimum=5_000)
    assert (figures.net_minor, figures.payout_minor, figures.closing_minor) == (4_000, 0, 4_000)
    assert carried_forward_kind(figures.closing_minor) is LineKind.BALANCE_CARRIED_FORWARD
    assert statement(opening=figures.closing_minor, RELEASE=1_000, minimum=5_000).payout_minor == 5_000


def test_given_a_debt_larger_than_the_releases_when_stating_then_nothing_is_paid_or_held():
    figures = statement(opening=-5_000, RELEASE=3_000, bps=5_000)
    assert (figures.reserve_held_minor, figures.payout_minor, figures.closing_minor) == (0, 0, -2_000)
    assert carried_forward_kind(figures.closing_minor) is LineKind.DEBT_CARRIED_FORWARD


def test_given_a_debt_that_leaves_less_than_the_reserve_when_stating_then_the_reserve_takes_only_what_is_there():
    figures = statement(opening=-9_000, RELEASE=10_000, bps=5_000)
    assert (figures.reserve_held_minor, figures.net_minor, figures.payout_minor) == (1_000, 0, 0)


def test_given_only_a_reserve_falling_due_when_stating_then_it_is_paid_out():
    figures = statement(reserve_due=500, minimum=100)
    assert (figures.reserve_released_minor, figures.payout_minor, figures.closing_minor) == (500, 500, 0)


def test_given_nothing_at_all_and_no_minimum_when_stating_then_nothing_is_paid():
    figures = statement()
    assert (figures.net_minor, figures.payout_minor, figures.closing_minor) == (0, 0, 0)


@pytest.mark.parametrize(
    "arguments",
    [dict(bps=-1), dict(bps=BASIS_POINTS + 1), dict(reserve_due=-1), dict(minimum=-1)],
)
def test_given_a_rate_reserve_or_minimum_out_of_range_when_stating_then_it_is_refused(arguments):
    with pytest.raises(SettlementError):
        statement(RELEASE=1_000, **arguments)


# --- statements: properties -------------------------------------------------------------------------------

money = 10**12
movements = st.fixed_dictionaries(
    {},
    optional={
        LineKind.RELEASE: st.integers(min_value=0, max_value=money),
        LineKind.REFUND_REVERSAL: st.integers(min_value=-money, max_value=0),
        LineKind.PAYOUT_RETURNED: st.integers(min_value=0, max_value=money),
        LineKind.ADJUSTMENT: st.integers(min_value=-money, max_value=money),
    },
)
openings = st.integers(min_value=-money, max_value=money)
reserves_due = st.integers(min_value=0, max_value=money) | st.just(0)
rates_bps = st.integers(min_value=0, max_value=BASIS_POINTS) | st.sampled_from([0, 1, 9_999, BASIS_POINTS])
minimums = st.integers(min_value=0, max_value=money) | st.sampled_from([0, 1, 100, 5_000])


@given(opening=openings, by_kind=movements, reserve_due=reserves_due, bps=rates_bps, minimum=minimums)
@settings(max_examples=400, deadline=None)
def test_given_any_statement_when_computed_then_its_figures_add_up_and_respect_the_rules(
    opening, by_kind, reserve_due, bps, minimum
):
    figures = compute_statement(
        opening_minor=opening,
        movements_by_kind=by_kind,
        reserve_due_minor=reserve_due,
        reserve_bps=bps,
        minimum_payout_minor=minimum,
    )
    moved = sum(by_kind.values())
    released = by_kind.get(LineKind.RELEASE, 0)
    there = opening + moved + reserve_due

    assert (figures.opening_minor, figures.movements_minor, figures.released_minor) == (opening, moved, released)
    assert figures.reserve_released_minor == reserve_due
    assert figures.closing_minor == (
        opening + moved + figures.reserve_released_minor - figures.reserve_held_minor - figures.payout_minor
    )
    # the payout: nothing, or the whole net once it reaches the minimum
    assert figures.payout_minor == 0 or (figures.payout_minor > 0 and figures.payout_minor >= minimum)
    if figures.payout_minor:
        assert figures.closing_minor == 0
    if figures.net_minor > 0 and figures.net_minor >= minimum:
        assert figures.payout_minor == figures.net_minor
    # the reserve: at most its rate of releases, rounded down, and never more than what is there
    assert 0 <= figures.reserve_held_minor <= released * bps // BASIS_POINTS
    assert figures.reserve_held_minor <= max(0, there)
    if there >= released * bps // BASIS_POINTS:
        assert figures.reserve_held_minor == released * bps // BASIS_POINTS
    # a debt is never paid out and holds no reserve
    if there <= 0:
        assert (figures.payout_minor, figures.reserve_held_minor, figures.closing_minor) == (0, 0, there)
    # the same inputs, in any order, give the same statement
    again = compute_statement(
        opening_minor=opening,
        movements_by_kind=dict(reversed(list(by_kind.items()))),
        reserve_due_minor=reserve_due,
        reserve_bps=bps,
        minimum_payout_minor=minimum,
    )
    assert again == figures


@st.composite
def statement_runs(draw):
    """A party's successive statements: what moved, its reserve rate and minimum, and how many statements later
    each period's reserve comes back."""
    count = draw(st.integers(min_value=1, max_value=8))
    return [
        (draw(movements), draw(rates_bps), draw(minimums), draw(st.integers(min_value=1, max_value=3)))
        for _ in range(count)
    ]


@given(runs=statement_runs())
@settings(max_examples=200, deadline=None)
def test_given_a_sequence_of_statements_when_each_closing_opens_the_next_then_no_money_appears_or_disappears(runs):
    opening, paid_out, moved = 0, 0, 0
    reserves: list[tuple[int, int]] = []  # (the statement it comes back in, amount)
    for index, (by_kind, bps, minimum, reserve_statements) in enumerate(runs):
        due = sum(amount for back_in, amount in reserves if back_in <= index)
        reserves = [(back_in, amount) for back_in, amount in reserves if back_in > index]
        figures = compute_statement(
            opening_minor=opening,
            movements_by_kind=by_kind,
            reserve_due_minor=due,
            reserve_bps=bps,
            minimum_payout_minor=minimum,
        )
        if figures.reserve_held_minor:
            reserves.append((index + reserve_statements, figures.reserve_held_minor))
        paid_out += figures.payout_minor
        moved += sum(by_kind.values())
        opening = figures.closing_minor
    still_held = sum(amount for _, amount in reserves)
    assert paid_out + opening + still_held == moved


# --- ledger verbs for reserves and payouts ----------------------------------------------------------------


def postings_of(entry: JournalEntryDraft) -> list[tuple[str, int]]:
    return [(posting.account.text, posting.amount_minor) for posting in entry.postings]


def held_by_account(entries: list[JournalEntryDraft]) -> dict[AccountKey, int]:
    """What each account holds after the entries: owed money is a credit, PSP clearing a debit."""
    return {account: account.held_minor(total) for account, total in net_by_account(entries).items()}


def available(party_id: int = MERCHANT, currency: str = "CNY") -> AccountKey:
    return party_account(party_id, currency, Bucket.AVAILABLE)


def settling(party_id: int = MERCHANT, currency: str = "CNY") -> AccountKey:
    return party_account(party_id, currency, Bucket.SETTLING)


def reserve(party_id: int = MERCHANT, currency: str = "CNY") -> AccountKey:
    return party_account(party_id, currency, Bucket.RESERVE)


def in_transit(currency: str = "CNY") -> AccountKey:
    return system_account(SystemAccount.PAYOUTS_IN_TRANSIT, currency)


def clearing(currency: str = "CNY") -> AccountKey:
    return system_account(SystemAccount.PSP_CLEARING, currency)


def test_given_a_reserve_to_hold_when_holding_it_then_it_moves_from_available_to_reserve():
    entry = hold_reserve(MERCHANT, "CNY", 300, memo="statement 2026-04-01")
    assert entry.kind is EntryKind.RESERVE_HELD and entry.memo == "statement 2026-04-01"
    assert entry.payment_id is None
    assert postings_of(entry) == [("party:2:CNY:AVAILABLE", 300), ("party:2:CNY:RESERVE", -300)]
    assert line_kind_for(entry.kind) is LineKind.RESERVE_HELD


def test_given_a_reserve_whose_days_are_over_when_releasing_it_then_it_moves_from_reserve_to_available():
    entry = release_reserve(MERCHANT, "CNY", 300)
    assert entry.kind is EntryKind.RESERVE_RELEASED
    assert postings_of(entry) == [("party:2:CNY:RESERVE", 300), ("party:2:CNY:AVAILABLE", -300)]
    assert line_kind_for(entry.kind) is LineKind.RESERVE_RELEASED


def test_given_a_settled_payout_when_sending_it_then_settling_goes_down_and_the_transfer_is_in_transit():
    entry = send_payout(MERCHANT, "CNY", 9_000)
    assert entry.kind is EntryKind.PAYOUT_SENT
    assert postings_of(entry) == [("party:2:CNY:SETTLING", 9_000), ("system:PAYOUTS_IN_TRANSIT:CNY", -9_000)]


def test_given_a_payout_in_transit_when_the_bank_confirms_it_then_it_leaves_psp_clearing():
    entry = confirm_payout("CNY", 9_000)
    assert entry.kind is EntryKind.PAYOUT_PAID
    assert postings_of(entry) == [("system:PAYOUTS_IN_TRANSIT:CNY", 9_000), ("system:PSP_CLEARING:CNY", -9_000)]


def test_given_a_sent_payout_when_it_fails_then_its_money_comes_back_from_transit_to_available():
    entry = fail_payout(MERCHANT, "CNY", 9_000, was_sent=True)
    assert entry.kind is EntryKind.PAYOUT_FAILED
    assert postings_of(entry) == [("system:PAYOUTS_IN_TRANSIT:CNY", 9_000), ("party:2:CNY:AVAILABLE", -9_000)]
    assert line_kind_for(entry.kind) is LineKind.PAYOUT_RETURNED


def test_given_an_unsent_payout_when_it_fails_then_its_money_comes_back_from_settling_to_available():
    entry = fail_payout(MERCHANT, "CNY", 9_000, was_sent=False)
    assert postings_of(entry) == [("party:2:CNY:SETTLING", 9_000), ("party:2:CNY:AVAILABLE", -9_000)]


VERBS = {
    "hold_reserve": lambda amount, **memo: hold_reserve(MERCHANT, "CNY", amount, **memo),
    "release_reserve": lambda amount, **memo: release_reserve(MERCHANT, "CNY", amount, **memo),
    "send_payout": lambda amount, **memo: send_payout(MERCHANT, "CNY", amount, **memo),
    "confirm_payout": lambda amount, **memo: confirm_payout("CNY", amount, **memo),
    "fail_sent_payout": lambda amount, **memo: fail_payout(MERCHANT, "CNY", amount, was_sent=True, **memo),
    "fail_unsent_payout": lambda amount, **memo: fail_payout(MERCHANT, "CNY", amount, was_sent=False, **memo),
}


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("amount", [0, -1, -9_000, 1.5, 100.0, True, "100", Decimal("100"), None])
def test_given_an_amount_that_is_not_a_positive_integer_when_moving_money_then_it_is_refused(verb, amount):
    with pytest.raises(LedgerInvariantViolation, match="positive amount"):
        VERBS[verb](amount)


@pytest.mark.parametrize("verb", VERBS)
def test_given_a_memo_too_long_for_its_column_when_moving_money_then_it_is_refused(verb):
    assert VERBS[verb](1, memo="x" * MAX_MEMO_LENGTH).memo == "x" * MAX_MEMO_LENGTH
    with pytest.raises(LedgerInvariantViolation, match="memo"):
        VERBS[verb](1, memo="x" * (MAX_MEMO_LENGTH + 1))


verb_entries = st.one_of(
    st.builds(hold_reserve, party_ids, currencies, positive_amounts),
    st.builds(release_reserve, party_ids, currencies, positive_amounts),
    st.builds(send_payout, party_ids, currencies, positive_amounts),
    st.builds(confirm_payout, currencies, positive_amounts),
    st.builds(fail_payout, party_ids, currencies, positive_amounts, was_sent=st.booleans()),
)


@given(entry=verb_entries)
@FAST
def test_given_any_reserve_or_payout_entry_when_built_then_it_balances_in_its_one_currency(entry):
    assert len(entry.postings) == 2
    assert sum(posting.amount_minor for posting in entry.postings) == 0
    assert len({posting.account.currency for posting in entry.postings}) == 1
    assert entry.postings[0].amount_minor > 0, "the source is debited first"


@given(party_id=party_ids, currency=currencies, amount=positive_amounts)
@FAST
def test_given_a_sent_payout_when_the_bank_confirms_it_then_settling_and_clearing_go_down_and_transit_is_empty(
    party_id, currency, amount
):
    held = held_by_account([send_payout(party_id, currency, amount), confirm_payout(currency, amount)])
    assert held == {settling(party_id, currency): -amount, in_transit(currency): 0, clearing(currency): -amount}


@given(party_id=party_ids, currency=currencies, amount=positive_amounts)
@FAST
def test_given_a_sent_payout_when_it_fails_then_the_party_has_it_available_again_and_transit_is_empty(
    party_id, currency, amount
):
    entries = [
        settle(party_id, currency, amount),
        send_payout(party_id, currency, amount),
        fail_payout(party_id, currency, amount, was_sent=True),
    ]
    held = held_by_account(entries)
    assert held == {available(party_id, currency): 0, settling(party_id, currency): 0, in_transit(currency): 0}


@given(party_id=party_ids, currency=currencies, amount=positive_amounts)
@FAST
def test_given_an_unsent_payout_when_it_fails_then_the_party_has_it_available_again(party_id, currency, amount):
    entries = [settle(party_id, currency, amount), fail_payout(party_id, currency, amount, was_sent=False)]
    held = held_by_account(entries)
    assert held == {available(party_id, currency): 0, settling(party_id, currency): 0}


@given(party_id=party_ids, currency=currencies, amount=positive_amounts)
@FAST
def test_given_a_held_reserve_when_its_days_are_over_then_the_party_has_it_available_again(party_id, currency, amount):
    held = held_by_account([hold_reserve(party_id, currency, amount), release_reserve(party_id, currency, amount)])
    assert held == {available(party_id, currency): 0, reserve(party_id, currency): 0}


@given(
    released=st.integers(min_value=1, max_value=10**12),
    old_reserve=st.integers(min_value=0, max_value=10**12),
    bps=rates_bps,
    minimum=minimums,
)
@FAST
def test_given_a_statement_when_its_ledger_entries_are_posted_then_available_holds_its_closing_balance(
    released, old_reserve, bps, minimum
):
    # before: the buyer's money captured, an earlier period's reserve already held
    entries = [capture("CNY", released + old_reserve, {MERCHANT: released + old_reserve})]
    if old_reserve:
        entries += [release(MERCHANT, "CNY", old_reserve), hold_reserve(MERCHANT, "CNY", old_reserve)]
    figures = compute_statement(
        opening_minor=0,
        movements_by_kind={LineKind.RELEASE: released},
        reserve_due_minor=old_reserve,
        reserve_bps=bps,
        minimum_payout_minor=minimum,
    )
    # the statement: the period's releases, the reserve that falls due, the new reserve, the payout sent and paid
    entries.append(release(MERCHANT, "CNY", released))
    if old_reserve:
        entries.append(release_reserve(MERCHANT, "CNY", old_reserve))
    if figures.reserve_held_minor:
        entries.append(hold_reserve(MERCHANT, "CNY", figures.reserve_held_minor))
    if payout := figures.payout_minor:
        entries += [settle(MERCHANT, "CNY", payout), send_payout(MERCHANT, "CNY", payout)]
        entries.append(confirm_payout("CNY", payout))

    held = held_by_account(entries)
    assert held[available()] == figures.closing_minor
    assert held.get(reserve(), 0) == figures.reserve_held_minor
    assert held.get(settling(), 0) == 0 and held.get(in_transit(), 0) == 0
    assert held[party_account(MERCHANT, "CNY", Bucket.PENDING)] == 0
    assert held[clearing()] == released + old_reserve - payout
    assert held[clearing()] == held[available()] + held.get(reserve(), 0), "clearing still covers what is owed"


def test_given_a_payout_in_another_currency_when_confirmed_then_only_that_currency_moves():
    held = held_by_account([send_payout(COURIER, "JPY", 500), confirm_payout("JPY", 500)])
    assert {account.currency for account in held} == {"JPY"}
