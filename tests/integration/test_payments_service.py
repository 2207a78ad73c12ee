"""Recording payments on a real database: splits, allocations, one balanced entry, idempotency, bad input."""

from __future__ import annotations

import asyncio
import contextvars
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from tortoise.transactions import in_transaction

from domain.errors import AlreadyExists, ErrorCode, InvalidInput, NotFound
from domain.ledger import Bucket
from domain.models import Allocation, AppendOnlyViolation, JournalEntry, Payment, Posting
from domain.parties import KycStatus
from domain.payments import LineItemInput, write_order
from domain.rules import Basis, BeneficiaryKind, Computation, Conditions, Leg, RuleDraft
from domain.services import ledger, payment_store, payments, rules
from tests.conftest import activate_newest_version, payment_input
from tests.integration.races import key_held_open, writers_waiting

NOW = datetime.now(UTC)


async def test_a_payment_is_split_stored_and_posted_as_one_balanced_entry(operator, runtime, make_merchant, world):
    merchant = await make_merchant()
    recorded = await payments.record_payment(
        operator, runtime, payment_input(merchant.id, logistics_partner_id=world.logistics_a_id)
    )
    assert not recorded.replayed
    allocations = await Allocation.filter(payment_id=recorded.payment.id)
    by_party = {a.party_id: a.amount_minor for a in allocations}
    assert by_party == {merchant.id: 15000, world.logistics_a_id: 800}
    assert sum(by_party.values()) == recorded.payment.total_minor == 15800
    postings = await Posting.filter(entry_id=recorded.payment.journal_entry_id)
    assert sum(p.amount_minor for p in postings) == 0 and len(postings) == 3
    pending = {
        b.party_id: b.amount_minor for b in await ledger.balances(operator, merchant.id) if b.bucket == Bucket.PENDING
    }
    assert pending == {merchant.id: 15000}


async def test_an_active_rule_takes_its_commission(operator, runtime, make_merchant):
    merchant = await make_merchant()
    draft = RuleDraft(
        priority=10,
        conditions=Conditions(merchant_ids=frozenset({merchant.id})),
        legs=(Leg(BeneficiaryKind.PLATFORM, Basis.ITEM_AMOUNT, Computation(rate_bps=200)),),
    )
    rule = await rules.create_rule(
        operator, runtime, rules.RuleInput("Two percent", None, draft, NOW - timedelta(days=1))
    )
    await activate_newest_version(operator, runtime, rule.id)
    recorded = await payments.record_payment(
        operator,
        runtime,
        payment_input(
            merchant.id, total_amount="150.00", shipping_fee="0", line_items=[LineItemInput("t", "tea", "150.00", 1)]
        ),
    )
    allocations = await Allocation.filter(payment_id=recorded.payment.id)
    assert {a.role: a.amount_minor for a in allocations} == {"PLATFORM": 300, "MERCHANT": 14700}
    version = (await rules.versions_of(operator, [rule.id]))[rule.id][-1]
    assert {a.rule_version_id for a in allocations} == {version.id}


async def test_replaying_a_key_returns_the_first_result_and_a_changed_request_conflicts(
    operator, runtime, make_merchant
):
    merchant = await make_merchant()
    data = payment_input(merchant.id)
    first = await payments.record_payment(operator, runtime, data)
    again = await payments.record_payment(operator, runtime, data)
    assert again.replayed and again.payment.id == first.payment.id
    with pytest.raises(AlreadyExists) as caught:
        await payments.record_payment(
            operator,
            runtime,
            payment_input(
                merchant.id,
                idempotency_key=data.idempotency_key,
                external_order_id=data.external_order_id,
                total_amount="159.00",
                shipping_fee="9.00",
            ),
        )
    assert caught.value.code == ErrorCode.IDEMPOTENCY_CONFLICT
    with pytest.raises(AlreadyExists) as caught:
        await payments.record_payment(
            operator, runtime, payment_input(merchant.id, external_order_id=data.external_order_id)
        )
    assert caught.value.code == ErrorCode.DUPLICATE_EXTERNAL_ORDER
    assert await Payment.filter(merchant_id=merchant.id).count() == 1


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"total_amount": "100.00"}, ErrorCode.TOTAL_MISMATCH, "totalAmount"),
        ({"currency": "XYZ"}, ErrorCode.UNKNOWN_CURRENCY, "currency"),
        (
            {"line_items": [LineItemInput("t", "tea", "50.001", 3)]},
            ErrorCode.TOO_MANY_DECIMALS,
            "lineItems[0].unitAmount",
        ),
        ({"line_items": [LineItemInput("t", "tea", "50.00", 0)]}, ErrorCode.INVALID_INPUT, "lineItems[0].quantity"),
        ({"line_items": []}, ErrorCode.INVALID_PAYMENT, "lineItems"),
        ({"shipping_fee": "-8.00"}, ErrorCode.NEGATIVE_AMOUNT, "shippingFee"),
    ],
)
async def test_bad_payments_are_refused_naming_the_field_and_write_nothing(
    operator, runtime, make_merchant, overrides, code, field
):
    merchant = await make_merchant()
    with pytest.raises(InvalidInput) as caught:
        await payments.record_payment(operator, runtime, payment_input(merchant.id, **overrides))
    assert (caught.value.code, caught.value.field) == (code, field)
    assert not await Payment.filter(merchant_id=merchant.id).exists()


