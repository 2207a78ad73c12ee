"""The ledger service on a real database: posting under ordered locks, the locked balance check, paging entries
in SQL, and a verification that notices tampered allocations and totals."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from contextlib import contextmanager

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from auth.principal import Principal
from auth.roles import ROLE_PERMISSIONS
from domain.errors import ErrorCode
from domain.ledger import (
    AccountKey,
    Bucket,
    EntryKind,
    JournalEntryDraft,
    SystemAccount,
    UnbalancedEntry,
    capture,
    release,
    settle,
)
from domain.models import Allocation, JournalEntry, LedgerAccount, Payment
from domain.parties import PartyKind
from domain.services import dialect, ledger, payments
from domain.services.pagination import PageRequest
from tests.conftest import payment_input
from tests.integration.tampering import triggers_bypassed


def is_postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


def available(party_id: int) -> AccountKey:
    return AccountKey("CNY", party_id, Bucket.AVAILABLE)


async def held(operator: Principal, party_id: int) -> dict[str, int]:
    return {b.bucket: b.amount_minor for b in await ledger.balances(operator, party_id)}


async def post(*entries: JournalEntryDraft, **options) -> list[int]:
    async with in_transaction():
        return await ledger.post_entries(list(entries), **options)


@contextmanager
def statements(caplog: pytest.LogCaptureFixture):
    """Counts the SQL statements run inside the block (tortoise logs each one at DEBUG)."""
    counted: list[int] = []
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        yield counted
    counted.append(sum(1 for record in caplog.records if record.name == "tortoise.db_client"))


# --- posting --------------------------------------------------------------------------------------------------


async def test_posting_several_entries_at_once_moves_each_balance_by_its_net_change(operator, make_merchant):
    merchant = await make_merchant()
    ids = await post(
        capture("CNY", 10_000, {merchant.id: 10_000}, memo="bulk"),
        release(merchant.id, "CNY", 4_000),
        settle(merchant.id, "CNY", 1_000),
    )
    assert len(ids) == 3 and ids == sorted(ids)
    kinds = [row.kind for row in await JournalEntry.filter(id__in=ids).order_by("id")]
    assert kinds == [EntryKind.CAPTURE.value, EntryKind.RELEASE.value, EntryKind.SETTLE.value]
    assert await held(operator, merchant.id) == {"PENDING": 6_000, "AVAILABLE": 3_000, "SETTLING": 1_000}
    check = await ledger.verify_ledger(operator)
    assert check.ok, check


async def test_an_entry_tampered_with_after_it_was_built_is_never_posted(make_merchant):
    merchant = await make_merchant()
    entry = capture("CNY", 500, {merchant.id: 500}, memo="to be tampered with")
    object.__setattr__(entry, "postings", entry.postings[:1])  # what a frozen dataclass cannot stop
    with pytest.raises(UnbalancedEntry):
        await post(entry)
    assert not await JournalEntry.filter(memo="to be tampered with").exists()


@pytest.mark.postgres_only
async def test_entries_posted_with_pre_allocated_ids_keep_them(make_merchant):
    merchant = await make_merchant()
    async with in_transaction():
        ids = await dialect.next_ids("journal_entries", 2)
        posted = await ledger.post_entries(
            [capture("CNY", 300, {merchant.id: 300}), release(merchant.id, "CNY", 300)], entry_ids=ids
        )
    assert posted == ids
    assert await JournalEntry.filter(id__in=ids).count() == 2


@pytest.mark.postgres_only
async def test_posting_many_entries_takes_no_more_statements_than_posting_one(make_merchant, caplog):
    merchant = await make_merchant()
    await post(capture("CNY", 100_000, {merchant.id: 100_000}), release(merchant.id, "CNY", 1))  # both accounts
    with statements(caplog) as one:
        await post(release(merchant.id, "CNY", 1))
    with statements(caplog) as many:
        await post(*(release(merchant.id, "CNY", 1) for _ in range(40)))
    assert one == many


@pytest.mark.postgres_only
async def test_concurrent_posters_on_shared_accounts_all_commit(operator, make_merchant):
    """Every poster locks balance rows in ascending id order, after or before inserting its postings (which take
    key-share locks on the accounts): with a plain FOR UPDATE these two kinds of poster deadlocked."""
    merchants = [(await make_merchant()).id for _ in range(3)]

    async def one(index: int) -> None:
        order = merchants[index % 3 :] + merchants[: index % 3]
        entry = capture("CNY", 600, dict(zip(order, (100, 200, 300), strict=True)), memo=f"shared {index}")
        requirement = [ledger.AtLeast(AccountKey("CNY", system=SystemAccount.PSP_CLEARING), 0)] if index % 2 else []
        await post(entry, at_least=requirement)

    await asyncio.gather(*(one(index) for index in range(30)))
    assert sum([(await held(operator, merchant))["PENDING"] for merchant in merchants]) == 30 * 600
    assert (await ledger.verify_ledger(operator)).ok


# --- the locked check ---------------------------------------------------------------------------------------


async def test_a_bucket_that_holds_less_than_asked_refuses_with_insufficient_funds(operator, make_merchant):
    merchant = await make_merchant()
    await post(capture("CNY", 1_000, {merchant.id: 1_000}), release(merchant.id, "CNY", 1_000))
    with pytest.raises(ledger.InsufficientFunds) as caught:
        await post(settle(merchant.id, "CNY", 1_001), at_least=[ledger.AtLeast(available(merchant.id), 1_001)])
    assert caught.value.code == ErrorCode.INSUFFICIENT_FUNDS
    assert "10.00 CNY" in caught.value.message and "10.01" in caught.value.message  # major units
    settling = AccountKey("CNY", merchant.id, Bucket.SETTLING)  # no such account yet: it holds nothing
    with pytest.raises(ledger.InsufficientFunds):
        await post(release(merchant.id, "CNY", 1), at_least=[ledger.AtLeast(settling, 1)])
    await post(settle(merchant.id, "CNY", 1_000), at_least=[ledger.AtLeast(available(merchant.id), 1_000)])
    assert await held(operator, merchant.id) == {"PENDING": 0, "AVAILABLE": 0, "SETTLING": 1_000}


async def test_posting_with_a_condition_that_fails_writes_nothing(operator, make_merchant):
    merchant = await make_merchant()
    await post(capture("CNY", 1_000, {merchant.id: 1_000}), release(merchant.id, "CNY", 1_000))
    entries_before = await JournalEntry.all().count()
    async with in_transaction():
        with pytest.raises(ledger.InsufficientFunds):
            await ledger.post_entries(
                [settle(merchant.id, "CNY", 1_500)], at_least=[ledger.AtLeast(available(merchant.id), 1_500)]
            )
        # The caller caught it and its transaction goes on: nothing of the refused entry is there to commit.
        await ledger.post_entries(
            [settle(merchant.id, "CNY", 400)], at_least=[ledger.AtLeast(available(merchant.id), 400)]
        )
    assert await JournalEntry.all().count() == entries_before + 1
    assert await held(operator, merchant.id) == {"PENDING": 0, "AVAILABLE": 600, "SETTLING": 400}


@pytest.mark.postgres_only
async def test_of_concurrent_moves_of_more_than_half_a_balance_exactly_one_succeeds(operator, make_merchant):
    merchant = await make_merchant()
    await post(capture("CNY", 1_000, {merchant.id: 1_000}), release(merchant.id, "CNY", 1_000))

    async def move_600() -> str:
        try:
            async with in_transaction():
                await ledger.post_entries(
                    [settle(merchant.id, "CNY", 600)], at_least=[ledger.AtLeast(available(merchant.id), 600)]
                )
        except ledger.InsufficientFunds:
            return "refused"
        return "moved"

    outcomes = await asyncio.gather(*(move_600() for _ in range(8)))
    assert sorted(outcomes) == ["moved"] + ["refused"] * 7
    assert await held(operator, merchant.id) == {"PENDING": 0, "AVAILABLE": 400, "SETTLING": 600}


# --- listing entries ------------------------------------------------------------------------------------------

MORE_THAN_POSTGRES_TAKES_AS_PARAMETERS = 32_767 + 233


def party_principal(party_id: int, kind: PartyKind = PartyKind.MERCHANT, role: str = "merchant_finance") -> Principal:
    return Principal(
        user_id=0,
        party_id=party_id,
        party_kind=kind,
        role=role,
        permissions=ROLE_PERMISSIONS[role],
        mfa_passed=False,
    )


async def test_a_party_pages_through_its_own_entries_only(operator, runtime, make_merchant):
    merchant, other = await make_merchant(), await make_merchant()
    own = await post(*(capture("CNY", 100, {merchant.id: 60, other.id: 40}) for _ in range(3)))
    await post(capture("CNY", 100, {other.id: 100}))
    as_merchant = party_principal(merchant.id)
    first = await ledger.list_entries(as_merchant, runtime, PageRequest(first=2))
    rest = await ledger.list_entries(as_merchant, runtime, PageRequest(first=2, after_id=first.items[-1].id))
    assert [e.id for e in [*first.items, *rest.items]] == sorted(own, reverse=True)
    assert first.has_next_page and not rest.has_next_page
    filtered = await ledger.list_entries(operator, runtime, PageRequest(first=10), party_id=merchant.id)
    assert [e.id for e in filtered.items] == sorted(own, reverse=True)


async def test_listing_entries_takes_the_same_statements_for_any_page_size(runtime, make_merchant, caplog):
    merchant = await make_merchant()
    await post(*(capture("CNY", 100, {merchant.id: 100}) for _ in range(12)))
    as_merchant = party_principal(merchant.id)
    with statements(caplog) as small:
        page = await ledger.list_entries(as_merchant, runtime, PageRequest(first=1))
        await ledger.postings_of(as_merchant, [e.id for e in page.items])
    with statements(caplog) as large:
        page = await ledger.list_entries(as_merchant, runtime, PageRequest(first=12))
        await ledger.postings_of(as_merchant, [e.id for e in page.items])
    assert len(page.items) == 12 and small == large


@pytest.mark.postgres_only
async def test_a_party_with_more_entries_than_a_statement_takes_parameters_lists_a_page(
    operator, runtime, make_merchant
):
    """list_entries once sent every entry id of the party back as parameters; PostgreSQL takes at most 32,767."""
    merchant = await make_merchant()
    count = MORE_THAN_POSTGRES_TAKES_AS_PARAMETERS
    await post(capture("CNY", count + 1, {merchant.id: count + 1}), release(merchant.id, "CNY", 1))
    accounts = {
        row.bucket: row.id
        for row in await LedgerAccount.filter(party_id=merchant.id, bucket__in=["PENDING", "AVAILABLE"])
    }
    async with in_transaction() as connection:
        # Set-based, like a release job: `count` balanced releases of one minor unit each, and the cached balances
        # moved by exactly what the postings add up to (the suite ends by verifying the whole ledger).
        await connection.execute_query(
            "WITH entries AS (INSERT INTO journal_entries (kind, memo, created_at) "
            "SELECT $1, 'bulk release ' || n, now() FROM generate_series(1, $2) AS n RETURNING id) "
            "INSERT INTO postings (entry_id, account_id, party_id, currency, amount_minor, created_at) "
            "SELECT entries.id, leg.account_id, $3, 'CNY', leg.amount_minor, now() FROM entries "
            "CROSS JOIN (VALUES ($4::bigint, 1::bigint), ($5::bigint, -1::bigint)) AS leg(account_id, amount_minor)",
            [EntryKind.RELEASE.value, count, merchant.id, accounts["PENDING"], accounts["AVAILABLE"]],
        )
        await connection.execute_query(
            "UPDATE ledger_accounts SET balance_minor = balance_minor + CASE WHEN id = $1 THEN $2::bigint "
            "ELSE -$3::bigint END WHERE id IN ($4, $5)",
            [accounts["PENDING"], count, count, accounts["PENDING"], accounts["AVAILABLE"]],
        )
    assert await held(operator, merchant.id) == {"PENDING": 0, "AVAILABLE": count + 1}
    newest = await JournalEntry.filter(memo__startswith="bulk release ").order_by("-id").first()
    for principal, party_filter in ((party_principal(merchant.id), None), (operator, merchant.id)):
        page = await ledger.list_entries(principal, runtime, PageRequest(first=50), party_id=party_filter)
        assert len(page.items) == 50 and page.has_next_page
        assert page.items[0].id == newest.id
        after = await ledger.list_entries(
            principal, runtime, PageRequest(first=50, after_id=page.items[-1].id), party_id=party_filter
        )
        assert after.items[0].id < page.items[-1].id


# --- verification ---------------------------------------------------------------------------------------------


async def record_payment(operator, runtime, merchant_id: int, courier_id: int) -> Payment:
    recorded = await payments.record_payment(
        operator,
        runtime,
        payment_input(merchant_id, logistics_partner_id=courier_id),
    )
    return recorded.payment


@pytest.mark.parametrize(
    ("tampering", "reported_as"),
    [
        ("DELETE FROM allocations WHERE id = (SELECT MIN(id) FROM allocations WHERE payment_id = $1)", "allocation"),
        ("UPDATE allocations SET amount_minor = amount_minor + 1 WHERE id = "
         "(SELECT MIN(id) FROM allocations WHERE payment_id = $1)", "allocation"),
        ("UPDATE allocations SET party_id = (SELECT merchant_id FROM payments WHERE id = $1) WHERE payment_id = $2 "
         "AND party_id <> (SELECT merchant_id FROM payments WHERE id = $3)", "allocation"),
        ("UPDATE payments SET total_minor = total_minor - 1 WHERE id = $1", "total"),
        ("UPDATE payments SET currency = 'USD' WHERE id = $1", "total"),
    ],
)  # fmt: skip
async def test_verify_reports_a_payment_whose_allocations_or_total_no_longer_match_its_entry(
    operator, runtime, make_merchant, world, tampering, reported_as
):
    merchant = await make_merchant()
    payment = await record_payment(operator, runtime, merchant.id, world.logistics_a_id)
    assert await Allocation.filter(payment_id=payment.id).count() == 2
    async with triggers_bypassed("0005_append_only_money"):
        sql = tampering if is_postgres() else tampering.replace("$1", "?").replace("$2", "?")
        await connections.get("default").execute_query(sql, [payment.id] * tampering.count("$"))
        check = await ledger.verify_ledger(operator)
        assert not check.ok
        reported = dataclasses.asdict(check)
        assert reported[f"mismatched_{reported_as}_payment_ids"] == [payment.id]
        other = "total" if reported_as == "allocation" else "allocation"
        assert payment.id not in reported[f"mismatched_{other}_payment_ids"]
        assert check.unbalanced_entry_ids == [] and check.mismatched_account_ids == []
    assert (await ledger.verify_ledger(operator)).ok  # rolled back: the suite's final check stays clean


async def test_verify_counts_what_it_checked(operator, runtime, make_merchant, world):
    await record_payment(operator, runtime, (await make_merchant()).id, world.logistics_a_id)
    check = await ledger.verify_ledger(operator)
    assert check.ok and check.payments_checked >= 1 and check.entries_checked >= check.payments_checked
    assert check.mismatched_allocation_payment_ids == [] and check.mismatched_total_payment_ids == []
