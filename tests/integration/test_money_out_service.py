"""Release and settlement through the services: delivery confirmation, hold expiry, statements, reserves, debt.

Each test makes its own parties and runs release and settlement for them only, on a clock of its own, so the
shared database's other payments are never touched.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.exceptions import IntegrityError

from domain.errors import InvalidInput, NotFound
from domain.ledger import Bucket
from domain.models import Delivery, Payout, Release, Settlement, SettlementLine
from domain.parties import KycStatus, PartyKind, RiskLevel
from domain.services import deliveries, ledger, parties, payments, releases, settlement_runs
from domain.services.parties import PartnerDraft, SettlementProfileDraft
from domain.settlement import LineKind, ReleaseReason
from tests.conftest import operator_principal, payment_input, unique
from tests.integration.tampering import triggers_bypassed

PAID = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, Monday 2 March 2026


def at(runtime, instant: datetime):
    return dataclasses.replace(runtime, clock=lambda: instant)


def profile(**overrides) -> SettlementProfileDraft:
    fields = {
        "currency": "CNY",
        "cycle": "DAILY",
        "anchor_day": 0,
        "delay_days": 1,
        "minimum_payout": "0",
        "hold_days": 7,
    } | overrides
    return SettlementProfileDraft(**fields)


@pytest.fixture
async def trio(world, runtime):
    """A verified merchant, its courier, and a payment of 158.00 (8.00 shipping) the courier carried."""
    operator = operator_principal(world.platform_id)
    merchant = await parties.create_merchant(
        operator,
        runtime,
        parties.MerchantDraft(name=unique("Tea"), kyc_status=KycStatus.VERIFIED, settlement_profile=profile()),
    )
    courier = await parties.create_partner(
        operator, runtime, PartyKind.LOGISTICS, PartnerDraft(name=unique("Courier"), settlement_profile=profile())
    )
    recorded = await payments.record_payment(
        operator,
        at(runtime, PAID + timedelta(minutes=5)),
        payment_input(merchant.id, logistics_partner_id=courier.id, paid_at=PAID),
    )
    return operator, merchant, courier, recorded.payment


async def held(operator, party_id: int, bucket: Bucket) -> int:
    return sum(b.amount_minor for b in await ledger.balances(operator, party_id) if b.bucket == bucket)


async def test_a_share_stays_held_until_the_hold_period_ends(trio, runtime):
    operator, merchant, _courier, payment = trio
    early = await releases.release_held_funds(
        operator, at(runtime, PAID + timedelta(days=6)), PAID + timedelta(days=6), only_party_ids=[merchant.id]
    )
    assert early.shares_released == 0
    assert await held(operator, merchant.id, Bucket.PENDING) == 15000
    late = await releases.release_held_funds(
        operator, at(runtime, PAID + timedelta(days=8)), PAID + timedelta(days=7), only_party_ids=[merchant.id]
    )
    assert late.shares_released == 1
    assert await held(operator, merchant.id, Bucket.PENDING) == 0
    assert await held(operator, merchant.id, Bucket.AVAILABLE) == 15000
    [release] = await Release.filter(party_id=merchant.id)
    assert release.reason == ReleaseReason.HOLD_PERIOD_ENDED
    assert release.payment_id == payment.id


async def test_the_carrier_confirming_delivery_releases_every_share_at_once_and_only_once(trio, runtime):
    operator, merchant, courier, payment = trio
    courier_key = dataclasses.replace(
        operator, party_id=courier.id, party_kind=PartyKind.LOGISTICS, role="logistics_partner"
    )
    later = at(runtime, PAID + timedelta(days=1))
    first = await deliveries.confirm_delivery(courier_key, later, payment.id, PAID + timedelta(hours=20))
    again = await deliveries.confirm_delivery(courier_key, later, payment.id, PAID + timedelta(hours=21))
    assert not first.replayed and again.replayed
    assert again.delivery.id == first.delivery.id
    assert again.delivery.delivered_at == PAID + timedelta(hours=20)
    assert {r.party_id for r in first.releases} == {courier.id}  # the carrier sees its own release only
    assert all(r.reason == ReleaseReason.DELIVERY_CONFIRMED for r in first.releases)
    assert await held(operator, courier.id, Bucket.AVAILABLE) == 800
    assert await held(operator, merchant.id, Bucket.AVAILABLE) == 15000
    assert (await ledger.verify_ledger(operator)).ok


async def test_another_courier_cannot_confirm_a_delivery_it_did_not_carry(trio, runtime, world):
    operator, _merchant, _courier, payment = trio
    stranger = dataclasses.replace(
        operator, party_id=world.logistics_b_id, party_kind=PartyKind.LOGISTICS, role="logistics_partner"
    )
    with pytest.raises(NotFound) as refused:
        await deliveries.confirm_delivery(stranger, at(runtime, PAID + timedelta(days=1)), payment.id, PAID)
    assert refused.value.field == "paymentId"
    assert not await Release.filter(payment_id=payment.id).exists()


@pytest.mark.parametrize(
    ("delivered", "field"),
    [(PAID - timedelta(hours=1), "deliveredAt"), (PAID + timedelta(days=3), "deliveredAt")],
)
async def test_a_delivery_before_payment_or_in_the_future_is_refused(trio, runtime, delivered, field):
    operator, _merchant, _courier, payment = trio
    with pytest.raises(InvalidInput) as refused:
        await deliveries.confirm_delivery(operator, at(runtime, PAID + timedelta(days=1)), payment.id, delivered)
    assert refused.value.field == field
    assert not await Release.filter(payment_id=payment.id).exists()


async def test_a_high_risk_merchant_waits_seven_more_days_and_a_suspended_one_is_never_released(world, runtime):
    operator = operator_principal(world.platform_id)
    risky = await parties.create_merchant(
        operator,
        runtime,
        parties.MerchantDraft(name=unique("Risky"), kyc_status=KycStatus.VERIFIED, risk_level=RiskLevel.HIGH),
    )
    unverified = await parties.create_merchant(
        operator, runtime, parties.MerchantDraft(name=unique("Suspended"), kyc_status=KycStatus.VERIFIED)
    )
    for merchant in (risky, unverified):
        await payments.record_payment(
            operator, at(runtime, PAID + timedelta(minutes=1)), payment_input(merchant.id, paid_at=PAID)
        )
    await parties.update_merchant(
        operator, runtime, unverified.id, parties.MerchantChanges(kyc_status=KycStatus.SUSPENDED)
    )
    ids = [risky.id, unverified.id]
    day8 = PAID + timedelta(days=8)
    assert (
        await releases.release_held_funds(operator, at(runtime, day8), day8, only_party_ids=ids)
    ).shares_released == 0
    day15 = PAID + timedelta(days=14, minutes=1)
    released = await releases.release_held_funds(operator, at(runtime, day15), day15, only_party_ids=ids)
    assert released.shares_released == 1
    assert await held(operator, risky.id, Bucket.AVAILABLE) == 15800
    assert await held(operator, unverified.id, Bucket.PENDING) == 15800


async def test_release_refuses_an_instant_in_the_future(world, runtime):
    operator = operator_principal(world.platform_id)
    with pytest.raises(InvalidInput) as refused:
        await releases.release_held_funds(operator, at(runtime, PAID), PAID + timedelta(seconds=1))
    assert refused.value.code == "INVALID_CUTOFF" and refused.value.field == "asOf"


async def test_settlement_pays_what_was_released_by_the_t_plus_n_day_once(trio, runtime):
    operator, merchant, courier, payment = trio
    confirm_at = at(runtime, PAID + timedelta(hours=6))  # Monday 16:00 Shanghai
    await deliveries.confirm_delivery(operator, confirm_at, payment.id, PAID + timedelta(hours=5))
    ids = [merchant.id, courier.id]
    # Monday 23:00 Shanghai: T+1 takes Sunday's releases: nothing yet.
    monday = PAID + timedelta(hours=13)
    nothing = await settlement_runs.run_settlement(operator, at(runtime, monday), monday, only_party_ids=ids)
    assert nothing.statements_created == 0
    # Tuesday 02:00 Shanghai: Monday's releases are due.
    tuesday = PAID + timedelta(hours=16)
    run = await settlement_runs.run_settlement(operator, at(runtime, tuesday), tuesday, only_party_ids=ids)
    assert (run.statements_created, run.payouts_created) == (2, 2)
    again = await settlement_runs.run_settlement(operator, at(runtime, tuesday), tuesday, only_party_ids=ids)
    assert again.statements_created == 0
    [statement] = await Settlement.filter(party_id=merchant.id)
    assert str(statement.period_date) == "2026-03-03"
    assert (statement.opening_minor, statement.movements_minor, statement.payout_minor, statement.closing_minor) == (
        0,
        15000,
        15000,
        0,
    )
    lines = await SettlementLine.filter(settlement_id=statement.id).order_by("id")
    assert [(line.kind, line.amount_minor) for line in lines] == [
        (LineKind.RELEASE, 15000),
        (LineKind.PAYOUT, -15000),
    ]
    [payout] = await Payout.filter(settlement_id=statement.id)
    assert (payout.status, payout.amount_minor) == ("PENDING_APPROVAL", 15000)
    assert await held(operator, merchant.id, Bucket.AVAILABLE) == 0
    assert await held(operator, merchant.id, Bucket.SETTLING) == 15000
    assert (await ledger.verify_ledger(operator)).ok


async def test_a_net_below_the_minimum_is_carried_to_the_next_period(world, runtime):
    operator = operator_principal(world.platform_id)
    merchant = await parties.create_merchant(
        operator,
        runtime,
        parties.MerchantDraft(
            name=unique("Small"),
            kyc_status=KycStatus.VERIFIED,
            settlement_profile=profile(minimum_payout="200.00", delay_days=0, hold_days=0),
        ),
    )
    for day in range(2):
        paid = PAID + timedelta(days=day)
        await payments.record_payment(
            operator, at(runtime, paid + timedelta(minutes=1)), payment_input(merchant.id, paid_at=paid)
        )
        now = paid + timedelta(hours=1)
        await releases.release_held_funds(operator, at(runtime, now), now, only_party_ids=[merchant.id])
        await settlement_runs.run_settlement(operator, at(runtime, now), now, only_party_ids=[merchant.id])
    first, second = await Settlement.filter(party_id=merchant.id).order_by("period_date")
    assert (first.payout_minor, first.closing_minor) == (0, 15800)
    assert (second.opening_minor, second.movements_minor, second.payout_minor, second.closing_minor) == (
        15800,
        15800,
        31600,
        0,
    )
    kinds = await SettlementLine.filter(settlement_id=second.id).order_by("id").values_list("kind", flat=True)
    assert kinds == [LineKind.RELEASE, LineKind.BALANCE_CARRIED_FORWARD, LineKind.PAYOUT]


async def test_a_rolling_reserve_is_held_back_and_paid_with_the_first_statement_after_its_days(world, runtime):
    operator = operator_principal(world.platform_id)
    merchant = await parties.create_merchant(
        operator,
        runtime,
        parties.MerchantDraft(
            name=unique("Reserved"),
            kyc_status=KycStatus.VERIFIED,
            settlement_profile=profile(delay_days=0, hold_days=0, reserve_bps=1000, reserve_days=2),
        ),
    )
    statements = []
    for day in range(4):
        paid = PAID + timedelta(days=day)
        await payments.record_payment(
            operator, at(runtime, paid + timedelta(minutes=1)), payment_input(merchant.id, paid_at=paid)
        )
        now = paid + timedelta(hours=1)
        await releases.release_held_funds(operator, at(runtime, now), now, only_party_ids=[merchant.id])
        await settlement_runs.run_settlement(operator, at(runtime, now), now, only_party_ids=[merchant.id])
    statements = await Settlement.filter(party_id=merchant.id).order_by("period_date")
    assert [s.reserve_held_minor for s in statements] == [1580, 1580, 1580, 1580]
    assert [s.reserve_released_minor for s in statements] == [0, 0, 1580, 1580]
    assert [s.payout_minor for s in statements] == [14220, 14220, 15800, 15800]
    assert await held(operator, merchant.id, Bucket.RESERVE) == 3160
    assert (await ledger.verify_ledger(operator)).ok


async def test_a_cutoff_in_the_future_and_a_currency_nobody_uses_are_refused(world, runtime):
    operator = operator_principal(world.platform_id)
    with pytest.raises(InvalidInput) as future:
        await settlement_runs.run_settlement(operator, at(runtime, PAID), PAID + timedelta(minutes=1))
    assert (future.value.code, future.value.field) == ("INVALID_CUTOFF", "cutoff")
    with pytest.raises(InvalidInput) as unused:
        await settlement_runs.run_settlement(operator, at(runtime, PAID), PAID, currency="ISK")
    assert (unused.value.code, unused.value.field) == ("UNUSED_CURRENCY", "currency")


async def test_the_database_keeps_one_delivery_per_payment(trio, runtime):
    """Regression: the unique payment of a delivery (and the unique statement of a payout) must exist in the
    database, not only in the model: tortoise's migrations dropped unique=True on a foreign key."""
    operator, _merchant, _courier, payment = trio
    await deliveries.confirm_delivery(operator, at(runtime, PAID + timedelta(days=1)), payment.id, PAID)
    with pytest.raises(IntegrityError):
        await Delivery.create(
            payment_id=payment.id, delivered_at=PAID, confirmed_at=PAID, confirmed_by_party_id=operator.party_id
        )


