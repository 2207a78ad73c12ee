"""Disputes (chargebacks) through the services: where the hold comes from (escrow, then AVAILABLE as a debt), what
winning and losing do (the merchant alone, or shared out like a refund), statements, idempotency, scope, and never
more than the payment, also under concurrency."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from domain.disputes import LostDisputeBearer
from domain.errors import AlreadyExists, DomainError, Forbidden, InvalidInput, NotFound
from domain.ledger import EntryKind
from domain.models import (
    Dispute,
    JournalEntry,
    LedgerAccount,
    Refund,
    RefundReversal,
    Release,
    Settlement,
    SettlementLine,
)
from domain.parties import KycStatus, PartyKind
from domain.payments import LineItemInput
from domain.rules import Basis, BeneficiaryKind, Computation, Conditions, Leg, RuleDraft
from domain.services import (
    deliveries,
    disputes,
    ledger,
    parties,
    payments,
    platform_settings,
    refunds,
    rules,
    settlement_runs,
)
from domain.services.pagination import PageRequest
from domain.services.parties import MerchantDraft, PartnerDraft, SettlementProfileDraft
from domain.settlement import LineKind
from tests.conftest import activate_newest_version, operator_principal, payment_input, unique
from tests.integration.tampering import triggers_bypassed

PAID = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
DUE = PAID + timedelta(days=14)


def at(runtime, instant: datetime):
    return dataclasses.replace(runtime, clock=lambda: instant)


def draft(payment_id: int, amount: str, **overrides) -> disputes.DisputeDraft:
    fields = {
        "payment_id": payment_id,
        "amount": amount,
        "reason": "buyer says the tea never came",
        "evidence_due_at": DUE,
        "idempotency_key": secrets.token_hex(6),
    }
    return disputes.DisputeDraft(**(fields | overrides))


async def held(party_id: int) -> dict[str, int]:
    return {row.bucket: -row.balance_minor for row in await LedgerAccount.filter(party_id=party_id)}


async def clean(operator) -> None:
    check = await ledger.verify_ledger(operator)
    assert check.ok, check


@asynccontextmanager
async def lost_disputes_borne(operator, runtime, bearer: LostDisputeBearer):
    """The platform setting for the test's length (the database is shared by the whole run)."""
    await platform_settings.update(operator, runtime, lost_dispute_bearer=bearer)
    try:
        yield
    finally:
        await platform_settings.update(operator, runtime, lost_dispute_bearer=LostDisputeBearer.MERCHANT_ONLY)


@pytest.fixture
async def sale(world, runtime):
    """158.00 paid at PAID: 150.00 of tea, of which the platform takes 10 % (15.00) and a fresh merchant 135.00
    (daily, T+0, held 30 days unless delivered), and 8.00 shipping to a fresh courier."""
    operator = operator_principal(world.platform_id)
    terms = SettlementProfileDraft("CNY", "DAILY", 0, 0, "0", 30)
    merchant = await parties.create_merchant(
        operator,
        runtime,
        MerchantDraft(name=unique("Disputed"), kyc_status=KycStatus.VERIFIED, settlement_profile=terms),
    )
    courier = await parties.create_partner(
        operator, runtime, PartyKind.LOGISTICS, PartnerDraft(name=unique("Courier"), settlement_profile=terms)
    )
    ten_percent = RuleDraft(
        priority=10,
        conditions=Conditions(merchant_ids=frozenset({merchant.id})),
        legs=(Leg(BeneficiaryKind.PLATFORM, Basis.ITEM_AMOUNT, Computation(rate_bps=1000)),),
    )
    rule = await rules.create_rule(
        operator, runtime, rules.RuleInput(unique("Ten percent"), None, ten_percent, PAID - timedelta(days=1))
    )
    await activate_newest_version(operator, runtime, rule.id)
    recorded = await payments.record_payment(
        operator, at(runtime, PAID), payment_input(merchant.id, logistics_partner_id=courier.id, paid_at=PAID)
    )
    yield operator, merchant, courier, recorded.payment
    await won_if_open(operator, runtime, recorded.payment.id)


