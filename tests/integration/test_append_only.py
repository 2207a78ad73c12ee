"""The money tables are append-only in the database itself: raw SQL and the ORM alike are refused."""

from __future__ import annotations

import importlib
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from domain.ledger import AccountKey, Bucket, capture, release
from domain.models import Allocation, AppendOnlyViolation, LedgerAccount, Payment, PaymentLine, Posting
from domain.services import ledger, payments
from tests.conftest import payment_input

ROOT = Path(__file__).resolve().parents[2]
MONEY_MIGRATION = importlib.import_module("migrations.0005_append_only_money")


def is_postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


@pytest.fixture
async def payment(operator, runtime, make_merchant, world) -> Payment:
    """A payment with two allocations (merchant, courier) and one line, recorded the ordinary way."""
    merchant = await make_merchant()
    recorded = await payments.record_payment(
        operator,
        runtime,
        payment_input(merchant.id, logistics_partner_id=world.logistics_a_id),
    )
    return recorded.payment


async def snapshot(payment_id: int) -> tuple:
    """Everything recorded about one payment, to prove a refused statement changed nothing."""
    connection = connections.get("default")
    rows = []
    for sql in (
        "SELECT * FROM payments WHERE id = {id}",
        "SELECT * FROM payment_lines WHERE payment_id = {id} ORDER BY id",
        "SELECT * FROM allocations WHERE payment_id = {id} ORDER BY id",
        "SELECT * FROM journal_entries WHERE payment_id = {id} ORDER BY id",
        "SELECT p.* FROM postings p JOIN journal_entries e ON e.id = p.entry_id "
        "WHERE e.payment_id = {id} ORDER BY p.id",
        "SELECT a.* FROM ledger_accounts a WHERE a.id IN (SELECT p.account_id FROM postings p "
        "JOIN journal_entries e ON e.id = p.entry_id WHERE e.payment_id = {id}) ORDER BY a.id",
    ):
        rows.append(await connection.execute_query_dict(sql.format(id=int(payment_id))))
    return tuple(rows)


# Each statement would change or remove something recorded; {id} is the payment's id.
FORBIDDEN_SQL = [
    "UPDATE allocations SET amount_minor = amount_minor + 1 WHERE payment_id = {id}",
    "UPDATE allocations SET party_id = party_id WHERE payment_id = {id}",  # even rewriting the same value
    "DELETE FROM allocations WHERE payment_id = {id}",
    "UPDATE payment_lines SET amount_minor = 0 WHERE payment_id = {id}",
    "DELETE FROM payment_lines WHERE payment_id = {id}",
    "UPDATE payments SET merchant_id = merchant_id + 1 WHERE id = {id}",
    "UPDATE payments SET logistics_party_id = NULL WHERE id = {id}",
    "UPDATE payments SET currency = 'USD' WHERE id = {id}",
    "UPDATE payments SET goods_minor = goods_minor + 1 WHERE id = {id}",
    "UPDATE payments SET shipping_fee_minor = 0 WHERE id = {id}",
    "UPDATE payments SET total_minor = total_minor + 1 WHERE id = {id}",
    "UPDATE payments SET paid_at = created_at WHERE id = {id}",
    "UPDATE payments SET external_order_id = external_order_id || 'x' WHERE id = {id}",
    "UPDATE payments SET idempotency_key = idempotency_key || 'x' WHERE id = {id}",
    "UPDATE payments SET request_hash = 'x' WHERE id = {id}",
    "UPDATE payments SET status = 'REFUNDED', total_minor = 0 WHERE id = {id}",
    "DELETE FROM payments WHERE id = {id}",
    "UPDATE postings SET amount_minor = 0 WHERE entry_id IN (SELECT id FROM journal_entries WHERE payment_id = {id})",
    "DELETE FROM postings WHERE entry_id IN (SELECT id FROM journal_entries WHERE payment_id = {id})",
    "UPDATE journal_entries SET memo = 'edited' WHERE payment_id = {id}",
    "UPDATE ledger_accounts SET currency = 'USD' WHERE id IN (SELECT account_id FROM postings "
    "WHERE entry_id IN (SELECT id FROM journal_entries WHERE payment_id = {id}))",
    "DELETE FROM ledger_accounts WHERE id IN (SELECT account_id FROM postings "
    "WHERE entry_id IN (SELECT id FROM journal_entries WHERE payment_id = {id}))",
]

TRUNCATE_SQL = [
    f"TRUNCATE {table}{cascade}"
    for table in ("journal_entries", "postings", "allocations", "payment_lines", "payments", "ledger_accounts")
    for cascade in ("", " CASCADE")
]