async def test_a_suspended_or_unverified_merchant_cannot_take_payments(operator, runtime, make_merchant):
    for status in (KycStatus.SUSPENDED, KycStatus.PENDING):
        merchant = await make_merchant(kyc_status=status)
        with pytest.raises(InvalidInput) as caught:
            await payments.record_payment(operator, runtime, payment_input(merchant.id))
        assert caught.value.code == ErrorCode.MERCHANT_NOT_ALLOWED


async def test_an_unknown_logistics_partner_is_refused(operator, runtime, make_merchant, world):
    merchant = await make_merchant()
    for partner in (999_999_999, world.merchant_b_id):
        with pytest.raises(NotFound) as caught:
            await payments.record_payment(operator, runtime, payment_input(merchant.id, logistics_partner_id=partner))
        assert caught.value.field == "logisticsPartnerId"


async def test_posted_ledger_rows_can_never_change(operator, runtime, make_merchant):
    merchant = await make_merchant()
    recorded = await payments.record_payment(operator, runtime, payment_input(merchant.id))
    posting = await Posting.filter(entry_id=recorded.payment.journal_entry_id).first()
    with pytest.raises(AppendOnlyViolation):
        posting.amount_minor += 1
        await posting.save()
    with pytest.raises(AppendOnlyViolation):
        await posting.delete()
    for attempt in (
        Posting.filter(id=posting.id).update(amount_minor=0),
        Posting.filter(id=posting.id).delete(),
        JournalEntry.filter(id=recorded.payment.journal_entry_id).delete(),
    ):
        # The database's trigger refuses (tortoise wraps it differently per driver; the message is ours).
        with pytest.raises(Exception, match="append-only"):
            async with in_transaction():
                await attempt
    assert (await Posting.get(id=posting.id)).amount_minor == posting.amount_minor - 1


async def test_a_batch_reports_each_payment(operator, runtime, make_merchant):
    merchant = await make_merchant()
    good, bad = payment_input(merchant.id), payment_input(merchant.id, total_amount="1.00")
    results = await payments.record_payments(operator, runtime, [good, bad, good])
    assert isinstance(results[0], payments.Recorded) and not results[0].replayed
    assert isinstance(results[1], InvalidInput) and results[1].code == ErrorCode.TOTAL_MISMATCH
    assert isinstance(results[2], payments.Recorded) and results[2].replayed


async def test_the_ledger_verifies(operator):
    check = await ledger.verify_ledger(operator)
    assert check.ok and check.entries_checked > 0, check


@pytest.mark.postgres_only
async def test_twenty_concurrent_requests_with_one_key_make_one_payment(operator, runtime, make_merchant):
    merchant = await make_merchant()
    data = payment_input(merchant.id)
    outcomes = await asyncio.gather(*(payments.record_payment(operator, runtime, data) for _ in range(20)))
    assert len({o.payment.id for o in outcomes}) == 1 and sum(not o.replayed for o in outcomes) == 1
    assert await Payment.filter(merchant_id=merchant.id).count() == 1
    assert await JournalEntry.filter(payment_id=outcomes[0].payment.id).count() == 1


@pytest.mark.postgres_only
async def test_twenty_concurrent_payments_leave_balances_equal_to_postings(operator, runtime, make_merchant, world):
    merchant = await make_merchant()
    await asyncio.gather(
        *(
            payments.record_payment(
                operator, runtime, payment_input(merchant.id, logistics_partner_id=world.logistics_a_id)
            )
            for _ in range(20)
        )
    )
    pending = {b.bucket: b.amount_minor for b in await ledger.balances(operator, merchant.id)}
    assert pending == {Bucket.PENDING: 20 * 15000}
    assert (await ledger.verify_ledger(operator)).ok