async def won_if_open(operator, runtime, payment_id: int) -> None:
    """Gives back the escrow that disputes left open hold: the database is shared by the whole run, and a release
    that does not know disputes yet (the xfail tests below) would count that escrow as its own."""
    for dispute in await Dispute.filter(payment_id=payment_id, status="OPEN"):
        await disputes.resolve_dispute(operator, runtime, dispute.id, "WON")


async def paid_out(operator, runtime, merchant, payment) -> None:
    """Delivered, released and settled into a payout: nothing of the merchant's share is left in escrow."""
    delivered = PAID + timedelta(hours=1)
    await deliveries.confirm_delivery(operator, at(runtime, delivered), payment.id, delivered)
    settled = PAID + timedelta(hours=2)
    await settlement_runs.run_settlement(operator, at(runtime, settled), settled, only_party_ids=[merchant.id])
    assert (await held(merchant.id))["SETTLING"] == 13500


async def test_a_dispute_while_the_share_is_held_comes_from_escrow_then_from_available_as_a_debt(sale, runtime):
    operator, merchant, _courier, payment = sale
    first = await disputes.open_dispute(operator, at(runtime, PAID + timedelta(hours=1)), draft(payment.id, "50.00"))
    assert (first.dispute.status, first.dispute.amount_minor, first.dispute.from_escrow_minor) == ("OPEN", 5000, 5000)
    assert await held(merchant.id) == {"PENDING": 8500, "DISPUTED": 5000}
    entry = await JournalEntry.get(id=first.dispute.opened_entry_id)
    assert (entry.kind, entry.payment_id) == (EntryKind.DISPUTE_OPENED, payment.id)

    # The share holds 85.00 more in escrow: a second dispute of 100.00 takes it, and 15.00 as a debt.
    second = await disputes.open_dispute(operator, at(runtime, PAID + timedelta(hours=2)), draft(payment.id, "100.00"))
    assert second.dispute.from_escrow_minor == 8500
    assert await held(merchant.id) == {"PENDING": 0, "AVAILABLE": -1500, "DISPUTED": 15000}
    await clean(operator)


async def test_a_dispute_above_what_is_still_disputable_is_refused_naming_the_amount_and_writes_nothing(sale, runtime):
    operator, merchant, _courier, payment = sale
    await disputes.open_dispute(operator, runtime, draft(payment.id, "150.00"))
    before = (await held(merchant.id), await JournalEntry.filter(payment_id=payment.id).count())
    with pytest.raises(InvalidInput) as refused:
        await disputes.open_dispute(operator, runtime, draft(payment.id, "8.01"))
    assert (refused.value.code, refused.value.field) == ("INVALID_AMOUNT", "amount")
    assert "8.00 CNY still disputable" in refused.value.message
    for bad in ("0", "-1.00", "1.001", "ten"):
        with pytest.raises(InvalidInput) as malformed:
            await disputes.open_dispute(operator, runtime, draft(payment.id, bad))
        assert malformed.value.field == "amount"
    with pytest.raises(InvalidInput) as late:
        await disputes.open_dispute(operator, runtime, draft(payment.id, "1.00", evidence_due_at=PAID, reason=" "))
    assert {error.field for error in late.value.errors} == {"evidenceDueAt", "reason"}
    assert (await held(merchant.id), await JournalEntry.filter(payment_id=payment.id).count()) == before
    assert await Dispute.filter(payment_id=payment.id).count() == 1
    # What is left is disputable, to the cent.
    assert (await disputes.open_dispute(operator, runtime, draft(payment.id, "8.00"))).dispute.amount_minor == 800