@pytest.mark.postgres_only
async def test_concurrent_confirmations_of_one_delivery_record_it_once(trio, runtime):
    operator, _merchant, _courier, payment = trio
    later = at(runtime, PAID + timedelta(days=1))
    results = await asyncio.gather(
        *(deliveries.confirm_delivery(operator, later, payment.id, PAID + timedelta(hours=h)) for h in range(1, 6))
    )
    assert len({r.delivery.id for r in results}) == 1
    assert sum(not r.replayed for r in results) <= 1
    assert await Release.filter(payment_id=payment.id).count() == 2  # the merchant and the courier, once each
    assert (await ledger.verify_ledger(operator)).ok


async def test_a_merchant_suspended_after_release_is_not_settled_into_a_payout(trio, runtime):
    operator, merchant, courier, payment = trio
    await deliveries.confirm_delivery(operator, at(runtime, PAID + timedelta(hours=6)), payment.id, PAID)
    await parties.update_merchant(
        operator, runtime, merchant.id, parties.MerchantChanges(kyc_status=KycStatus.SUSPENDED)
    )
    later = PAID + timedelta(days=2)
    run = await settlement_runs.run_settlement(
        operator, at(runtime, later), later, only_party_ids=[merchant.id, courier.id]
    )
    assert (run.statements_created, run.skipped_unverified) == (1, 1)
    assert not await Settlement.filter(party_id=merchant.id).exists()
    assert await held(operator, merchant.id, Bucket.AVAILABLE) == 15000