async def test_random_rules_and_payments_record_exactly_and_idempotently(operator, runtime, make_merchant, world):
    """Property-style over the database (seeded, so a failure replays): for random active rules and random
    payments, allocations sum exactly to each payment, no share is negative, and recording twice changes nothing."""
    import random

    rng = random.Random(20261121)
    merchant = await make_merchant()
    for index in range(4):
        legs = [
            Leg(
                rng.choice([BeneficiaryKind.PLATFORM, BeneficiaryKind.LOGISTICS]),
                rng.choice(list(Basis)),
                Computation(rate_bps=rng.randint(0, 900), fixed_minor=rng.choice([0, 0, 50])),
            )
            for _ in range(rng.randint(1, 3))
        ]
        legs = [leg for leg in legs if leg.computation.rate_bps or leg.computation.fixed_minor] or [
            Leg(BeneficiaryKind.PLATFORM, Basis.ITEM_AMOUNT, Computation(rate_bps=100))
        ]
        draft = RuleDraft(
            priority=rng.randint(0, 5),
            legs=tuple(legs),
            conditions=Conditions(
                merchant_ids=frozenset({merchant.id}), categories=frozenset(rng.sample(["tea", "silk", "toys"], 1))
            ),
        )
        rule = await rules.create_rule(
            operator, runtime, rules.RuleInput(f"random {index}", None, draft, NOW - timedelta(days=1))
        )
        await activate_newest_version(operator, runtime, rule.id)
    for _ in range(25):
        items = [
            LineItemInput(
                f"s{rng.randint(1, 9)}",
                rng.choice(["tea", "silk", "toys"]),
                f"{rng.randint(0, 5000)}.{rng.randint(0, 99):02d}",
                rng.randint(1, 4),
            )
            for _ in range(rng.randint(1, 5))
        ]
        shipping = rng.choice([0, 500, 1234])
        total = sum(int(i.unit_amount.replace(".", "")) * i.quantity for i in items) + shipping  # type: ignore[union-attr]
        data = payment_input(
            merchant.id,
            line_items=items,
            shipping_fee=f"{shipping // 100}.{shipping % 100:02d}",
            total_amount=f"{total // 100}.{total % 100:02d}",
            logistics_partner_id=rng.choice([None, world.logistics_a_id]),
        )
        first = await payments.record_payment(operator, runtime, data)
        again = await payments.record_payment(operator, runtime, data)
        assert again.replayed and again.payment.id == first.payment.id
        shares = await Allocation.filter(payment_id=first.payment.id)
        assert sum(a.amount_minor for a in shares) == total and all(a.amount_minor > 0 for a in shares)
        assert await JournalEntry.filter(payment_id=first.payment.id).count() == 1
    assert (await ledger.verify_ledger(operator)).ok


@pytest.mark.postgres_only
async def test_concurrent_overlapping_batches_record_each_payment_once(operator, runtime, make_merchant, world):
    merchant = await make_merchant()
    batch = [payment_input(merchant.id, logistics_partner_id=world.logistics_a_id) for _ in range(40)]
    batch.append(batch[0])  # an in-batch replay
    outcomes = await asyncio.gather(*(payments.record_payments(operator, runtime, batch) for _ in range(4)))
    for results in outcomes:
        assert all(isinstance(result, payments.Recorded) for result in results)
        assert results[-1].payment.id == results[0].payment.id
    assert {r.payment.id for results in outcomes for r in results} == {r.payment.id for r in outcomes[0]}
    assert await Payment.filter(merchant_id=merchant.id).count() == 40
    assert await JournalEntry.filter(payment_id__in=[r.payment.id for r in outcomes[0]]).count() == 40
    assert (await ledger.verify_ledger(operator)).ok


def spy_on_write_conflicts(monkeypatch) -> list[payment_store.WriteConflict]:
    """Every WriteConflict (a deadlock or serialization failure) that the store raises from now on."""
    conflicts: list[payment_store.WriteConflict] = []
    add_all = payment_store.add_all

    async def spying_add_all(items):
        try:
            return await add_all(items)
        except payment_store.WriteConflict as exc:
            conflicts.append(exc)
            raise

    monkeypatch.setattr(payment_store, "add_all", spying_add_all)
    return conflicts


def assert_each_payment_recorded_once(forward, backward) -> None:
    """Both writers answer with the same payment for each input, and exactly one of them recorded it."""
    for first, second in zip(forward, backward, strict=True):
        assert isinstance(first, payments.Recorded) and isinstance(second, payments.Recorded), (first, second)
        assert first.payment.id == second.payment.id
        assert [first.replayed, second.replayed].count(False) == 1