async def test_a_dispute_after_the_merchant_was_paid_is_a_debt_and_winning_releases_it_on_the_statements(sale, runtime):
    operator, merchant, _courier, payment = sale
    await paid_out(operator, runtime, merchant, payment)
    opened_at = PAID + timedelta(days=1, hours=1)
    opened = await disputes.open_dispute(operator, at(runtime, opened_at), draft(payment.id, "100.00"))
    assert opened.dispute.from_escrow_minor == 0
    assert (await held(merchant.id))["AVAILABLE"] == -10000 and (await held(merchant.id))["DISPUTED"] == 10000
    day_two = PAID + timedelta(days=1, hours=2)
    await settlement_runs.run_settlement(operator, at(runtime, day_two), day_two, only_party_ids=[merchant.id])
    second = await Settlement.filter(party_id=merchant.id).order_by("-period_date").first()
    assert await SettlementLine.filter(settlement_id=second.id).values_list("kind", "amount_minor") == [
        (LineKind.DISPUTE_HELD, -10000)
    ]
    assert (second.payout_minor, second.closing_minor) == (0, -10000)

    won_at = PAID + timedelta(days=2, hours=1)
    won = await disputes.resolve_dispute(operator, at(runtime, won_at), opened.dispute.id, "WON")
    assert (won.status, won.resolved_at, won.lost_entry_id) == ("WON", won_at, None)
    assert (await held(merchant.id))["AVAILABLE"] == 0 and (await held(merchant.id))["DISPUTED"] == 0
    day_three = PAID + timedelta(days=2, hours=2)
    await settlement_runs.run_settlement(operator, at(runtime, day_three), day_three, only_party_ids=[merchant.id])
    third = await Settlement.filter(party_id=merchant.id).order_by("-period_date").first()
    assert sorted(await SettlementLine.filter(settlement_id=third.id).values_list("kind", "amount_minor")) == [
        (LineKind.DEBT_CARRIED_FORWARD, -10000),
        (LineKind.DISPUTE_RELEASED, 10000),
    ]
    assert third.closing_minor == 0
    await clean(operator)


async def test_a_dispute_won_while_the_share_is_held_goes_back_to_escrow_and_is_released_with_the_share(sale, runtime):
    operator, merchant, _courier, payment = sale
    opened = await disputes.open_dispute(operator, runtime, draft(payment.id, "50.00"))
    won = await disputes.resolve_dispute(operator, runtime, opened.dispute.id, "WON")
    assert (won.escrow_cleared_minor, won.released_entry_id is not None) == (5000, True)
    assert await held(merchant.id) == {"PENDING": 13500, "DISPUTED": 0}
    delivered = PAID + timedelta(hours=1)
    await deliveries.confirm_delivery(operator, at(runtime, delivered), payment.id, delivered)
    assert (await Release.get(payment_id=payment.id, party_id=merchant.id)).amount_minor == 13500
    await clean(operator)


async def test_a_lost_dispute_borne_by_the_merchant_alone_leaves_through_clearing_and_nothing_else_moves(
    sale, runtime, world
):
    operator, merchant, courier, payment = sale
    await paid_out(operator, runtime, merchant, payment)
    others_before = (await held(courier.id), await held(world.platform_id))
    opened = await disputes.open_dispute(operator, runtime, draft(payment.id, "158.00"))
    lost = await disputes.resolve_dispute(operator, runtime, opened.dispute.id, "LOST")
    assert (lost.status, lost.lost_bearer, lost.refund_id, lost.released_entry_id) == (
        "LOST",
        LostDisputeBearer.MERCHANT_ONLY,
        None,
        None,
    )
    assert (await held(merchant.id))["AVAILABLE"] == -15800 and (await held(merchant.id))["DISPUTED"] == 0
    assert (await held(courier.id), await held(world.platform_id)) == others_before
    assert (await JournalEntry.get(id=lost.lost_entry_id)).kind == EntryKind.DISPUTE_LOST
    assert not await Refund.filter(payment_id=payment.id).exists()
    # Nothing is left to dispute; the same outcome again changes nothing; the other one is refused.
    with pytest.raises(InvalidInput):
        await disputes.open_dispute(operator, runtime, draft(payment.id, "0.01"))
    again = await disputes.resolve_dispute(operator, runtime, opened.dispute.id, "LOST")
    assert (again.id, again.resolved_at) == (lost.id, lost.resolved_at)
    with pytest.raises(InvalidInput) as final:
        await disputes.resolve_dispute(operator, runtime, opened.dispute.id, "WON")
    assert (final.value.field, "already resolved LOST" in final.value.message) == ("outcome", True)
    await clean(operator)


