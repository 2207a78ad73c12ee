"""Payouts on a real database: approval (maker-checker, two people after a bank account change), the ledger
through sent, paid and failed, idempotent transitions, the bank file, and who sees which payouts.

Payouts are made here by a small factory (a statement's money posted into SETTLING, a run, a statement and a
PENDING_APPROVAL payout), the state a settlement run leaves, on fresh parties of their own.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import secrets
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from auth.principal import Principal
from auth.roles import ROLE_PERMISSIONS
from domain.errors import ErrorCode, InvalidInput, MfaRequired, NotFound
from domain.ledger import Bucket, capture, settle
from domain.models import (
    Allocation,
    AuthEvent,
    JournalEntry,
    LedgerAccount,
    Party,
    Payment,
    Payout,
    Settlement,
    SettlementLine,
    SettlementRun,
    SplitRuleVersion,
)
from domain.parties import KycStatus, PartyKind, SettlementCycle
from domain.services import identity, ledger, parties, payments, platform_settings, releases, settlement_runs
from domain.services import payout_batches as batches
from domain.services import payouts as service
from domain.services.pagination import PageRequest
from domain.services.parties import (
    BankAccountDraft,
    MerchantChanges,
    MerchantDraft,
    PartnerDraft,
    SettlementProfileDraft,
)
from domain.services.platform_settings import ThresholdDraft
from domain.services.runtime import Runtime
from domain.settlement import LineKind, ReleasePolicy
from tests.conftest import TEST_PASSWORD, payment_input, unique

LONG_AGO = timedelta(days=30)  # a bank account set this long ago is no recent change
_periods = itertools.count()


# --- the state a settlement run leaves ---------------------------------------------------------------------


def bank_account(number: str | None = None) -> BankAccountDraft:
    return BankAccountDraft("Payee Holder", "Bank of Hangzhou", number or f"6222{secrets.randbelow(10**12):012d}")


async def payee(
    operator: Principal,
    runtime: Runtime,
    *,
    kind: PartyKind = PartyKind.MERCHANT,
    kyc: KycStatus = KycStatus.VERIFIED,
    account: BankAccountDraft | None = None,
    bank_changed: timedelta | None = LONG_AGO,
) -> Party:
    """A fresh party; with a bank account set `bank_changed` ago (none when None)."""
    account = (account or bank_account()) if bank_changed is not None else None
    at = runtime.now() - (bank_changed or timedelta())
    then = replace(runtime, clock=lambda: at)
    if kind is PartyKind.MERCHANT:
        draft = MerchantDraft(name=unique("Payee"), kyc_status=kyc, bank_account=account)
        return await parties.create_merchant(operator, then, draft)
    return await parties.create_partner(operator, then, kind, PartnerDraft(name=unique("Payee"), bank_account=account))


_DEFAULT_MAKER: list[int] = []  # a platform finance user who "started" the factory's runs, made on first use
MAKER = -1  # pending_payout's default: that user


async def _default_maker(party_id_of_platform: int) -> int:
    if not _DEFAULT_MAKER:
        user = await identity.create_user_unchecked(
            f"payouts.maker.{secrets.token_hex(4)}@test.example",
            TEST_PASSWORD,
            "platform_finance",
            party_id_of_platform,
        )
        _DEFAULT_MAKER.append(user.id)
    return _DEFAULT_MAKER[0]


async def pending_payout(
    runtime: Runtime, party_id: int, amount_minor: int, currency: str = "CNY", *, started_by: int | None = MAKER
) -> Payout:
    """A statement's payout waiting for approval, as a settlement run leaves it: a payment whose one allocation
    is the party's `amount_minor`, captured, released (with its release row) and settled (AVAILABLE ->
    SETTLING), a run, a statement and the PENDING_APPROVAL payout. `started_by` is the run's starter (by
    default a finance person of its own; None: the worker)."""
    now = runtime.now()
    party = await Party.get(id=party_id)
    platform = await Party.get(kind=PartyKind.PLATFORM)
    if started_by == MAKER:
        started_by = await _default_maker(platform.id)
    merchant_id = party.id if party.kind is PartyKind.MERCHANT else (await Party.filter(kind="MERCHANT").first()).id
    default_version = await SplitRuleVersion.filter(rule__is_default=True).order_by("id").first()
    async with in_transaction():
        key = secrets.token_hex(8)
        payment = await Payment.create(
            merchant_id=merchant_id,
            external_order_id=f"payout-test-{key}",
            idempotency_key=key,
            request_hash=key,
            currency=currency,
            goods_minor=amount_minor,
            shipping_fee_minor=0,
            total_minor=amount_minor,
            channel="APP",
            region="CN",
            paid_at=now,
        )
        await Allocation.create(
            payment_id=payment.id,
            line_position=0,
            party_id=party_id,
            role="MERCHANT" if party.kind is PartyKind.MERCHANT else "PARTY",
            currency=currency,
            amount_minor=amount_minor,
            goods_minor=amount_minor,
            shipping_minor=0,
            rule_version_id=default_version.id,
        )
        await ledger.post_entries(
            [capture(currency, amount_minor, {party_id: amount_minor}, payment_id=payment.id)], posted_at=now
        )
        await releases.release_due_shares([party_id], {party_id: ReleasePolicy(0)}, now, now, payment_id=payment.id)
        await ledger.post_entries([settle(party_id, currency, amount_minor)], posted_at=now)
        run = await SettlementRun.create(
            cutoff=now, currency=currency, started_by_user_id=started_by, started_at=now, finished_at=now
        )
        statement = await Settlement.create(
            run_id=run.id,
            party_id=party_id,
            currency=currency,
            period_date=date(1990, 1, 1) + timedelta(days=next(_periods)),
            window_end=now,
            opening_minor=0,
            movements_minor=amount_minor,
            released_minor=amount_minor,
            reserve_held_minor=0,
            reserve_released_minor=0,
            net_minor=amount_minor,
            payout_minor=amount_minor,
            closing_minor=0,
            created_at=now,
        )
        return await Payout.create(
            settlement_id=statement.id,
            party_id=party_id,
            currency=currency,
            amount_minor=amount_minor,
            started_by_user_id=started_by,
            created_at=now,
        )


def person(user_id: int, party_id: int, role: str = "platform_finance", kind: PartyKind = PartyKind.PLATFORM):
    return Principal(
        user_id=user_id,
        party_id=party_id,
        party_kind=kind,
        role=role,
        permissions=ROLE_PERMISSIONS[role],
        mfa_passed=True,
    )


async def finance_people(platform_id: int, count: int) -> list[Principal]:
    """`count` platform finance people in two-factor sessions (real users: their ids are on record)."""
    users = [
        await identity.create_user_unchecked(
            f"payouts.{secrets.token_hex(4)}@test.example", TEST_PASSWORD, "platform_finance", platform_id
        )
        for _ in range(count)
    ]
    return [person(user.id, platform_id) for user in users]


@pytest.fixture(scope="module")
async def people(world) -> list[Principal]:
    """maker (starts the runs), checker, and a third person."""
    return await finance_people(world.platform_id, 3)


async def held(party_id: int, currency: str = "CNY") -> dict[str, int]:
    rows = await LedgerAccount.filter(party_id=party_id, currency=currency)
    return {row.bucket: -row.balance_minor for row in rows}


async def system_held(account: str, currency: str = "CNY") -> int:
    row = await LedgerAccount.get_or_none(key=f"system:{account}:{currency}")
    if row is None:
        return 0
    return row.balance_minor if account == "PSP_CLEARING" else -row.balance_minor


async def events_of(payout: Payout) -> list[AuthEvent]:
    return await AuthEvent.filter(kind__startswith="payout_", detail__startswith=f"payout {payout.id} ").order_by("id")


async def entry_count() -> int:
    return await JournalEntry.all().count()


async def sweep_approved(operator: Principal, runtime: Runtime) -> None:
    """Exports whatever other tests left approved, so a test can count on its own payouts only."""
    await batches.export_payout_batch(operator, runtime, f"sweep-{secrets.token_hex(6)}")


# --- approving, sending, paying ----------------------------------------------------------------------------


async def test_an_approved_payout_is_sent_then_paid_and_the_ledger_follows_it(operator, runtime, people):
    maker, checker, _ = people
    party = await payee(operator, runtime)
    payout = await pending_payout(runtime, party.id, 10_000, started_by=maker.user_id)
    assert (await held(party.id))["SETTLING"] == 10_000
    in_transit, clearing = await system_held("PAYOUTS_IN_TRANSIT"), await system_held("PSP_CLEARING")

    approval = await service.approve_payout(checker, runtime, payout.id)
    assert approval.approvals_remaining == 0
    assert (approval.payout.status, approval.payout.approved_by_user_id) == ("APPROVED", checker.user_id)
    assert approval.payout.approved_at is not None and approval.payout.approvals_needed == 1

    sent = await service.mark_payout_sent(checker, runtime, payout.id)
    assert sent.status == "SENT" and sent.sent_at is not None
    assert (await held(party.id))["SETTLING"] == 0
    assert await system_held("PAYOUTS_IN_TRANSIT") == in_transit + 10_000

    paid = await service.mark_payout_paid(checker, runtime, payout.id, " BANK-REF-0001 ")
    assert (paid.status, paid.bank_reference) == ("PAID", "BANK-REF-0001")
    assert await system_held("PAYOUTS_IN_TRANSIT") == in_transit
    assert await system_held("PSP_CLEARING") == clearing - 10_000  # the money left the platform
    assert (await held(party.id)) == {"PENDING": 0, "AVAILABLE": 0, "SETTLING": 0}
    assert (await ledger.verify_ledger(operator)).ok

    events = await events_of(payout)
    assert [e.kind for e in events] == ["payout_approved", "payout_sent", "payout_paid"]
    assert {(e.actor_user_id, e.party_id) for e in events} == {(checker.user_id, party.id)}


async def test_below_the_threshold_the_person_who_started_the_run_may_approve(operator, runtime, people):
    maker = people[0]
    payout = await pending_payout(runtime, (await payee(operator, runtime)).id, 5_000_000, started_by=maker.user_id)
    approval = await service.approve_payout(maker, runtime, payout.id)  # CNY 50,000.00: not above the threshold
    assert approval.payout.status == "APPROVED" and approval.payout.approved_by_user_id == maker.user_id
    await service.mark_payout_failed(maker, runtime, payout.id, "test over")


async def test_above_the_threshold_the_person_who_started_the_run_is_refused_and_nothing_is_written(
    operator, runtime, people
):
    maker, checker, _ = people
    payout = await pending_payout(runtime, (await payee(operator, runtime)).id, 5_000_001, started_by=maker.user_id)
    with pytest.raises(InvalidInput) as refused:
        await service.approve_payout(maker, runtime, payout.id)
    assert (refused.value.code, refused.value.field) == (ErrorCode.SAME_PERSON, "payoutId")
    assert "50000.00 CNY" in refused.value.message
    stored = await Payout.get(id=payout.id)
    assert (stored.status, stored.approved_by_user_id, stored.first_approved_by_user_id) == (
        "PENDING_APPROVAL",
        None,
        None,
    )
    assert await events_of(payout) == []

    approval = await service.approve_payout(checker, runtime, payout.id)
    assert approval.payout.status == "APPROVED" and approval.payout.approved_by_user_id == checker.user_id
    await service.mark_payout_failed(checker, runtime, payout.id, "test over")


async def test_above_the_threshold_a_run_no_person_started_needs_two_people(operator, runtime, people):
    """The worker (or an API key) starts a run with no person as maker: above the threshold the first approver
    stands in for the maker and a second person approves."""
    _, checker, third = people
    payout = await pending_payout(runtime, (await payee(operator, runtime)).id, 5_000_001, started_by=None)
    first = await service.approve_payout(checker, runtime, payout.id)
    assert (first.payout.status, first.approvals_remaining) == ("PENDING_APPROVAL", 1)
    with pytest.raises(InvalidInput) as refused:
        await service.approve_payout(checker, runtime, payout.id)
    assert refused.value.code == ErrorCode.SAME_PERSON and "no person started" in refused.value.message
    assert (await service.approve_payout(third, runtime, payout.id)).payout.status == "APPROVED"
    small = await pending_payout(runtime, (await payee(operator, runtime)).id, 5_000_000, started_by=None)
    assert (await service.approve_payout(checker, runtime, small.id)).payout.status == "APPROVED"
    for done in (payout, small):
        await service.mark_payout_failed(checker, runtime, done.id, "test over")


async def test_in_a_currency_without_a_threshold_every_payout_needs_another_person(operator, runtime, people):
    maker, checker, _ = people
    payout = await pending_payout(runtime, (await payee(operator, runtime)).id, 1, "USD", started_by=maker.user_id)
    with pytest.raises(InvalidInput) as refused:
        await service.approve_payout(maker, runtime, payout.id)
    assert refused.value.code == ErrorCode.SAME_PERSON and "USD, which has no approval threshold" in (
        refused.value.message
    )
    assert (await service.approve_payout(checker, runtime, payout.id)).payout.status == "APPROVED"
    await service.mark_payout_failed(checker, runtime, payout.id, "test over")


async def test_a_bank_account_changed_recently_needs_two_different_approvers_whatever_the_amount(
    operator, runtime, people
):
    maker, checker, third = people
    party = await payee(operator, runtime, bank_changed=timedelta(hours=71))
    payout = await pending_payout(runtime, party.id, 100, started_by=maker.user_id)

    first = await service.approve_payout(checker, runtime, payout.id)
    assert first.approvals_remaining == 1
    assert (first.payout.status, first.payout.first_approved_by_user_id, first.payout.approvals_needed) == (
        "PENDING_APPROVAL",
        checker.user_id,
        2,
    )
    assert first.payout.approved_by_user_id is None
    with pytest.raises(InvalidInput) as again:
        await service.approve_payout(checker, runtime, payout.id)
    assert again.value.code == ErrorCode.SAME_PERSON and "second approval" in again.value.message
    assert (await Payout.get(id=payout.id)).status == "PENDING_APPROVAL"

    second = await service.approve_payout(third, runtime, payout.id)
    assert second.approvals_remaining == 0
    assert (second.payout.status, second.payout.approved_by_user_id) == ("APPROVED", third.user_id)
    assert [e.kind for e in await events_of(payout)] == ["payout_first_approval", "payout_approved"]
    await service.mark_payout_failed(third, runtime, payout.id, "test over")


async def test_a_bank_account_changed_longer_ago_than_the_setting_needs_one_approval(operator, runtime, people):
    party = await payee(operator, runtime, bank_changed=timedelta(hours=73))
    payout = await pending_payout(runtime, party.id, 100, started_by=people[0].user_id)
    approval = await service.approve_payout(people[1], runtime, payout.id)
    assert approval.approvals_remaining == 0 and approval.payout.status == "APPROVED"
    await service.mark_payout_failed(people[1], runtime, payout.id, "test over")


async def test_a_party_without_a_bank_account_or_a_merchant_without_verified_kyc_is_not_approved(
    operator, runtime, people
):
    checker = people[1]
    no_account = await pending_payout(runtime, (await payee(operator, runtime, bank_changed=None)).id, 100)
    with pytest.raises(InvalidInput) as refused:
        await service.approve_payout(checker, runtime, no_account.id)
    assert (refused.value.code, refused.value.field) == (ErrorCode.NO_BANK_ACCOUNT, "payoutId")

    unverified = await pending_payout(runtime, (await payee(operator, runtime, kyc=KycStatus.PENDING)).id, 100)
    with pytest.raises(InvalidInput) as refused:
        await service.approve_payout(checker, runtime, unverified.id)
    assert refused.value.code == ErrorCode.KYC_NOT_VERIFIED
    assert {(await Payout.get(id=p.id)).status for p in (no_account, unverified)} == {"PENDING_APPROVAL"}

    courier = await pending_payout(runtime, (await payee(operator, runtime, kind=PartyKind.LOGISTICS)).id, 100)
    assert (await service.approve_payout(checker, runtime, courier.id)).payout.status == "APPROVED"
    for payout in (no_account, unverified, courier):
        await service.mark_payout_failed(checker, runtime, payout.id, "test over")


async def test_only_a_pending_payout_can_be_approved(operator, runtime, people):
    checker = people[1]
    payout = await pending_payout(runtime, (await payee(operator, runtime)).id, 100)
    await service.approve_payout(checker, runtime, payout.id)
    with pytest.raises(InvalidInput) as refused:
        await service.approve_payout(people[2], runtime, payout.id)
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_PAYOUT_STATE, "payoutId")
    assert "is APPROVED" in refused.value.message and "only from PENDING_APPROVAL" in refused.value.message
    with pytest.raises(NotFound):
        await service.approve_payout(checker, runtime, 10**15)
    await service.mark_payout_failed(checker, runtime, payout.id, "test over")


PAID = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, Monday 2 March 2026


def at(runtime: Runtime, instant: datetime) -> Runtime:
    return replace(runtime, clock=lambda: instant)


async def test_a_settlement_runs_payout_is_paid_and_a_failed_one_is_paid_again_by_the_next_statement(
    operator, runtime, people
):
    maker, checker, _ = people
    terms = SettlementProfileDraft("CNY", SettlementCycle.DAILY, 0, 0, "0", 0)
    merchant = await parties.create_merchant(
        operator,
        at(runtime, PAID - LONG_AGO),
        MerchantDraft(
            unique("Settled"), kyc_status=KycStatus.VERIFIED, settlement_profile=terms, bank_account=bank_account()
        ),
    )

    async def day_settled_by_the_maker(day: int) -> tuple[datetime, Payout]:
        paid = PAID + timedelta(days=day)
        await payments.record_payment(operator, at(runtime, paid), payment_input(merchant.id, paid_at=paid))
        now = paid + timedelta(hours=1)
        await releases.release_held_funds(operator, at(runtime, now), now, only_party_ids=[merchant.id])
        run = await settlement_runs.run_settlement(maker, at(runtime, now), now, only_party_ids=[merchant.id])
        assert run.payouts_created == 1
        return now, await Payout.get(settlement__run_id=run.id)

    now, first = await day_settled_by_the_maker(0)
    assert (first.status, first.amount_minor, first.started_by_user_id) == ("PENDING_APPROVAL", 15_800, maker.user_id)
    assert await held(merchant.id) == {"PENDING": 0, "AVAILABLE": 0, "SETTLING": 15_800}
    later = at(runtime, now + timedelta(minutes=30))
    await service.approve_payout(checker, later, first.id)
    await service.mark_payout_sent(checker, later, first.id)
    await service.mark_payout_failed(checker, later, first.id, "rejected by the bank: account frozen")
    assert await held(merchant.id) == {"PENDING": 0, "AVAILABLE": 15_800, "SETTLING": 0}

    now, second = await day_settled_by_the_maker(1)
    assert second.amount_minor == 2 * 15_800  # the day's payment and the returned payout
    kinds = await SettlementLine.filter(settlement_id=second.settlement_id).values_list("kind", flat=True)
    assert LineKind.PAYOUT_RETURNED in kinds
    later = at(runtime, now + timedelta(minutes=30))
    await service.approve_payout(checker, later, second.id)
    await service.mark_payout_sent(checker, later, second.id)
    paid = await service.mark_payout_paid(checker, later, second.id, "CMB-0302-77")
    assert (paid.status, paid.paid_at) == ("PAID", later.now())
    assert await held(merchant.id) == {"PENDING": 0, "AVAILABLE": 0, "SETTLING": 0}
    assert (await ledger.verify_ledger(operator)).ok


# --- failing, and impossible or repeated transitions -------------------------------------------------------


async def test_a_failed_payout_returns_its_money_to_available_from_wherever_it_had_got_to(operator, runtime, people):
    checker = people[1]
    party = await payee(operator, runtime)
    waiting = await pending_payout(runtime, party.id, 300)
    sent = await pending_payout(runtime, party.id, 700)
    await service.approve_payout(checker, runtime, sent.id)
    await service.mark_payout_sent(checker, runtime, sent.id)
    in_transit = await system_held("PAYOUTS_IN_TRANSIT")
    assert await held(party.id) == {"PENDING": 0, "AVAILABLE": 0, "SETTLING": 300}

    failed = await service.mark_payout_failed(checker, runtime, sent.id, "  account closed\n by the bank ")
    assert (failed.status, failed.failure_reason) == ("FAILED", "account closed by the bank")
    assert await system_held("PAYOUTS_IN_TRANSIT") == in_transit - 700
    await service.mark_payout_failed(checker, runtime, waiting.id, "rejected by finance")
    assert await held(party.id) == {"PENDING": 0, "AVAILABLE": 1_000, "SETTLING": 0}
    assert (await ledger.verify_ledger(operator)).ok


async def test_a_failed_payout_cannot_be_paid_and_a_paid_one_cannot_fail(operator, runtime, people):
    checker = people[1]
    party = await payee(operator, runtime)
    failed = await pending_payout(runtime, party.id, 100)
    await service.mark_payout_failed(checker, runtime, failed.id, "rejected")
    with pytest.raises(InvalidInput) as refused:
        await service.mark_payout_paid(checker, runtime, failed.id, "REF-1")
    assert refused.value.code == ErrorCode.INVALID_PAYOUT_STATE and "is FAILED" in refused.value.message
    with pytest.raises(InvalidInput):
        await service.mark_payout_sent(checker, runtime, failed.id)

    paid = await pending_payout(runtime, party.id, 100)
    await service.approve_payout(checker, runtime, paid.id)
    with pytest.raises(InvalidInput) as refused:  # not sent yet
        await service.mark_payout_paid(checker, runtime, paid.id, "REF-2")
    assert refused.value.code == ErrorCode.INVALID_PAYOUT_STATE
    await service.mark_payout_sent(checker, runtime, paid.id)
    await service.mark_payout_paid(checker, runtime, paid.id, "REF-2")
    before = await entry_count()
    with pytest.raises(InvalidInput) as refused:
        await service.mark_payout_failed(checker, runtime, paid.id, "too late")
    assert refused.value.code == ErrorCode.INVALID_PAYOUT_STATE and "is PAID" in refused.value.message
    assert await entry_count() == before and (await Payout.get(id=paid.id)).status == "PAID"


async def test_repeating_a_transition_returns_the_payout_unchanged_and_posts_nothing(operator, runtime, people):
    checker = people[1]
    party = await payee(operator, runtime)
    payout = await pending_payout(runtime, party.id, 100)
    await service.approve_payout(checker, runtime, payout.id)
    first = await service.mark_payout_sent(checker, runtime, payout.id)
    before = await entry_count()
    again = await service.mark_payout_sent(checker, runtime, payout.id)
    assert (again.status, again.sent_at) == ("SENT", first.sent_at)
    await service.mark_payout_paid(checker, runtime, payout.id, "REF-9")
    paid_again = await service.mark_payout_paid(checker, runtime, payout.id, "REF-9")
    assert paid_again.status == "PAID" and await entry_count() == before + 1
    with pytest.raises(InvalidInput) as refused:
        await service.mark_payout_paid(checker, runtime, payout.id, "REF-10")
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_PAYOUT_STATE, "bankReference")

    failing = await pending_payout(runtime, party.id, 100)
    await service.mark_payout_failed(checker, runtime, failing.id, "first reason")
    before = await entry_count()
    failed_again = await service.mark_payout_failed(checker, runtime, failing.id, "second reason")
    assert (failed_again.status, failed_again.failure_reason) == ("FAILED", "first reason")
    assert await entry_count() == before
    assert [e.kind for e in await events_of(payout)] == ["payout_approved", "payout_sent", "payout_paid"]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda p, r, i: service.mark_payout_paid(p, r, i, ""), "bankReference"),
        (lambda p, r, i: service.mark_payout_paid(p, r, i, "x" * 129), "bankReference"),
        (lambda p, r, i: service.mark_payout_paid(p, r, i, "REF\x07"), "bankReference"),
        (lambda p, r, i: service.mark_payout_failed(p, r, i, "   "), "reason"),
        (lambda p, r, i: service.mark_payout_failed(p, r, i, "x" * 401), "reason"),
        (lambda p, r, i: batches.export_payout_batch(p, r, ""), "idempotencyKey"),
    ],
)
async def test_bad_references_reasons_and_keys_are_refused_naming_the_field(operator, runtime, people, call, field):
    payout = await pending_payout(runtime, (await payee(operator, runtime)).id, 100)
    with pytest.raises(InvalidInput) as refused:
        await call(people[1], runtime, payout.id)
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_INPUT, field)
    assert (await Payout.get(id=payout.id)).status == "PENDING_APPROVAL"


async def test_an_api_key_can_never_approve_or_move_a_payout(operator, runtime, world):
    payout = await pending_payout(runtime, (await payee(operator, runtime)).id, 100)
    key = Principal(
        user_id=None,
        party_id=world.platform_id,
        party_kind=PartyKind.PLATFORM,
        role=None,
        permissions=ROLE_PERMISSIONS["platform_admin"],
        api_key_id=1,
    )
    # Even a key that somehow held payouts:approve, and even one that claimed a two-factor session.
    for principal in (key, replace(key, mfa_passed=True)):
        with pytest.raises(MfaRequired):
            await service.approve_payout(principal, runtime, payout.id)
        with pytest.raises(MfaRequired):
            await service.mark_payout_failed(principal, runtime, payout.id, "by a key")
        with pytest.raises(MfaRequired):
            await batches.export_payout_batch(principal, runtime, "by-a-key")
    assert (await Payout.get(id=payout.id)).status == "PENDING_APPROVAL"


# --- approvals that no longer hold -------------------------------------------------------------------------


async def test_a_bank_account_changed_after_approval_sends_the_payout_back_for_approval(operator, runtime, people):
    maker, checker, third = people
    party = await payee(operator, runtime)
    payout = await pending_payout(runtime, party.id, 100, started_by=maker.user_id)
    await service.approve_payout(checker, runtime, payout.id)
    later = replace(runtime, clock=lambda: runtime.now() + timedelta(seconds=1))
    await parties.update_merchant(operator, later, party.id, MerchantChanges(bank_account=bank_account()))

    with pytest.raises(InvalidInput) as refused:
        await service.mark_payout_sent(checker, later, payout.id)
    assert refused.value.code == ErrorCode.INVALID_PAYOUT_STATE and "changed after" in refused.value.message
    stored = await Payout.get(id=payout.id)
    assert (stored.status, stored.approved_by_user_id, stored.approved_at) == ("PENDING_APPROVAL", None, None)
    assert (await held(party.id))["SETTLING"] == 100  # nothing posted

    # The account is new now: two people approve it again.
    assert (await service.approve_payout(checker, later, payout.id)).approvals_remaining == 1
    assert (await service.approve_payout(third, later, payout.id)).payout.status == "APPROVED"
    assert (await service.mark_payout_sent(checker, later, payout.id)).status == "SENT"


# --- the bank file -----------------------------------------------------------------------------------------


def rows_of(csv_text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(csv_text)))


async def test_the_export_sends_every_approved_payout_and_its_file_lists_them(operator, runtime, people):
    checker = people[1]
    await sweep_approved(operator, runtime)
    merchant = await payee(operator, runtime, account=bank_account("6222 0012 3456 7890"))
    courier = await payee(operator, runtime, kind=PartyKind.LOGISTICS)
    first = await pending_payout(runtime, merchant.id, 15_000)
    second = await pending_payout(runtime, courier.id, 1_234)
    third = await pending_payout(runtime, courier.id, 5, "JPY")
    waiting = await pending_payout(runtime, merchant.id, 99)
    for payout in (first, second, third):
        await service.approve_payout(checker, runtime, payout.id)
    in_transit = await system_held("PAYOUTS_IN_TRANSIT")

    exported = await batches.export_payout_batch(checker, runtime, f"batch-{secrets.token_hex(4)}")
    assert not exported.replayed and exported.batch.payout_count == 3
    assert exported.csv_text.splitlines()[0] == ",".join(batches.CSV_COLUMNS)
    assert exported.csv_text.endswith("\r\n")
    rows = rows_of(exported.csv_text)
    assert [row["reference"] for row in rows] == [f"SPLITLEDGER-PAYOUT-{p.id}" for p in (first, second, third)]
    assert rows[0] == {
        "payout_id": batches.global_id("Payout", first.id),
        "party_id": batches.global_id("Merchant", merchant.id),
        "party_name": merchant.name,
        "account_holder": "Payee Holder",
        "bank_name": "Bank of Hangzhou",
        "account_number": "6222001234567890",
        "currency": "CNY",
        "amount": "150.00",
        "reference": f"SPLITLEDGER-PAYOUT-{first.id}",
    }
    assert rows[1]["party_id"] == batches.global_id("LogisticsPartner", courier.id)
    assert [(row["currency"], row["amount"]) for row in rows[1:]] == [("CNY", "12.34"), ("JPY", "5")]
    assert exported.totals_minor == {"CNY": 16_234, "JPY": 5}

    stored = {p.id: p for p in await Payout.filter(id__in=[first.id, second.id, third.id, waiting.id])}
    assert {stored[p.id].status for p in (first, second, third)} == {"SENT"}
    assert {stored[p.id].batch_id for p in (first, second, third)} == {exported.batch.id}
    assert (stored[waiting.id].status, stored[waiting.id].batch_id) == ("PENDING_APPROVAL", None)
    assert await system_held("PAYOUTS_IN_TRANSIT") == in_transit + 16_234
    assert await system_held("PAYOUTS_IN_TRANSIT", "JPY") >= 5
    assert (await ledger.verify_ledger(operator)).ok
    await service.mark_payout_failed(checker, runtime, waiting.id, "test over")


async def test_exporting_again_with_the_same_key_returns_the_same_batch_and_file_and_marks_nothing(
    operator, runtime, people
):
    checker = people[1]
    payout = await pending_payout(runtime, (await payee(operator, runtime)).id, 100)
    await service.approve_payout(checker, runtime, payout.id)
    key = f"batch-{secrets.token_hex(4)}"
    exported = await batches.export_payout_batch(checker, runtime, key)
    await service.mark_payout_paid(checker, runtime, payout.id, "REF-REPLAY")  # later news changes nothing
    late = await pending_payout(runtime, (await payee(operator, runtime)).id, 100)
    await service.approve_payout(checker, runtime, late.id)
    before = await entry_count()

    replayed = await batches.export_payout_batch(checker, runtime, key)
    assert replayed.replayed and replayed.batch.id == exported.batch.id
    assert replayed.csv_text == exported.csv_text and replayed.totals_minor == exported.totals_minor
    assert await entry_count() == before
    assert (await Payout.get(id=late.id)).status == "APPROVED"
    await service.mark_payout_failed(checker, runtime, late.id, "test over")


async def test_an_export_with_nothing_approved_is_a_file_with_its_header_only(operator, runtime, people):
    await sweep_approved(operator, runtime)
    exported = await batches.export_payout_batch(people[1], runtime, f"empty-{secrets.token_hex(4)}")
    assert exported.batch.payout_count == 0 and exported.payouts == [] and exported.totals_minor == {}
    assert exported.csv_text == ",".join(batches.CSV_COLUMNS) + "\r\n"


async def test_a_payout_whose_bank_account_changed_after_approval_is_left_out_of_the_file(operator, runtime, people):
    checker = people[1]
    await sweep_approved(operator, runtime)
    party = await payee(operator, runtime)
    payout = await pending_payout(runtime, party.id, 100)
    await service.approve_payout(checker, runtime, payout.id)
    later = replace(runtime, clock=lambda: runtime.now() + timedelta(seconds=1))
    await parties.update_merchant(operator, later, party.id, MerchantChanges(bank_account=bank_account()))

    exported = await batches.export_payout_batch(checker, later, f"batch-{secrets.token_hex(4)}")
    assert exported.batch.payout_count == 0
    assert (await Payout.get(id=payout.id)).status == "PENDING_APPROVAL"
    assert [e.kind for e in await events_of(payout)][-1] == "payout_approval_withdrawn"
    await service.mark_payout_failed(checker, runtime, payout.id, "test over")


async def test_a_file_is_not_produced_again_once_a_party_changed_its_bank_account(operator, runtime, people):
    checker = people[1]
    party = await payee(operator, runtime)
    payout = await pending_payout(runtime, party.id, 100)
    await service.approve_payout(checker, runtime, payout.id)
    key = f"batch-{secrets.token_hex(4)}"
    await batches.export_payout_batch(checker, runtime, key)
    later = replace(runtime, clock=lambda: runtime.now() + timedelta(seconds=1))
    await parties.update_merchant(operator, later, party.id, MerchantChanges(bank_account=bank_account()))
    with pytest.raises(InvalidInput) as refused:
        await batches.export_payout_batch(checker, later, key)
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_PAYOUT_STATE, "idempotencyKey")


async def test_a_formula_in_a_name_reaches_the_file_as_text(operator, runtime, people):
    checker = people[1]
    await sweep_approved(operator, runtime)
    party = await payee(operator, runtime, account=BankAccountDraft("=HYPERLINK(1)", "@Bank", "622200001111"))
    payout = await pending_payout(runtime, party.id, 100)
    await service.approve_payout(checker, runtime, payout.id)
    row = rows_of((await batches.export_payout_batch(checker, runtime, secrets.token_hex(6))).csv_text)[0]
    assert (row["account_holder"], row["bank_name"]) == ("'=HYPERLINK(1)", "'@Bank")


@pytest.mark.postgres_only
async def test_two_exports_at_once_never_put_a_payout_in_two_batches(operator, runtime, people):
    """The first export holds its payouts while it waits (here: on a SETTLING balance another transaction holds);
    the second skips them instead of waiting, and never takes one of them."""
    checker = people[1]
    await sweep_approved(operator, runtime)
    party = await payee(operator, runtime)
    approved = [await pending_payout(runtime, party.id, 100 + n) for n in range(5)]
    for payout in approved:
        await service.approve_payout(checker, runtime, payout.id)
    settling = await LedgerAccount.get(party_id=party.id, currency="CNY", bucket=Bucket.SETTLING)
    held_open, release_lock = asyncio.Event(), asyncio.Event()

    async def hold_the_balance() -> None:
        async with in_transaction():
            await LedgerAccount.filter(id=settling.id).select_for_update().get()
            held_open.set()
            await release_lock.wait()

    from tests.integration.races import writers_waiting

    holder = asyncio.create_task(hold_the_balance())
    await held_open.wait()
    first = asyncio.create_task(batches.export_payout_batch(checker, runtime, f"race-a-{secrets.token_hex(4)}"))
    try:
        await writers_waiting(1)
        second = await asyncio.wait_for(
            batches.export_payout_batch(people[2], runtime, f"race-b-{secrets.token_hex(4)}"), timeout=10
        )
    finally:
        release_lock.set()
        await holder
    first_batch = await first
    assert second.batch.payout_count == 0 and second.payouts == []
    assert sorted(p.id for p in first_batch.payouts) == [p.id for p in approved]
    stored = await Payout.filter(id__in=[p.id for p in approved])
    assert {(p.status, p.batch_id) for p in stored} == {("SENT", first_batch.batch.id)}
    assert (await held(party.id))["SETTLING"] == 0
    assert (await ledger.verify_ledger(operator)).ok


@pytest.mark.postgres_only
async def test_many_exports_at_once_send_each_payout_once(operator, runtime, people):
    checker = people[1]
    await sweep_approved(operator, runtime)
    party = await payee(operator, runtime)
    approved = [await pending_payout(runtime, party.id, 100) for _ in range(12)]
    for payout in approved:
        await service.approve_payout(checker, runtime, payout.id)
    key = f"same-{secrets.token_hex(4)}"
    keys = [key, key, *(f"race-{n}-{secrets.token_hex(4)}" for n in range(4))]
    exports = await asyncio.gather(*(batches.export_payout_batch(checker, runtime, k) for k in keys))
    batched = [p.id for e in exports if not e.replayed for p in e.payouts]
    assert sorted(batched) == sorted(p.id for p in approved)  # each exactly once
    assert exports[0].batch.id == exports[1].batch.id and [e.replayed for e in exports[:2]].count(True) == 1
    assert (await held(party.id))["SETTLING"] == 0
    assert (await ledger.verify_ledger(operator)).ok


# --- who sees which payouts ----------------------------------------------------------------------------------


async def test_a_party_does_not_see_another_partys_payouts(operator, runtime, world):
    own_party = await payee(operator, runtime)
    other_party = await payee(operator, runtime)
    courier = await payee(operator, runtime, kind=PartyKind.LOGISTICS)
    own = await pending_payout(runtime, own_party.id, 100)
    other = await pending_payout(runtime, other_party.id, 100)
    carried = await pending_payout(runtime, courier.id, 100)
    merchant = person(1, own_party.id, "merchant_finance", PartyKind.MERCHANT)
    partner = person(2, courier.id, "logistics_partner", PartyKind.LOGISTICS)
    page = PageRequest(first=100)

    assert [p.id for p in (await service.list_payouts(merchant, runtime, page)).items] == [own.id]
    assert (await service.list_payouts(merchant, runtime, page, party_id=other_party.id)).items == []
    assert set(await service.payouts_by_ids(merchant, [own.id, other.id, carried.id])) == {own.id}
    assert [p.id for p in (await service.list_payouts(partner, runtime, page)).items] == [carried.id]
    assert set(await service.payouts_by_ids(partner, [own.id, other.id, carried.id])) == {carried.id}

    everyone = await service.list_payouts(operator, runtime, page, status="PENDING_APPROVAL", party_id=other_party.id)
    assert [p.id for p in everyone.items] == [other.id]
    with pytest.raises(NotFound):  # a party cannot move even its own payout
        await service.mark_payout_failed(
            replace(merchant, permissions=merchant.permissions | {"payouts:approve"}), runtime, own.id, "mine"
        )


# --- the settings --------------------------------------------------------------------------------------------


async def test_thresholds_and_the_bank_change_window_are_settings_checked_before_anything_is_written(
    operator, runtime, people
):
    maker, checker, _ = people
    with pytest.raises(InvalidInput) as refused:
        await platform_settings.update(
            operator,
            runtime,
            payout_approval_thresholds=[
                ThresholdDraft("CNY", "1.001"),
                ThresholdDraft("XYZ", "1"),
                ThresholdDraft("usd", "1"),
                ThresholdDraft("USD", "2"),
            ],
            payout_bank_change_hours=5,
        )
    assert [(e.code, e.field) for e in refused.value.errors] == [
        (ErrorCode.TOO_MANY_DECIMALS, "payoutApprovalThresholds[0].amount"),
        (ErrorCode.UNKNOWN_CURRENCY, "payoutApprovalThresholds[1].currency"),
        (ErrorCode.INVALID_INPUT, "payoutApprovalThresholds[3].currency"),
    ]
    for hours in (-1, 721):
        with pytest.raises(InvalidInput) as refused:
            await platform_settings.update(operator, runtime, payout_bank_change_hours=hours)
        assert refused.value.field == "bankChangeSecondApprovalHours"
    unchanged = await platform_settings.current()
    assert (unchanged.payout_approval_thresholds, unchanged.payout_bank_change_hours) == ({"CNY": 5_000_000}, 72)

    try:
        changed = await platform_settings.update(
            operator, runtime, payout_approval_thresholds=[ThresholdDraft("USD", "10.00")], payout_bank_change_hours=0
        )
        assert (changed.payout_approval_thresholds, changed.payout_bank_change_hours) == ({"USD": 1000}, 0)
        party = await payee(operator, runtime, bank_changed=timedelta(hours=1))
        usd = await pending_payout(runtime, party.id, 1000, "USD", started_by=maker.user_id)
        assert (await service.approve_payout(maker, runtime, usd.id)).payout.status == "APPROVED"  # one person
        cny = await pending_payout(runtime, party.id, 100, started_by=maker.user_id)
        with pytest.raises(InvalidInput) as refused:  # CNY has no threshold any more
            await service.approve_payout(maker, runtime, cny.id)
        assert refused.value.code == ErrorCode.SAME_PERSON
        for payout in (usd, cny):
            await service.mark_payout_failed(checker, runtime, payout.id, "test over")
    finally:
        restored = await platform_settings.update(
            operator,
            runtime,
            payout_approval_thresholds=[ThresholdDraft("CNY", "50000.00")],
            payout_bank_change_hours=72,
        )
    assert (restored.payout_approval_thresholds, restored.payout_bank_change_hours) == ({"CNY": 5_000_000}, 72)