@pytest.mark.parametrize("sql", FORBIDDEN_SQL)
async def test_a_raw_statement_that_changes_recorded_money_is_refused_and_changes_nothing(payment, sql):
    before = await snapshot(payment.id)
    with pytest.raises(Exception, match="append-only"):
        async with in_transaction() as connection:
            await connection.execute_query(sql.format(id=payment.id))
    assert await snapshot(payment.id) == before


@pytest.mark.postgres_only
@pytest.mark.parametrize("sql", TRUNCATE_SQL)
async def test_truncating_a_money_table_is_refused(payment, sql):
    before = await snapshot(payment.id)
    # A table other money rows point at is refused by its foreign keys first; CASCADE reaches the triggers.
    with pytest.raises(Exception, match=r"append-only|referenced in a foreign key constraint"):
        async with in_transaction() as connection:
            await connection.execute_script(sql)
    assert await snapshot(payment.id) == before


async def test_the_orm_cannot_change_or_delete_allocations_or_payment_lines(payment):
    before = await snapshot(payment.id)
    for model in (Allocation, PaymentLine):
        row = await model.filter(payment_id=payment.id).first()
        assert row is not None
        row.amount_minor += 1
        with pytest.raises(AppendOnlyViolation):
            await row.save()
        with pytest.raises(AppendOnlyViolation):
            await row.delete()
        for attempt in (
            model.filter(payment_id=payment.id).update(amount_minor=0),
            model.filter(payment_id=payment.id).delete(),
        ):
            with pytest.raises(Exception, match="append-only"):
                async with in_transaction():
                    await attempt
    for attempt in (
        Payment.filter(id=payment.id).update(total_minor=1),
        Payment.filter(id=payment.id).delete(),
    ):
        with pytest.raises(Exception, match="append-only"):
            async with in_transaction():
                await attempt
    assert await snapshot(payment.id) == before


async def test_a_payment_status_and_journal_entry_stay_updatable(payment):
    entry_id = payment.journal_entry_id
    await Payment.filter(id=payment.id).update(status="REFUNDED")
    await Payment.filter(id=payment.id).update(journal_entry_id=None)
    changed = await Payment.get(id=payment.id)
    assert (changed.status, changed.journal_entry_id) == ("REFUNDED", None)
    # An ORM save() writes every column back; the money columns keep their values, so it passes.
    changed.status, changed.journal_entry_id = "CAPTURED", entry_id
    await changed.save()
    restored = await Payment.get(id=payment.id)
    assert (restored.status, restored.journal_entry_id, restored.total_minor) == ("CAPTURED", entry_id, 15800)


async def test_a_cached_balance_stays_updatable(payment):
    account_id = (await Posting.filter(entry_id=payment.journal_entry_id, party_id__not_isnull=True).first()).account_id

    class RolledBack(Exception):
        pass

    with pytest.raises(RolledBack):
        async with in_transaction():
            assert await LedgerAccount.filter(id=account_id).update(balance_minor=0) == 1
            raise RolledBack  # the suite's final verifyLedger must still find every balance equal to its postings


async def test_bulk_create_still_inserts_allocations_and_lines(payment):
    class RolledBack(Exception):
        pass

    line = await PaymentLine.filter(payment_id=payment.id).first()
    share = await Allocation.filter(payment_id=payment.id).first()
    with pytest.raises(RolledBack):
        async with in_transaction():
            await PaymentLine.bulk_create(
                [
                    PaymentLine(
                        payment_id=payment.id,
                        position=9,
                        sku=line.sku,
                        category=line.category,
                        unit_amount_minor=line.unit_amount_minor,
                        quantity=line.quantity,
                        amount_minor=line.amount_minor,
                        shipping_minor=0,
                        rule_version_id=line.rule_version_id,
                    )
                ]
            )
            await Allocation.bulk_create(
                [
                    Allocation(
                        payment_id=payment.id,
                        line_position=9,
                        party_id=share.party_id,
                        role=share.role,
                        currency=share.currency,
                        amount_minor=share.amount_minor,
                        goods_minor=share.goods_minor,
                        shipping_minor=share.shipping_minor,
                        rule_version_id=share.rule_version_id,
                    )
                    for _ in range(2)
                ]
            )
            assert await PaymentLine.filter(payment_id=payment.id).count() == 2
            assert await Allocation.filter(payment_id=payment.id).count() == 4
            raise RolledBack  # extra allocations would rightly fail the suite's final verifyLedger