async def test_a_lost_dispute_shared_out_takes_each_party_its_proportion_like_a_refund(sale, runtime, world):
    operator, merchant, courier, payment = sale
    platform_before = await held(world.platform_id)
    opened = await disputes.open_dispute(operator, runtime, draft(payment.id, "79.00"))
    assert opened.dispute.from_escrow_minor == 7900
    async with lost_disputes_borne(operator, runtime, LostDisputeBearer.PROPORTIONAL):
        lost = await disputes.resolve_dispute(operator, runtime, opened.dispute.id, "LOST")
    assert lost.lost_bearer == LostDisputeBearer.PROPORTIONAL
    # Half the payment: half of every part. The merchant's 67.50 comes out of the hold and the hold's other 11.50
    # goes back to escrow (the share is still held); the platform and the courier give back from escrow too.
    refund = await Refund.get(id=lost.refund_id)
    assert (refund.amount_minor, refund.reason, refund.journal_entry_id) == (7900, "dispute lost", lost.lost_entry_id)
    reversals = await RefundReversal.filter(refund_id=refund.id).values_list("party_id", "basis", "amount_minor")
    assert sorted(reversals) == sorted(
        [(world.platform_id, "GOODS", 750), (merchant.id, "GOODS", 6750), (courier.id, "SHIPPING", 400)]
    )
    assert await held(merchant.id) == {"PENDING": 6750, "DISPUTED": 0}
    assert (await held(courier.id))["PENDING"] == 400
    assert (await held(world.platform_id))["PENDING"] == platform_before["PENDING"] - 750
    assert lost.escrow_cleared_minor == 7900  # nothing withheld: the reversal lowers the release instead
    # The share's release releases what the loss left of it.
    delivered = PAID + timedelta(hours=1)
    await deliveries.confirm_delivery(operator, at(runtime, delivered), payment.id, delivered)
    assert (await Release.get(payment_id=payment.id, party_id=merchant.id)).amount_minor == 6750
    assert (await held(merchant.id))["PENDING"] == 0
    await clean(operator)


async def test_a_lost_dispute_shared_out_after_payout_is_a_debt_of_each_party(sale, runtime, world):
    operator, merchant, courier, payment = sale
    await paid_out(operator, runtime, merchant, payment)
    delivered_courier = await held(courier.id)
    opened = await disputes.open_dispute(operator, runtime, draft(payment.id, "158.00"))
    async with lost_disputes_borne(operator, runtime, LostDisputeBearer.PROPORTIONAL):
        await disputes.resolve_dispute(operator, runtime, opened.dispute.id, "LOST")
    # The merchant bears its 135.00 out of the hold and gets the hold's other 23.00 back; the courier's 8.00,
    # released at delivery, is taken from its AVAILABLE balance.
    assert (await held(merchant.id))["AVAILABLE"] == -13500 and (await held(merchant.id))["DISPUTED"] == 0
    assert (await held(courier.id))["AVAILABLE"] == delivered_courier["AVAILABLE"] - 800
    await clean(operator)


async def test_the_same_key_replays_and_another_request_with_it_conflicts(sale, runtime):
    operator, _merchant, _courier, payment = sale
    request = draft(payment.id, "5.00")
    first = await disputes.open_dispute(operator, runtime, request)
    again = await disputes.open_dispute(operator, runtime, request)
    assert again.replayed and again.dispute.id == first.dispute.id
    with pytest.raises(AlreadyExists) as conflict:
        await disputes.open_dispute(operator, runtime, dataclasses.replace(request, amount="6.00"))
    assert (conflict.value.code, conflict.value.field) == ("IDEMPOTENCY_CONFLICT", "idempotencyKey")
    assert await Dispute.filter(payment_id=payment.id).count() == 1
    await clean(operator)


