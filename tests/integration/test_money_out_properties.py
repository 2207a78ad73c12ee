"""Property: whatever the payments, deliveries, releases, cycles and cut-offs, no money appears or disappears.

Hypothesis draws whole scenarios (settlement terms, then days of payments, confirmations, releases and runs at
random instants); each runs on the services with a clock of its own and parties of its own. After every
scenario, per party and currency:
- the allocations equal what is held, available and in reserve plus every payout of every statement;
- each statement's lines add up to its closing balance, and its opening is the previous statement's closing;
- the AVAILABLE balance is the last closing balance plus what reached AVAILABLE after it (not yet settled);
- the RESERVE balance is the reserves held and not yet released;
- at each statement's instant, the balances summed from the postings show its payouts in SETTLING and its
  reserves in RESERVE, as the statements up to it say;
- running release and settlement again at the same instant writes nothing; verifyLedger is clean.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from domain.ledger import Bucket
from domain.models import Allocation, Posting, Settlement, SettlementLine
from domain.parties import KycStatus, PartyKind
from domain.payments import LineItemInput
from domain.services import deliveries, ledger, parties, payments, releases, settlement_reads, settlement_runs
from domain.services.parties import MerchantDraft, PartnerDraft, SettlementProfileDraft
from domain.settlement import LineKind
from tests.conftest import operator_principal, payment_input, unique

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")

START = datetime(2027, 1, 25, 1, 0, tzinfo=UTC)
SCENARIOS = 12

terms = st.fixed_dictionaries(
    {
        "cycle": st.sampled_from(["DAILY", "WEEKLY", "MONTHLY"]),
        "weekday": st.integers(1, 7),
        "monthday": st.integers(1, 31),
        "delay_days": st.integers(0, 3),
        "minimum": st.sampled_from(["0", "100.00", "400.00"]),
        "hold_days": st.integers(0, 4),
        "reserve_bps": st.sampled_from([0, 0, 500, 2500]),
        "reserve_days": st.integers(1, 6),
    }
)
step = st.fixed_dictionaries(
    {
        "advance_hours": st.integers(1, 60),
        "sales": st.lists(
            st.tuples(st.integers(1, 30_000), st.integers(0, 2_000), st.integers(0, 600)), min_size=1, max_size=3
        ),  # goods and shipping in fen, minutes before now it was paid
        "confirm": st.none() | st.integers(0, 50),
        "release": st.sampled_from([True, True, False]),
        "settle": st.sampled_from([True, True, False]),
        "cutoff_back_hours": st.integers(0, 30),
    }
)
scenario = st.tuples(terms, terms, st.lists(step, min_size=6, max_size=14))


def _draw(count: int) -> list:
    drawn: list = []

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(scenario)
    def collect(example) -> None:
        drawn.append(example)

    collect()
    return drawn


def _profile(drawn: dict) -> SettlementProfileDraft:
    anchor = {"DAILY": 0, "WEEKLY": drawn["weekday"], "MONTHLY": drawn["monthday"]}[drawn["cycle"]]
    reserve = drawn["reserve_bps"]
    return SettlementProfileDraft(
        currency="CNY",
        cycle=drawn["cycle"],
        anchor_day=anchor,
        delay_days=drawn["delay_days"],
        minimum_payout=drawn["minimum"],
        hold_days=drawn["hold_days"],
        reserve_bps=reserve,
        reserve_days=drawn["reserve_days"] if reserve else 0,
    )


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@pytest.mark.parametrize("index", range(SCENARIOS))
async def test_no_money_appears_or_disappears_across_releases_and_settlement_runs(world, runtime, index):
    merchant_terms, courier_terms, steps = _draw(SCENARIOS)[index]
    operator = operator_principal(world.platform_id)
    merchant = await parties.create_merchant(
        operator,
        runtime,
        MerchantDraft(
            name=unique("Prop merchant"), kyc_status=KycStatus.VERIFIED, settlement_profile=_profile(merchant_terms)
        ),
    )
    courier = await parties.create_partner(
        operator,
        runtime,
        PartyKind.LOGISTICS,
        PartnerDraft(name=unique("Prop courier"), settlement_profile=_profile(courier_terms)),
    )
    ours = [merchant.id, courier.id]
    clock = START + timedelta(hours=index * 24 * 40)  # each scenario in its own stretch of time
    recorded: list[int] = []
    for drawn_step in steps:
        clock += timedelta(hours=drawn_step["advance_hours"])
        now = dataclasses.replace(runtime, clock=lambda moment=clock: moment)
        for goods, shipping, minutes_ago in drawn_step["sales"]:
            data = payment_input(
                merchant.id,
                logistics_partner_id=courier.id,
                paid_at=clock - timedelta(minutes=minutes_ago),
                line_items=[LineItemInput("tea-1", "tea", _yuan(goods), 1)],
                shipping_fee=_yuan(shipping),
                total_amount=_yuan(goods + shipping),
            )
            recorded.append((await payments.record_payment(operator, now, data)).payment.id)
        if drawn_step["confirm"] is not None and recorded:
            payment_id = recorded[drawn_step["confirm"] % len(recorded)]
            confirmed = await deliveries.confirm_delivery(operator, now, payment_id, clock)
            assert confirmed.delivery.payment_id == payment_id
        if drawn_step["release"]:
            await releases.release_held_funds(operator, now, clock, only_party_ids=ours)
        if drawn_step["settle"]:
            cutoff = clock - timedelta(hours=drawn_step["cutoff_back_hours"])
            await settlement_runs.run_settlement(operator, now, cutoff, only_party_ids=ours)

    # Again at the last instant: nothing more to write.
    now = dataclasses.replace(runtime, clock=lambda: clock)
    before = await Settlement.filter(party_id__in=ours).count()
    await releases.release_held_funds(operator, now, clock, only_party_ids=ours)
    await settlement_runs.run_settlement(operator, now, clock, only_party_ids=ours)
    released_again = await releases.release_held_funds(operator, now, clock, only_party_ids=ours)
    settled_again = await settlement_runs.run_settlement(operator, now, clock, only_party_ids=ours)
    assert released_again.shares_released == 0 and settled_again.statements_created == 0
    assert await Settlement.filter(party_id__in=ours).count() >= before

    for party_id in ours:
        await _check_party(operator, party_id)


async def _check_party(operator, party_id: int) -> None:
    held = {b.bucket: b.amount_minor for b in await ledger.balances(operator, party_id)}
    allocated = sum(await Allocation.filter(party_id=party_id).values_list("amount_minor", flat=True))
    statements = await Settlement.filter(party_id=party_id).order_by("period_date")
    paid_out = sum(s.payout_minor for s in statements)
    in_escrow = held.get(Bucket.PENDING, 0) + held.get(Bucket.AVAILABLE, 0) + held.get(Bucket.RESERVE, 0)
    assert allocated == in_escrow + paid_out
    assert held.get(Bucket.SETTLING, 0) == paid_out

    previous_closing = paid_so_far = reserved_so_far = 0
    for statement in statements:
        lines = await SettlementLine.filter(settlement_id=statement.id)
        assert statement.opening_minor == previous_closing
        assert sum(line.amount_minor for line in lines) == statement.closing_minor
        assert statement.payout_minor == -sum(line.amount_minor for line in lines if line.kind == LineKind.PAYOUT)
        previous_closing = statement.closing_minor
        # The ledger at the statement's instant agrees with the statements up to it.
        paid_so_far += statement.payout_minor
        reserved_so_far += statement.reserve_held_minor - statement.reserve_released_minor
        then = {
            b.bucket: b.amount_minor
            for b in await settlement_reads.balances_at(operator, party_id, statement.created_at)
        }
        assert then.get(Bucket.SETTLING, 0) == paid_so_far
        assert then.get(Bucket.RESERVE, 0) == reserved_so_far

    taken = set(
        await SettlementLine.filter(party_id=party_id).exclude(posting_id=None).values_list("posting_id", flat=True)
    )
    available = await Posting.filter(party_id=party_id, account__bucket=Bucket.AVAILABLE).values_list(
        "id", "amount_minor"
    )
    unsettled = -sum(amount for posting_id, amount in available if posting_id not in taken)
    assert held.get(Bucket.AVAILABLE, 0) == previous_closing + unsettled

    holds = await SettlementLine.filter(party_id=party_id, kind=LineKind.RESERVE_HELD).values_list("id", "amount_minor")
    returned = set(
        await SettlementLine.filter(party_id=party_id, kind=LineKind.RESERVE_RELEASED).values_list(
            "reserve_line_id", flat=True
        )
    )
    assert held.get(Bucket.RESERVE, 0) == -sum(amount for line_id, amount in holds if line_id not in returned)


async def test_the_scenarios_above_settled_paid_and_reserved_money(world):
    """Guards the property against passing vacuously: the drawn scenarios did write statements that paid out,
    held reserves and carried balances (this runs after them, in file order)."""
    statements = await Settlement.filter(party__name__startswith="Prop ").values_list(
        "payout_minor", "reserve_held_minor", "opening_minor"
    )
    assert len(statements) >= 10
    assert any(payout for payout, _, _ in statements)
    assert any(reserve for _, reserve, _ in statements)
    assert any(opening for _, _, opening in statements)
