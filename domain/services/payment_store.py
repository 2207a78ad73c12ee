"""Writing new payments: the payment row, its lines, its allocations and its journal entry, all or nothing.

The store hides the SQL dialect. On PostgreSQL ids come from the sequences up front, so each table takes one
multi-row insert however many payments are written; elsewhere the database assigns ids one payment at a time.
Either way the new payments are written in one canonical order (domain.payments.write_order), so two writers
holding the same payments meet them in the same order and one waits for the other instead of deadlocking.

A write that meets a concurrent writer raises LostRace, after its transaction was rolled back: KeyTaken when a
unique index refused a row, WriteConflict when PostgreSQL broke a deadlock or a serialization conflict.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain.ledger import JournalEntryDraft, capture
from domain.models import Allocation, Payment, PaymentLine
from domain.payments import NormalizedPayment, write_order
from domain.services import ledger
from domain.services.dialect import next_ids
from domain.splitting import Split

# SQLSTATEs after which PostgreSQL has rolled the transaction back and the same work may succeed if redone.
DEADLOCK_DETECTED = "40P01"
SERIALIZATION_FAILURE = "40001"
_WRITE_CONFLICTS = frozenset({DEADLOCK_DETECTED, SERIALIZATION_FAILURE})


class LostRace(Exception):
    """A concurrent writer got in the way; nothing of this write was kept."""


class KeyTaken(LostRace):
    """The database refused a row as a duplicate: another writer stored the same idempotency key or external
    order (any integrity error counts, as it always has for this path)."""


class WriteConflict(LostRace):
    """PostgreSQL rolled the transaction back to break a deadlock or a serialization conflict."""


async def add(payment: NormalizedPayment, split: Split) -> Payment:
    """One new payment with its lines, allocations and journal entry, in one transaction."""
    return (await add_all([(payment, split)]))[0]


async def add_all(items: Sequence[tuple[NormalizedPayment, Split]]) -> list[Payment]:
    """New payments (distinct idempotency keys), in one transaction; the rows come back in the order given."""
    if not items:
        return []
    order = sorted(range(len(items)), key=lambda index: write_order(items[index][0]))
    in_write_order = [items[index] for index in order]
    if _ids_from_sequences():
        rows = await _insert_together(in_write_order)
    else:
        rows = await _insert_one_by_one(in_write_order)
    given: list[Payment | None] = [None] * len(items)
    for index, row in zip(order, rows, strict=True):
        given[index] = row
    assert all(row is not None for row in given)
    return given  # type: ignore[return-value]


def _ids_from_sequences() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


@asynccontextmanager
async def _races_reported() -> AsyncIterator[None]:
    """Turns the database's refusals caused by a concurrent writer into LostRace. Enter it outside the
    transaction, so that the transaction is rolled back before the caller hears of the race."""
    try:
        yield
    except IntegrityError as exc:
        raise KeyTaken(str(exc)) from exc
    except Exception as exc:
        # asyncpg raises DeadlockDetectedError / SerializationError (tortoise does not translate either); a
        # wrapper (tortoise's OperationalError, say) keeps the driver's error as its cause. Both carry sqlstate.
        if _sqlstate(exc) in _WRITE_CONFLICTS:
            raise WriteConflict(str(exc)) from exc
        raise


def _sqlstate(exc: BaseException) -> str | None:
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str):
            return state
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return None


async def _insert_one_by_one(items: list[tuple[NormalizedPayment, Split]]) -> list[Payment]:
    """Any backend: the database assigns each id as its row is inserted."""
    rows = []
    async with _races_reported(), in_transaction():
        for payment, split in items:
            row = _payment_row(payment)
            await row.save()
            await PaymentLine.bulk_create(_line_rows(row.id, split))
            await Allocation.bulk_create(_allocation_rows(row.id, payment, split))
            [entry_id] = await ledger.post_entries([_entry(row.id, payment, split)])
            await Payment.filter(id=row.id).update(journal_entry_id=entry_id)
            row.journal_entry_id = entry_id
            rows.append(row)
    return rows


async def _insert_together(items: list[tuple[NormalizedPayment, Split]]) -> list[Payment]:
    """PostgreSQL: ids come from the sequences up front, so every table takes one multi-row insert. The ledger
    locks the balance rows (the PSP clearing account is shared by every payment) last, just before commit, so
    concurrent writers wait on each other as briefly as possible."""
    count = len(items)
    async with _races_reported(), in_transaction():
        payment_ids = await next_ids("payments", count)
        entry_ids = await next_ids("journal_entries", count)
        rows = list(zip(payment_ids, entry_ids, items, strict=True))
        await Payment.bulk_create([_payment_row(p, id=pid, journal_entry_id=eid) for pid, eid, (p, _) in rows])
        await PaymentLine.bulk_create([line for pid, _, (_, split) in rows for line in _line_rows(pid, split)])
        await Allocation.bulk_create([a for pid, _, (p, split) in rows for a in _allocation_rows(pid, p, split)])
        await ledger.post_entries([_entry(pid, p, split) for pid, _, (p, split) in rows], entry_ids=entry_ids)
    return list(await Payment.filter(id__in=payment_ids).order_by("id"))


def _payment_row(payment: NormalizedPayment, **ids: int) -> Payment:
    return Payment(
        merchant_id=payment.merchant_id,
        logistics_party_id=payment.logistics_partner_id,
        external_order_id=payment.external_order_id,
        idempotency_key=payment.idempotency_key,
        request_hash=payment.request_hash,
        currency=payment.currency,
        goods_minor=payment.total_minor - payment.shipping_fee_minor,
        shipping_fee_minor=payment.shipping_fee_minor,
        total_minor=payment.total_minor,
        channel=payment.channel,
        region=payment.region,
        paid_at=payment.paid_at,
        **ids,
    )


def _line_rows(payment_id: int, split: Split) -> list[PaymentLine]:
    return [
        PaymentLine(
            payment_id=payment_id,
            position=position,
            sku=line.line.sku,
            category=line.line.category,
            unit_amount_minor=line.line.unit_amount_minor,
            quantity=line.line.quantity,
            amount_minor=line.line.amount_minor,
            shipping_minor=line.shipping_minor,
            rule_version_id=line.rule_version_id,
        )
        for position, line in enumerate(split.lines)
    ]


def _allocation_rows(payment_id: int, payment: NormalizedPayment, split: Split) -> list[Allocation]:
    return [
        Allocation(
            payment_id=payment_id,
            line_position=position,
            party_id=share.party_id,
            role=share.role.value,
            currency=payment.currency,
            amount_minor=share.amount_minor,
            goods_minor=share.goods_minor,
            shipping_minor=share.shipping_minor,
            rule_version_id=line.rule_version_id,
        )
        for position, line in enumerate(split.lines)
        for share in line.shares
    ]


def _entry(payment_id: int, payment: NormalizedPayment, split: Split) -> JournalEntryDraft:
    """The payment's journal entry: the buyer's money into clearing, each party's share into PENDING."""
    by_party: dict[int, int] = {}
    for (party_id, _role), amount in split.per_party().items():
        by_party[party_id] = by_party.get(party_id, 0) + amount
    return capture(
        payment.currency,
        payment.total_minor,
        by_party,
        payment_id=payment_id,
        memo=f"payment {payment.external_order_id}",
    )