async def test_a_merchant_reads_its_own_disputes_and_only_the_platform_opens_or_resolves_them(sale, runtime, world):
    operator, merchant, courier, payment = sale
    opened = await disputes.open_dispute(operator, runtime, draft(payment.id, "5.00"))
    own = dataclasses.replace(operator, party_id=merchant.id, party_kind=PartyKind.MERCHANT, role="merchant_admin")
    other = dataclasses.replace(own, party_id=world.merchant_b_id)
    as_courier = dataclasses.replace(
        operator,
        party_id=courier.id,
        party_kind=PartyKind.LOGISTICS,
        role="logistics_partner",
        permissions=frozenset({"payments:read", "refunds:read"}),
    )
    page = PageRequest(first=100)
    assert [row.id for row in (await disputes.list_disputes(own, runtime, page)).items] == [opened.dispute.id]
    assert list(await disputes.disputes_by_ids(own, [opened.dispute.id])) == [opened.dispute.id]
    assert (await disputes.list_disputes(other, runtime, page, payment_id=payment.id)).items == []
    assert await disputes.disputes_by_ids(other, [opened.dispute.id]) == {}
    assert (await disputes.list_disputes(as_courier, runtime, page, payment_id=payment.id)).items == []
    for caller in (own, dataclasses.replace(as_courier, permissions=frozenset({"refunds:create"}))):
        with pytest.raises(Forbidden):
            await disputes.open_dispute(caller, runtime, draft(payment.id, "1.00"))
        with pytest.raises(Forbidden):
            await disputes.resolve_dispute(caller, runtime, opened.dispute.id, "WON")
    with pytest.raises(NotFound):
        await disputes.resolve_dispute(operator, runtime, 999_999_999, "WON")
    assert await Dispute.filter(payment_id=payment.id).count() == 1


async def test_the_database_refuses_to_change_what_was_disputed_or_a_resolved_dispute_or_to_delete_one(sale, runtime):
    operator, _merchant, _courier, payment = sale
    opened = await disputes.open_dispute(operator, runtime, draft(payment.id, "5.00"))
    with pytest.raises(Exception, match="never change"):
        await Dispute.filter(id=opened.dispute.id).update(amount_minor=1)
    await disputes.resolve_dispute(operator, runtime, opened.dispute.id, "WON")
    with pytest.raises(Exception, match="never changes"):
        await Dispute.filter(id=opened.dispute.id).update(status="LOST")
    with pytest.raises(Exception, match="never deleted"):
        await Dispute.filter(id=opened.dispute.id).delete()
    assert (await Dispute.get(id=opened.dispute.id)).status == "WON"


async def test_a_share_released_while_a_dispute_holds_part_of_its_escrow_releases_only_the_rest(sale, runtime):
    operator, merchant, _courier, payment = sale
    await disputes.open_dispute(operator, runtime, draft(payment.id, "50.00"))
    delivered = PAID + timedelta(hours=1)
    await deliveries.confirm_delivery(operator, at(runtime, delivered), payment.id, delivered)
    assert (await Release.get(payment_id=payment.id, party_id=merchant.id)).amount_minor == 8500
    assert (await held(merchant.id))["PENDING"] == 0
    await clean(operator)


async def test_a_loss_shared_out_while_another_dispute_holds_the_escrow_leaves_the_release_exact(sale, runtime, world):
    """Two disputes of one held share: the merchant's part of the shared loss (49.55) is more than the escrow the
    lost dispute held (35.00); what the release later releases is still exactly what escrow holds."""
    operator, merchant, _courier, payment = sale
    holding = await disputes.open_dispute(operator, runtime, draft(payment.id, "100.00"))
    lost = await disputes.open_dispute(operator, runtime, draft(payment.id, "58.00"))
    assert (holding.dispute.from_escrow_minor, lost.dispute.from_escrow_minor) == (10000, 3500)
    async with lost_disputes_borne(operator, runtime, LostDisputeBearer.PROPORTIONAL):
        resolved = await disputes.resolve_dispute(operator, runtime, lost.dispute.id, "LOST")
    merchant_part = await RefundReversal.filter(refund_id=resolved.refund_id, party_id=merchant.id).first()
    assert merchant_part.amount_minor == 4955
    assert (await held(merchant.id))["PENDING"] == 845  # what the hold did not lose (58.00 - 49.55), to escrow
    await disputes.resolve_dispute(operator, runtime, holding.dispute.id, "WON")
    assert (await held(merchant.id))["PENDING"] == 10845
    delivered = PAID + timedelta(hours=1)
    await deliveries.confirm_delivery(operator, at(runtime, delivered), payment.id, delivered)
    assert (await Release.get(payment_id=payment.id, party_id=merchant.id)).amount_minor == 10845
    assert (await held(merchant.id))["PENDING"] == 0
    await clean(operator)