@pytest.mark.postgres_only
async def test_batches_of_the_same_payments_in_opposite_order_do_not_deadlock(
    operator, runtime, make_merchant, world, monkeypatch
):
    """Given two batches of the same new payments, one reversed, when both are recorded at once, then neither
    fails: both insert in the one shared order, so the second waits for the first instead of deadlocking with it.
    (They once each inserted in their own order, deadlocked, and the loser got a server error.)"""
    conflicts = spy_on_write_conflicts(monkeypatch)
    merchants = [await make_merchant(), await make_merchant()]
    for _ in range(10):
        batch = [payment_input(merchants[n % 2].id, logistics_partner_id=world.logistics_a_id) for n in range(40)]
        middle = batch[len(batch) // 2]
        # Both writers stop at the middle payment, holding what they inserted before it; then both go on.
        async with key_held_open(middle.merchant_id, middle.idempotency_key):
            writers = [
                asyncio.create_task(payments.record_payments(operator, runtime, batch)),
                asyncio.create_task(payments.record_payments(operator, runtime, batch[::-1])),
            ]
            await writers_waiting(2)
        forward, backward = await asyncio.gather(*writers)
        assert_each_payment_recorded_once(forward, backward[::-1])
        ids = [result.payment.id for result in forward]
        stored = await Payment.filter(id__in=ids).values_list("merchant_id", "idempotency_key")
        assert sorted(stored) == sorted((data.merchant_id, data.idempotency_key) for data in batch)
        assert await JournalEntry.filter(payment_id__in=ids).count() == 40
    assert conflicts == []  # the shared order prevented every deadlock; the fallback was not needed
    assert (await ledger.verify_ledger(operator)).ok


@pytest.mark.postgres_only
async def test_a_deadlock_is_a_lost_race_and_the_loser_records_one_payment_at_a_time(
    operator, runtime, make_merchant, monkeypatch
):
    """Given a writer that inserts in the reverse of the shared order (a bug, or an older build during a rolling
    deploy), when it meets a batch of the same payments, then PostgreSQL breaks the deadlock and the writer it
    rolled back redoes its batch one payment at a time: no error, each payment recorded once."""
    backwards = contextvars.ContextVar("backwards", default=False)

    def order(payment):
        merchant_id, key = write_order(payment)
        return (-merchant_id, tuple(-byte for byte in key.encode())) if backwards.get() else (merchant_id, key)

    async def record_backwards(batch):
        backwards.set(True)  # in this task only
        return await payments.record_payments(operator, runtime, batch)

    monkeypatch.setattr(payment_store, "write_order", order)
    conflicts = spy_on_write_conflicts(monkeypatch)
    merchant = await make_merchant()
    for round_number in range(1, 4):
        batch = [payment_input(merchant.id) for _ in range(40)]
        middle = batch[len(batch) // 2]
        async with key_held_open(middle.merchant_id, middle.idempotency_key):
            writers = [
                asyncio.create_task(payments.record_payments(operator, runtime, batch)),
                asyncio.create_task(record_backwards(batch)),
            ]
            await writers_waiting(2)
        assert_each_payment_recorded_once(*await asyncio.gather(*writers))
        assert len(conflicts) == round_number  # one deadlock per round, each absorbed
        assert isinstance(conflicts[-1].__cause__, asyncpg.exceptions.DeadlockDetectedError)
    assert await Payment.filter(merchant_id=merchant.id).count() == 120
    assert (await ledger.verify_ledger(operator)).ok


async def test_a_payment_whose_write_was_rolled_back_by_a_deadlock_is_written_again(
    operator, runtime, make_merchant, monkeypatch
):
    merchant = await make_merchant()
    add = payment_store.add
    attempts = []

    async def deadlocked_once(payment, split):
        attempts.append(payment.idempotency_key)
        if len(attempts) == 1:
            raise payment_store.WriteConflict("deadlock detected")
        return await add(payment, split)

    monkeypatch.setattr(payment_store, "add", deadlocked_once)
    recorded = await payments.record_payment(operator, runtime, payment_input(merchant.id))
    assert not recorded.replayed and len(attempts) == 2
    assert await Payment.filter(merchant_id=merchant.id).count() == 1


async def test_a_batch_whose_write_was_rolled_back_by_a_deadlock_is_recorded_one_by_one(
    operator, runtime, make_merchant, monkeypatch
):
    add_all = payment_store.add_all

    async def batch_deadlocked(items):
        if len(items) > 1:
            raise payment_store.WriteConflict("deadlock detected")
        return await add_all(items)

    merchant = await make_merchant()
    monkeypatch.setattr(payment_store, "add_all", batch_deadlocked)
    batch = [payment_input(merchant.id) for _ in range(3)]
    results = await payments.record_payments(operator, runtime, [*batch, batch[0]])
    assert [(type(r), r.replayed) for r in results] == [(payments.Recorded, False)] * 3 + [(payments.Recorded, True)]
    assert await Payment.filter(merchant_id=merchant.id).count() == 3