@pytest.mark.parametrize(
    ("tampering", "reported"),
    [
        ("UPDATE releases SET amount_minor = amount_minor + 1 WHERE party_id = {merchant}", "release_entry"),
        ("UPDATE settlement_lines SET amount_minor = amount_minor - 1 WHERE party_id = {merchant} AND kind = "
         "'RELEASE'", "settlement"),
        ("UPDATE settlements SET closing_minor = 1 WHERE party_id = {merchant}", "settlement"),
    ],
)  # fmt: skip
async def test_verify_ledger_notices_a_release_or_a_statement_changed_behind_its_back(
    trio, runtime, tampering, reported
):
    operator, merchant, _courier, payment = trio
    await deliveries.confirm_delivery(operator, at(runtime, PAID + timedelta(hours=6)), payment.id, PAID)
    later = PAID + timedelta(days=2)
    await settlement_runs.run_settlement(operator, at(runtime, later), later, only_party_ids=[merchant.id])
    assert (await ledger.verify_ledger(operator)).ok
    async with triggers_bypassed("0007_money_goes_out") as connection:
        await connection.execute_query(tampering.format(merchant=int(merchant.id)))
        check = dataclasses.asdict(await ledger.verify_ledger(operator))
        assert check[f"mismatched_{reported}_ids"], check