@pytest.mark.postgres_only
async def test_concurrent_disputes_of_one_payment_never_add_up_to_more_than_it(world, runtime):
    """PostgreSQL: twenty disputes of 10.00 at once on a payment of 100.00: ten are held, ten refused."""
    operator = operator_principal(world.platform_id)
    merchant = await parties.create_merchant(
        operator, runtime, MerchantDraft(name=unique("Contested"), kyc_status=KycStatus.VERIFIED)
    )
    recorded = await payments.record_payment(
        operator,
        runtime,
        payment_input(
            merchant.id,
            total_amount="100.00",
            shipping_fee="0",
            line_items=[LineItemInput("a", "tea", "100.00", 1)],
            paid_at=PAID,
        ),
    )

    async def one() -> bool:
        try:
            await disputes.open_dispute(operator, runtime, draft(recorded.payment.id, "10.00"))
        except DomainError as refused:
            assert (refused.code, refused.field) == ("INVALID_AMOUNT", "amount"), refused
            return False
        return True

    outcomes = await asyncio.gather(*(one() for _ in range(20)))
    assert sum(outcomes) == 10
    amounts = await Dispute.filter(payment_id=recorded.payment.id).values_list("amount_minor", flat=True)
    assert sum(amounts) == 10000
    assert (await held(merchant.id))["DISPUTED"] == 10000
    await won_if_open(operator, runtime, recorded.payment.id)
    await clean(operator)


async def test_money_under_dispute_cannot_also_be_refunded(sale, runtime):
    """NOT_TWICE: the buyer gets disputed money back through the chargeback, never through a refund as well."""
    operator, merchant, _courier, payment = sale
    await disputes.open_dispute(operator, runtime, draft(payment.id, "100.00"))
    refund_draft = refunds.RefundDraft(payment_id=payment.id, idempotency_key=secrets.token_hex(6), reason="x")
    with pytest.raises(InvalidInput) as refused:
        await refunds.create_refund(operator, runtime, dataclasses.replace(refund_draft, amount="58.01"))
    assert (refused.value.code, refused.value.field) == ("INVALID_AMOUNT", "amount")
    assert "100.00 is under dispute" in refused.value.message
    done = await refunds.create_refund(operator, runtime, dataclasses.replace(refund_draft, amount="58.00"))
    assert done.refund.amount_minor == 5800
    # The merchant's share is 135.00 (the platform takes 10 %); the dispute holds 100.00 of it, so escrow holds
    # 35.00. The refund takes the merchant's 52.20 of the 58.00: 35.00 from escrow, 17.20 as a debt, never
    # driving escrow below zero.
    balances = await held(merchant.id)
    assert (balances["PENDING"], balances["AVAILABLE"]) == (0, -1720)
    assert (await ledger.verify_ledger(operator)).ok


async def test_verify_ledger_notices_a_disputed_account_that_differs_from_the_open_disputes(sale, runtime):
    operator, _merchant, _courier, payment = sale
    await disputes.open_dispute(operator, runtime, draft(payment.id, "20.00"))
    assert (await ledger.verify_ledger(operator)).ok
    async with triggers_bypassed("0010_disputes") as connection:
        await connection.execute_query(f"UPDATE disputes SET amount_minor = 1999 WHERE payment_id = {int(payment.id)}")
        check = await ledger.verify_ledger(operator)
        assert check.mismatched_account_ids, check
