"""Refunds through the services: each party's reversal, where its money comes from (escrow, available, debt),
idempotency, and never more than captured, also under concurrency."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import AlreadyExists, DomainError, Forbidden, InvalidInput, NotFound
from domain.models import (
    AuthEvent,
    LedgerAccount,
    PaymentLine,
    Refund,
    RefundReversal,
    Release,
    Settlement,
    SettlementLine,
)
from domain.parties import KycStatus, PartyKind
from domain.payments import LineItemInput
from domain.services import deliveries, ledger, parties, payments, refunds, settlement_reads, settlement_runs
from domain.services.parties import MerchantDraft, PartnerDraft, SettlementProfileDraft
from domain.settlement import LineKind
from tests.conftest import operator_principal, payment_input, unique
from tests.integration.tampering import triggers_bypassed

PAID = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai


def at(runtime, instant: datetime):
    return dataclasses.replace(runtime, clock=lambda: instant)


def draft(payment_id: int, **overrides) -> refunds.RefundDraft:
    fields = {"payment_id": payment_id, "idempotency_key": secrets.token_hex(6), "reason": "buyer changed mind"}
    return refunds.RefundDraft(**(fields | overrides))


async def held(party_id: int) -> dict[str, int]:
    return {row.bucket: -row.balance_minor for row in await LedgerAccount.filter(party_id=party_id)}


@pytest.fixture
async def sale(world, runtime):
    """158.00: 150.00 of tea to a fresh merchant (daily, T+0, no hold), 8.00 shipping to a fresh courier."""
    operator = operator_principal(world.platform_id)
    terms = SettlementProfileDraft("CNY", "DAILY", 0, 0, "0", 0)
    merchant = await parties.create_merchant(
        operator,
        runtime,
        MerchantDraft(name=unique("Refunding"), kyc_status=KycStatus.VERIFIED, settlement_profile=terms),
    )
    courier = await parties.create_partner(
        operator, runtime, PartyKind.LOGISTICS, PartnerDraft(name=unique("Courier"), settlement_profile=terms)
    )
    recorded = await payments.record_payment(
        operator, at(runtime, PAID), payment_input(merchant.id, logistics_partner_id=courier.id, paid_at=PAID)
    )
    return operator, merchant, courier, recorded.payment


async def test_a_partial_refund_takes_from_the_merchant_only_and_the_rest_returns_every_share(sale, runtime):
    operator, merchant, courier, payment = sale
    first = await refunds.create_refund(
        operator, at(runtime, PAID + timedelta(hours=1)), draft(payment.id, amount="50.00")
    )
    reversals = await RefundReversal.filter(refund_id=first.refund.id)
    assert [(r.party_id, r.basis, r.amount_minor) for r in reversals] == [(merchant.id, "GOODS", 5000)]
    assert (await held(merchant.id))["PENDING"] == 10000 and (await held(courier.id))["PENDING"] == 800
    rest = await refunds.create_refund(
        operator, at(runtime, PAID + timedelta(hours=2)), draft(payment.id, amount="108.00")
    )
    assert rest.refund.amount_minor == 10800
    assert (await held(merchant.id))["PENDING"] == 0 and (await held(courier.id))["PENDING"] == 0
    assert (await refunds.refundable_of(operator, payment.id)).total_minor == 0
    assert (await ledger.verify_ledger(operator)).ok


async def test_refunding_more_than_is_left_is_a_typed_error_and_writes_nothing(sale, runtime):
    operator, _merchant, _courier, payment = sale
    with pytest.raises(InvalidInput) as refused:
        await refunds.create_refund(operator, runtime, draft(payment.id, amount="158.01"))
    assert refused.value.field == "amount"
    for bad, field in (("0", "amount"), ("-1.00", "amount"), ("1.001", "amount")):
        with pytest.raises(InvalidInput) as refused:
            await refunds.create_refund(operator, runtime, draft(payment.id, amount=bad))
        assert refused.value.field == field
    assert not await Refund.filter(payment_id=payment.id).exists()


async def test_an_item_refund_names_its_line_and_refuses_one_of_another_payment(sale, runtime, world):
    operator, _merchant, _courier, payment = sale
    [line] = await PaymentLine.filter(payment_id=payment.id)
    done = await refunds.create_refund(operator, runtime, draft(payment.id, items=[(line.id, "10.00")]))
    assert done.refund.amount_minor == 1000
    other = await payments.record_payment(operator, runtime, payment_input(world.merchant_a_id))
    [foreign] = await PaymentLine.filter(payment_id=other.payment.id)
    with pytest.raises(InvalidInput) as refused:
        await refunds.create_refund(operator, runtime, draft(payment.id, items=[(foreign.id, None)]))
    assert refused.value.field == "items[0].lineItemId"
    with pytest.raises(InvalidInput) as too_much:
        await refunds.create_refund(operator, runtime, draft(payment.id, items=[(line.id, "141.00")]))
    assert too_much.value.field == "items[0].amount"


async def test_the_same_key_replays_and_another_request_with_it_conflicts(sale, runtime):
    operator, _merchant, _courier, payment = sale
    request = draft(payment.id, amount="5.00")
    first = await refunds.create_refund(operator, runtime, request)
    again = await refunds.create_refund(operator, runtime, request)
    assert again.replayed and again.refund.id == first.refund.id
    with pytest.raises(AlreadyExists) as conflict:
        await refunds.create_refund(operator, runtime, dataclasses.replace(request, amount="6.00"))
    assert conflict.value.code == "IDEMPOTENCY_CONFLICT"
    assert await Refund.filter(payment_id=payment.id).count() == 1


async def test_a_courier_cannot_refund_and_a_merchant_refunds_only_its_own(sale, runtime, world):
    operator, merchant, courier, payment = sale
    as_courier = dataclasses.replace(
        operator,
        party_id=courier.id,
        party_kind=PartyKind.LOGISTICS,
        role="logistics_partner",
        permissions=frozenset({"payments:read"}),
    )
    with pytest.raises(Forbidden):
        await refunds.create_refund(as_courier, runtime, draft(payment.id, amount="1.00"))
    other_merchant = dataclasses.replace(
        operator, party_id=world.merchant_b_id, party_kind=PartyKind.MERCHANT, role="merchant_admin"
    )
    with pytest.raises(NotFound):
        await refunds.create_refund(other_merchant, runtime, draft(payment.id, amount="1.00"))
    own = dataclasses.replace(operator, party_id=merchant.id, party_kind=PartyKind.MERCHANT, role="merchant_admin")
    assert (await refunds.create_refund(own, runtime, draft(payment.id, amount="1.00"))).refund.amount_minor == 100


async def test_a_refund_while_held_is_not_released_and_after_payout_becomes_debt_on_the_next_statement(sale, runtime):
    operator, merchant, _courier, payment = sale
    await refunds.create_refund(operator, at(runtime, PAID + timedelta(hours=1)), draft(payment.id, amount="30.00"))
    confirmed = PAID + timedelta(hours=2)
    await deliveries.confirm_delivery(operator, at(runtime, confirmed), payment.id, confirmed)
    release = await Release.get(payment_id=payment.id, party_id=merchant.id)
    assert release.amount_minor == 12000  # 150.00 less the 30.00 refunded while held
    settled_at = PAID + timedelta(hours=3)
    await settlement_runs.run_settlement(operator, at(runtime, settled_at), settled_at, only_party_ids=[merchant.id])
    assert (await held(merchant.id))["SETTLING"] == 12000
    # After the payout: the refund makes the merchant's AVAILABLE balance a debt...
    after = PAID + timedelta(days=1, hours=1)
    await refunds.create_refund(operator, at(runtime, after), draft(payment.id, amount="20.00"))
    assert (await held(merchant.id))["AVAILABLE"] == -2000
    # ...which its next statement shows and carries until paid.
    next_day = PAID + timedelta(days=1, hours=2)
    await settlement_runs.run_settlement(operator, at(runtime, next_day), next_day, only_party_ids=[merchant.id])
    second = await Settlement.filter(party_id=merchant.id).order_by("-period_date").first()
    kinds = await SettlementLine.filter(settlement_id=second.id).values_list("kind", "amount_minor")
    assert (LineKind.REFUND_REVERSAL, -2000) in kinds
    assert (second.payout_minor, second.closing_minor) == (0, -2000)
    assert (await ledger.verify_ledger(operator)).ok


@pytest.mark.postgres_only
async def test_fifty_concurrent_refunds_of_three_yuan_on_one_hundred_refund_exactly_ninety_nine(world, runtime):
    operator = operator_principal(world.platform_id)
    merchant = await parties.create_merchant(
        operator, runtime, MerchantDraft(name=unique("Busy"), kyc_status=KycStatus.VERIFIED)
    )
    recorded = await payments.record_payment(
        operator,
        runtime,
        payment_input(
            merchant.id, total_amount="100.00", shipping_fee="0", line_items=[LineItemInput("a", "tea", "100.00", 1)]
        ),
    )

    async def one() -> bool:
        try:
            await refunds.create_refund(operator, runtime, draft(recorded.payment.id, amount="3.00"))
        except DomainError as refused:
            assert refused.code == "INVALID_AMOUNT", refused
            return False
        return True

    outcomes = await asyncio.gather(*(one() for _ in range(50)))
    assert sum(outcomes) == 33
    assert sum(await Refund.filter(payment_id=recorded.payment.id).values_list("amount_minor", flat=True)) == 9900
    assert (await ledger.verify_ledger(operator)).ok


@pytest.mark.parametrize(
    ("tampering", "reported"),
    [
        ("UPDATE refund_reversals SET amount_minor = amount_minor + 20000 WHERE payment_id = {payment}", "allocation"),
        ("UPDATE refunds SET amount_minor = amount_minor + 1 WHERE payment_id = {payment}", "total"),
    ],
)
async def test_verify_ledger_notices_a_refund_that_reverses_more_than_a_share_or_disagrees_with_its_entry(
    sale, runtime, tampering, reported
):
    operator, _merchant, _courier, payment = sale
    await refunds.create_refund(operator, runtime, draft(payment.id, amount="10.00"))
    assert (await ledger.verify_ledger(operator)).ok
    async with triggers_bypassed("0005_append_only_money", "0009_refunds") as connection:
        await connection.execute_query(tampering.format(payment=int(payment.id)))
        check = dataclasses.asdict(await ledger.verify_ledger(operator))
        assert payment.id in check[f"mismatched_{reported}_payment_ids"], check


async def test_my_shares_counts_what_is_left_of_each_share_and_what_refunds_took_back(sale, runtime):
    operator, merchant, courier, payment = sale
    await refunds.create_refund(operator, runtime, draft(payment.id, amount="50.00"))
    as_merchant = dataclasses.replace(
        operator, party_id=merchant.id, party_kind=PartyKind.MERCHANT, role="merchant_admin"
    )
    shares = await settlement_reads.my_shares(as_merchant, PAID - timedelta(days=1), PAID + timedelta(days=1))
    by_state = {(row.state, row.currency): (row.count, row.amount_minor) for row in shares}
    assert by_state[(settlement_reads.ShareState.HELD, "CNY")] == (1, 10000)
    assert by_state[(settlement_reads.ShareState.REFUNDED, "CNY")] == (1, 5000)
    await refunds.create_refund(operator, runtime, draft(payment.id, amount="108.00"))
    as_courier = dataclasses.replace(
        operator, party_id=courier.id, party_kind=PartyKind.LOGISTICS, role="logistics_partner"
    )
    courier_shares = await settlement_reads.my_shares(as_courier, PAID - timedelta(days=1), PAID + timedelta(days=1))
    assert [(row.state, row.amount_minor) for row in courier_shares] == [(settlement_reads.ShareState.REFUNDED, 800)]


async def test_a_refund_after_payout_never_draws_on_a_reserve_hold_which_later_nets_the_debt(world, runtime):
    """Regression: drawing a refund from RESERVE and then returning the hold whole paid out money already given
    back. The hold stays whole; the refund is a debt; the statement that returns the hold nets the two."""
    operator = operator_principal(world.platform_id)
    terms = SettlementProfileDraft("CNY", "DAILY", 0, 0, "0", 0, reserve_bps=1000, reserve_days=2)
    merchant = await parties.create_merchant(
        operator,
        runtime,
        MerchantDraft(name=unique("Reserved"), kyc_status=KycStatus.VERIFIED, settlement_profile=terms),
    )
    recorded = await payments.record_payment(operator, at(runtime, PAID), payment_input(merchant.id, paid_at=PAID))
    later = PAID + timedelta(hours=1)
    await deliveries.confirm_delivery(operator, at(runtime, later), recorded.payment.id, later)
    await settlement_runs.run_settlement(operator, at(runtime, later), later, only_party_ids=[merchant.id])
    assert (await held(merchant.id))["RESERVE"] == 1580
    refunded_at = PAID + timedelta(hours=2)
    await refunds.create_refund(operator, at(runtime, refunded_at), draft(recorded.payment.id, amount="158.00"))
    after = await held(merchant.id)
    assert (after["RESERVE"], after["AVAILABLE"]) == (1580, -15800)
    returned_at = PAID + timedelta(days=2, hours=1)
    await settlement_runs.run_settlement(operator, at(runtime, returned_at), returned_at, only_party_ids=[merchant.id])
    last = await Settlement.filter(party_id=merchant.id).order_by("-period_date").first()
    assert (last.reserve_released_minor, last.payout_minor, last.closing_minor) == (1580, 0, -15800 + 1580)
    assert (await held(merchant.id))["RESERVE"] == 0
    assert (await ledger.verify_ledger(operator)).ok


async def test_every_refund_is_on_record_with_who_made_it(sale, runtime):
    operator, merchant, _courier, payment = sale
    done = await refunds.create_refund(operator, runtime, draft(payment.id, amount="2.50"))
    [event] = await AuthEvent.filter(kind="refund_created", party_id=merchant.id)
    assert event.actor_user_id == operator.user_id or event.actor_user_id is None
    assert f"refund {done.refund.id} of payment {payment.id}: 2.50 CNY" == event.detail