async def test_the_migration_can_be_reversed_and_applied_again():
    class SchemaEditor:
        client = connections.get("default")

    async def trigger_names() -> set[str]:
        if is_postgres():
            rows = await SchemaEditor.client.execute_query_dict(
                "SELECT tgname AS name FROM pg_trigger WHERE NOT tgisinternal"
            )
        else:
            rows = await SchemaEditor.client.execute_query_dict("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {row["name"] for row in rows}

    installed = await trigger_names()
    assert ("allocations_append_only" if is_postgres() else "allocations_no_update") in installed
    try:
        await MONEY_MIGRATION.drop_triggers(None, SchemaEditor)
        remaining = await trigger_names()
        assert not {name for name in remaining if name.startswith(("allocations", "payment_lines"))}
        assert {name for name in remaining if name.startswith(("journal_entries", "postings"))}  # 0004's stay
    finally:
        await MONEY_MIGRATION.create_triggers(None, SchemaEditor)
    assert await trigger_names() == installed


def test_the_models_need_no_new_migration():
    """Every model matches the migrations: makemigrations must find nothing to do (tortoise's makemigrations has
    no dry run, so its autodetector runs here). Allocation and PaymentLine became append-only in Python only,
    and migration 0006 adds a column by hand."""
    script = """
import asyncio
from tortoise.cli.cli import tortoise_cli_context
from tortoise.migrations.autodetector import MigrationAutodetector
from api.db import tortoise_config

async def main():
    config = tortoise_config("sqlite://:memory:")
    async with tortoise_cli_context(config) as ctx:
        writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
    touched = {
        getattr(op, "model_name", None) or getattr(op, "name", None)
        for writer in writers for op in writer.operations
    }
    print(sorted(str(name) for name in touched))

asyncio.run(main())
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def readme_role_grants(role: str, database: str) -> list[str]:
    """The README's statements for the service's database role, for `role` in `database`."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Database role for the service") :]
    block = section[section.index("```sql") + len("```sql") : section.index("```", section.index("```sql") + 6)]
    statements = [line.strip().rstrip(";") for line in block.strip().splitlines() if line.strip()]
    assert statements[0].startswith("CREATE ROLE splitledger_app ")
    statements[0] = "CREATE ROLE splitledger_app NOLOGIN"  # this one only ever acts through SET ROLE
    return [
        statement.replace("splitledger_app", role).replace("ON DATABASE splitledger ", f'ON DATABASE "{database}" ')
        for statement in statements
    ]


@pytest.mark.postgres_only
async def test_the_readme_database_role_can_record_money_but_not_change_it(payment):
    """With the README's grants, the permission system itself refuses: no trigger is needed to say no."""
    role = f"splitledger_app_{secrets.token_hex(4)}"
    outcomes: dict[str, str] = {}

    class RolledBack(Exception):
        pass

    with pytest.raises(RolledBack):
        async with in_transaction() as connection:
            database = (await connection.execute_query_dict("SELECT current_database() AS name"))[0]["name"]
            for statement in readme_role_grants(role, database):
                await connection.execute_script(statement)
            await connection.execute_script(f"SET LOCAL ROLE {role}")
            for label, sql in (
                ("update allocations", f"UPDATE allocations SET amount_minor = 0 WHERE payment_id = {payment.id}"),
                ("delete allocations", f"DELETE FROM allocations WHERE payment_id = {payment.id}"),
                ("update payment total", f"UPDATE payments SET total_minor = 0 WHERE id = {payment.id}"),
                ("delete payment", f"DELETE FROM payments WHERE id = {payment.id}"),
                ("truncate postings", "TRUNCATE postings CASCADE"),
                ("update account key", "UPDATE ledger_accounts SET key = key || 'x'"),
                ("update payment status", f"UPDATE payments SET status = 'REFUNDED' WHERE id = {payment.id}"),
                ("move a balance", "UPDATE ledger_accounts SET balance_minor = balance_minor WHERE id = 0"),
                ("read allocations", f"SELECT * FROM allocations WHERE payment_id = {payment.id}"),
            ):
                await connection.execute_script("SAVEPOINT attempt")
                try:
                    await connection.execute_script(sql)
                    outcomes[label] = "allowed"
                except Exception as exc:
                    outcomes[label] = "permission denied" if "permission denied" in str(exc) else str(exc)
                await connection.execute_script("ROLLBACK TO SAVEPOINT attempt")
            # The service's own posting path needs nothing more: accounts, entries, postings, ordered row locks.
            merchant = AccountKey("CNY", payment.merchant_id, Bucket.PENDING)
            await ledger.post_entries([capture("CNY", 100, {payment.merchant_id: 100}, memo="as the service role")])
            await ledger.post_entries(
                [release(payment.merchant_id, "CNY", 100)], at_least=[ledger.AtLeast(merchant, 100)]
            )
            await connection.execute_script("RESET ROLE")
            raise RolledBack  # the role and everything it did go away with the transaction
    assert outcomes == {
        "update allocations": "permission denied",
        "delete allocations": "permission denied",
        "update payment total": "permission denied",
        "delete payment": "permission denied",
        "truncate postings": "permission denied",
        "update account key": "permission denied",
        "update payment status": "allowed",
        "move a balance": "allowed",
        "read allocations": "allowed",
    }
