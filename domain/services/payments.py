"""Recording payments: validate, split by the rules in effect, store allocations, post one balanced entry.

Idempotent: the same key with the same request returns the first result; with a different request it is an
IdempotencyConflict. On PostgreSQL the unique index on (merchant, idempotency key) decides races: of many
concurrent requests with one key exactly one inserts, the others read what it wrote.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from auth.principal import Principal
from auth.scoping import readable, writable
from domain.errors import AlreadyExists, DomainError, InvalidInput, NotFound
from domain.ledger import payment_postings
from domain.models import Allocation, Party, Payment, PaymentLine
from domain.money import MAX_AMOUNT_MINOR, normalize_currency, parse_amount
from domain.parties import KycStatus, PartyKind
from domain.rules import RuleDraft, RuleVersion, validate_rule
from domain.services import ledger, parties, rules
from domain.services.authorization import require
from domain.services.pagination import Page, PageRequest, fetch_page
from domain.services.runtime import Runtime
from domain.splitting import MAX_LINE_ITEMS, LineItem, PaymentFacts, Split, compute_split

MAX_BATCH = 500
MAX_QUANTITY = 1_000_000


class IdempotencyConflict(AlreadyExists):
    def __init__(self) -> None:
        super().__init__(
            "IDEMPOTENCY_CONFLICT",
            "this idempotency key was already used with a different request",
            field="idempotencyKey",
        )


@dataclass(frozen=True)
class LineItemInput:
    sku: str
    category: str
    unit_amount: object
    quantity: int


@dataclass(frozen=True)
class PaymentInput:
    idempotency_key: str
    merchant_id: int
    external_order_id: str
    currency: str
    total_amount: object
    line_items: Sequence[LineItemInput]
    paid_at: datetime
    shipping_fee: object = "0"
    logistics_partner_id: int | None = None
    channel: str = "DEFAULT"
    region: str = "DEFAULT"


@dataclass(frozen=True)
class NormalizedPayment:
    idempotency_key: str
    merchant_id: int
    external_order_id: str
    currency: str
    total_minor: int
    shipping_fee_minor: int
    line_items: tuple[LineItem, ...]
    logistics_partner_id: int | None
    channel: str
    region: str
    paid_at: datetime
    request_hash: str = field(default="")


def _text(value: str, name: str, *, max_length: int) -> str:
    cleaned = value.strip()
    if not cleaned or len(cleaned) > max_length:
        raise InvalidInput("INVALID_INPUT", f"{name} must be 1 to {max_length} characters", field=name)
    return cleaned


def normalize_payment(data: PaymentInput) -> NormalizedPayment:
    """Checks everything that needs no database; raises InvalidInput naming the field."""
    currency = normalize_currency(data.currency)
    if not data.line_items:
        raise InvalidInput("INVALID_PAYMENT", "a payment needs at least one line item", field="lineItems")
    if len(data.line_items) > MAX_LINE_ITEMS:
        raise InvalidInput("INVALID_PAYMENT", f"at most {MAX_LINE_ITEMS} line items", field="lineItems")
    items = []
    for index, item in enumerate(data.line_items):
        where = f"lineItems[{index}]"
        if not 1 <= item.quantity <= MAX_QUANTITY:
            raise InvalidInput(
                "INVALID_INPUT", f"{where}.quantity must be 1..{MAX_QUANTITY}", field=f"{where}.quantity"
            )
        unit = parse_amount(item.unit_amount, currency, field=f"{where}.unitAmount").amount_minor  # type: ignore[arg-type]
        items.append(
            LineItem(
                _text(item.sku, f"{where}.sku", max_length=128),
                _text(item.category, f"{where}.category", max_length=100),
                unit,
                item.quantity,
            )
        )
    shipping = parse_amount(data.shipping_fee, currency, field="shippingFee").amount_minor  # type: ignore[arg-type]
    total = parse_amount(data.total_amount, currency, field="totalAmount").amount_minor  # type: ignore[arg-type]
    computed = sum(item.amount_minor for item in items) + shipping
    if computed > MAX_AMOUNT_MINOR:
        raise InvalidInput(
            "AMOUNT_TOO_LARGE", "the payment is larger than the largest amount accepted", field="totalAmount"
        )
    if computed != total:
        raise InvalidInput(
            "TOTAL_MISMATCH",
            f"totalAmount is {total} minor units but the line items and shipping fee add up to {computed}",
            field="totalAmount",
        )
    if data.paid_at.tzinfo is None:
        raise InvalidInput("INVALID_INPUT", "paidAt needs a time zone", field="paidAt")
    normalized = NormalizedPayment(
        idempotency_key=_text(data.idempotency_key, "idempotencyKey", max_length=128),
        merchant_id=data.merchant_id,
        external_order_id=_text(data.external_order_id, "externalOrderId", max_length=128),
        currency=currency,
        total_minor=total,
        shipping_fee_minor=shipping,
        line_items=tuple(items),
        logistics_partner_id=data.logistics_partner_id,
        channel=_text(data.channel, "channel", max_length=40),
        region=_text(data.region, "region", max_length=40),
        paid_at=data.paid_at,
    )
    canonical = json.dumps(
        {
            "merchant": normalized.merchant_id,
            "order": normalized.external_order_id,
            "currency": currency,
            "total": total,
            "shipping": shipping,
            "logistics": normalized.logistics_partner_id,
            "channel": normalized.channel,
            "region": normalized.region,
            "paid_at": normalized.paid_at.timestamp(),
            "items": sorted(item.sort_key() for item in items),
        },
        sort_keys=True,
    )
    return NormalizedPayment(**{**normalized.__dict__, "request_hash": hashlib.sha256(canonical.encode()).hexdigest()})


@dataclass(frozen=True)
class Recorded:
    payment: Payment
    replayed: bool


async def _existing(payment: NormalizedPayment) -> Recorded | None:
    found = await Payment.get_or_none(merchant_id=payment.merchant_id, idempotency_key=payment.idempotency_key)
    if found is None:
        return None
    if found.request_hash != payment.request_hash:
        raise IdempotencyConflict()
    return Recorded(found, replayed=True)


async def _facts(principal: Principal, payment: NormalizedPayment, platform_id: int) -> PaymentFacts:
    merchant = await writable(principal, Party).filter(id=payment.merchant_id, kind=PartyKind.MERCHANT).first()
    courier_known = (
        payment.logistics_partner_id is None
        or await Party.filter(id=payment.logistics_partner_id, kind=PartyKind.LOGISTICS, is_active=True).exists()
    )
    return _checked_facts(merchant, payment, platform_id, courier_known=courier_known)


def _checked_facts(
    merchant: Party | None, payment: NormalizedPayment, platform_id: int, *, courier_known: bool
) -> PaymentFacts:
    """The checks a payment must pass once its merchant and courier are looked up (by either recording path)."""
    if merchant is None:
        raise NotFound("merchant", field="merchantId")
    if not merchant.is_active or merchant.kyc_status != KycStatus.VERIFIED:
        raise InvalidInput(
            "MERCHANT_NOT_ALLOWED",
            f"merchant {merchant.name!r} cannot take payments: KYC status "
            f"{merchant.kyc_status}{'' if merchant.is_active else ', inactive'}",
            field="merchantId",
        )
    if not courier_known:
        raise NotFound("logistics partner", field="logisticsPartnerId")
    return _payment_facts(merchant, payment, platform_id)


def _duplicate_order(payment: NormalizedPayment) -> AlreadyExists:
    return AlreadyExists(
        "DUPLICATE_EXTERNAL_ORDER",
        f"order {payment.external_order_id!r} of this merchant was already recorded under another idempotency key",
        field="externalOrderId",
    )


def _payment_facts(merchant: Party, payment: NormalizedPayment, platform_id: int) -> PaymentFacts:
    return PaymentFacts(
        merchant_id=merchant.id,
        merchant_tier=str(merchant.tier),
        platform_party_id=platform_id,
        logistics_party_id=payment.logistics_partner_id,
        currency=payment.currency,
        channel=payment.channel,
        region=payment.region,
        paid_at=payment.paid_at,
        line_items=payment.line_items,
        shipping_fee_minor=payment.shipping_fee_minor,
    )


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
            rule_version_id=line.rule_version_id,
        )
        for position, line in enumerate(split.lines)
        for share in line.shares
    ]


def _entry(payment_id: int, payment: NormalizedPayment, split: Split, entry_id: int | None = None) -> ledger.EntryDraft:
    """The payment's journal entry: the buyer's money into clearing, each party's share into PENDING."""
    by_party: dict[int, int] = {}
    for (party_id, _role), amount in split.per_party().items():
        by_party[party_id] = by_party.get(party_id, 0) + amount
    return ledger.EntryDraft(
        entry_id=entry_id,
        kind="payment_captured",
        payment_id=payment_id,
        memo=f"payment {payment.external_order_id}",
        postings=payment_postings(payment.currency, payment.total_minor, by_party),
    )


async def _store(payment: NormalizedPayment, split: Split) -> Payment:
    """One payment, ids assigned by the database (any backend)."""
    async with in_transaction():
        row = _payment_row(payment)
        await row.save()
        await PaymentLine.bulk_create(_line_rows(row.id, split))
        await Allocation.bulk_create(_allocation_rows(row.id, payment, split))
        entry = await ledger.post_entry(_entry(row.id, payment, split))
        await Payment.filter(id=row.id).update(journal_entry_id=entry.id)
        row.journal_entry_id = entry.id
    return row


async def record_payment(
    principal: Principal,
    runtime: Runtime,
    data: PaymentInput,
    *,
    catalogue: rules.RuleCatalogue | None = None,
    platform_id: int | None = None,
) -> Recorded:
    require(principal, "payments:write")
    payment = normalize_payment(data)
    existing = await _existing(payment)
    if existing is not None:
        return existing
    platform_id = platform_id or (await parties.ensure_platform_party()).id
    facts = await _facts(principal, payment, platform_id)
    catalogue = catalogue or await rules.load_catalogue(runtime.now())
    split = compute_split(facts, catalogue.book_at(payment.paid_at), catalogue.fallback)
    try:
        if connections.get("default").capabilities.dialect == "postgres":
            # Balance rows (the PSP clearing account is shared by every payment) are locked last, just
            # before commit, so concurrent payments wait on each other as briefly as possible.
            return Recorded((await _store_many([(payment, split)]))[0], replayed=False)
        return Recorded(await _store(payment, split), replayed=False)
    except IntegrityError:
        # Lost a race: either the same key (then it is a replay or a conflict) or the same external order.
        existing = await _existing(payment)
        if existing is not None:
            return existing
        raise _duplicate_order(payment) from None


async def record_payments(
    principal: Principal, runtime: Runtime, inputs: Sequence[PaymentInput]
) -> list[Recorded | DomainError]:
    """Up to 500 payments; each succeeds or fails on its own and is reported in order.

    On PostgreSQL the new payments of a batch are written together (one transaction, a handful of multi-row
    statements); if that meets a concurrent writer (a unique index refuses), the batch is redone one payment
    at a time, which is idempotent. Elsewhere, or for a single payment, each payment has its own transaction.
    """
    require(principal, "payments:write")
    if len(inputs) > MAX_BATCH:
        raise InvalidInput(
            "BATCH_TOO_LARGE", f"at most {MAX_BATCH} payments per batch, got {len(inputs)}", field="inputs"
        )
    catalogue = await rules.load_catalogue(runtime.now())
    platform_id = (await parties.ensure_platform_party()).id
    if len(inputs) > 1 and connections.get("default").capabilities.dialect == "postgres":
        try:
            return await _record_batch(principal, inputs, catalogue, platform_id)
        except IntegrityError:
            pass  # a concurrent writer got there first: the careful path below sorts out who wins
    results: list[Recorded | DomainError] = []
    for data in inputs:
        try:
            results.append(await record_payment(principal, runtime, data, catalogue=catalogue, platform_id=platform_id))
        except DomainError as exc:
            _raise_if_access_error(exc)
            results.append(exc)
    return results


def _raise_if_access_error(exc: DomainError) -> None:
    if exc.code.value in ("FORBIDDEN", "UNAUTHENTICATED", "MFA_REQUIRED"):
        raise exc


async def _record_batch(
    principal: Principal, inputs: Sequence[PaymentInput], catalogue: rules.RuleCatalogue, platform_id: int
) -> list[Recorded | DomainError]:
    results: list[Recorded | DomainError | None] = [None] * len(inputs)
    normalized: dict[int, NormalizedPayment] = {}
    for index, data in enumerate(inputs):
        try:
            normalized[index] = normalize_payment(data)
        except DomainError as exc:
            results[index] = exc
    merchant_ids = {p.merchant_id for p in normalized.values()}
    merchants = {
        row.id: row
        for row in await writable(principal, Party).filter(id__in=list(merchant_ids), kind=PartyKind.MERCHANT)
    }
    couriers = set(
        await Party.filter(
            id__in=[p.logistics_partner_id for p in normalized.values() if p.logistics_partner_id is not None],
            kind=PartyKind.LOGISTICS,
            is_active=True,
        ).values_list("id", flat=True)
    )
    keys = [p.idempotency_key for p in normalized.values()]
    orders = [p.external_order_id for p in normalized.values()]
    existing_by_key = {
        (row.merchant_id, row.idempotency_key): row
        for row in await Payment.filter(merchant_id__in=list(merchant_ids), idempotency_key__in=keys)
    }
    taken_orders = {
        (row.merchant_id, row.external_order_id)
        for row in await Payment.filter(merchant_id__in=list(merchant_ids), external_order_id__in=orders).only(
            "merchant_id", "external_order_id"
        )
    }
    fresh: dict[tuple[int, str], int] = {}  # (merchant, key) -> index of the first new payment with it
    to_store: list[tuple[int, NormalizedPayment, Split]] = []
    for index, payment in normalized.items():
        key = (payment.merchant_id, payment.idempotency_key)
        try:
            if key in existing_by_key:
                if existing_by_key[key].request_hash != payment.request_hash:
                    raise IdempotencyConflict()
                results[index] = Recorded(existing_by_key[key], replayed=True)
                continue
            if key in fresh:
                if normalized[fresh[key]].request_hash != payment.request_hash:
                    raise IdempotencyConflict()
                continue  # a replay of an earlier item of this batch: filled in once that one is stored
            facts = _checked_facts(
                merchants.get(payment.merchant_id),
                payment,
                platform_id,
                courier_known=payment.logistics_partner_id is None or payment.logistics_partner_id in couriers,
            )
            if (payment.merchant_id, payment.external_order_id) in taken_orders:
                raise _duplicate_order(payment)
            split = compute_split(facts, catalogue.book_at(payment.paid_at), catalogue.fallback)
        except DomainError as exc:
            _raise_if_access_error(exc)
            results[index] = exc
            continue
        fresh[key] = index
        taken_orders.add((payment.merchant_id, payment.external_order_id))
        to_store.append((index, payment, split))
    stored = await _store_many([(payment, split) for _, payment, split in to_store]) if to_store else []
    for (index, _, _), row in zip(to_store, stored, strict=True):
        results[index] = Recorded(row, replayed=False)
    for index, payment in normalized.items():
        if results[index] is None:  # an in-batch replay
            first = results[fresh[(payment.merchant_id, payment.idempotency_key)]]
            assert isinstance(first, Recorded)
            results[index] = Recorded(first.payment, replayed=True)
    assert all(result is not None for result in results)
    return results  # type: ignore[return-value]


async def _store_many(items: list[tuple[NormalizedPayment, Split]]) -> list[Payment]:
    """PostgreSQL only: ids come from the sequences up front, so every table takes one multi-row insert."""
    count = len(items)
    async with in_transaction() as connection:
        payment_ids = await _next_ids(connection, "payments", count)
        entry_ids = await _next_ids(connection, "journal_entries", count)
        rows = list(zip(payment_ids, entry_ids, items, strict=True))
        await Payment.bulk_create([_payment_row(p, id=pid, journal_entry_id=eid) for pid, eid, (p, _) in rows])
        await PaymentLine.bulk_create([line for pid, _, (_, split) in rows for line in _line_rows(pid, split)])
        await Allocation.bulk_create([a for pid, _, (p, split) in rows for a in _allocation_rows(pid, p, split)])
        await ledger.post_entries([_entry(pid, p, split, eid) for pid, eid, (p, split) in rows])
    return list(await Payment.filter(id__in=payment_ids).order_by("id"))


async def _next_ids(connection, table: str, count: int) -> list[int]:
    rows = await connection.execute_query_dict(
        "SELECT nextval(pg_get_serial_sequence($1, 'id')) AS id FROM generate_series(1, $2)", [table, count]
    )
    return sorted(int(row["id"]) for row in rows)


async def preview_split(principal: Principal, runtime: Runtime, data: PaymentInput) -> Split:
    """The split a payment would get now, writing nothing."""
    require(principal, "rules:read")
    payment = normalize_payment(data)
    merchant = await readable(principal, Party).filter(id=payment.merchant_id, kind=PartyKind.MERCHANT).first()
    if merchant is None:
        raise NotFound("merchant", field="merchantId")
    facts = _payment_facts(merchant, payment, (await parties.ensure_platform_party()).id)
    catalogue = await rules.load_catalogue(runtime.now())
    return compute_split(facts, catalogue.book_at(payment.paid_at), catalogue.fallback)


@dataclass(frozen=True)
class PaymentFilter:
    merchant_id: int | None = None
    status: str | None = None
    paid_from: datetime | None = None
    paid_until: datetime | None = None
    external_order_id: str | None = None


async def list_payments(
    principal: Principal, runtime: Runtime, page: PageRequest, filters: PaymentFilter = PaymentFilter()
) -> Page[Payment]:
    require(principal, "payments:read")
    query = readable(principal, Payment)
    if filters.merchant_id is not None:
        query = query.filter(merchant_id=filters.merchant_id)
    if filters.status:
        query = query.filter(status=filters.status)
    if filters.paid_from:
        query = query.filter(paid_at__gte=filters.paid_from)
    if filters.paid_until:
        query = query.filter(paid_at__lt=filters.paid_until)
    if filters.external_order_id:
        query = query.filter(external_order_id=filters.external_order_id)
    return await fetch_page(query, page.checked(runtime.max_page_size))


async def get_payment(principal: Principal, payment_id: int) -> Payment:
    require(principal, "payments:read")
    row = await readable(principal, Payment).get_or_none(id=payment_id)
    if row is None:
        raise NotFound("payment")
    return row


async def payments_by_ids(principal: Principal, ids: list[int]) -> dict[int, Payment]:
    require(principal, "payments:read")
    return {row.id: row for row in await readable(principal, Payment).filter(id__in=ids)}


async def payment_by_external_id(principal: Principal, merchant_id: int, external_order_id: str) -> Payment | None:
    require(principal, "payments:read")
    return await readable(principal, Payment).get_or_none(merchant_id=merchant_id, external_order_id=external_order_id)


async def allocations_of(principal: Principal, payment_ids: list[int]) -> dict[int, list[Allocation]]:
    """Each payment's allocations that the caller may see: its own lines only, for a party."""
    require(principal, "payments:read")
    rows = await readable(principal, Allocation).filter(payment_id__in=payment_ids).order_by("line_position", "id")
    grouped: dict[int, list[Allocation]] = {payment_id: [] for payment_id in payment_ids}
    for row in rows:
        grouped[row.payment_id].append(row)
    return grouped


async def lines_of(principal: Principal, payment_ids: list[int]) -> dict[int, list[PaymentLine]]:
    require(principal, "payments:read")
    rows = await readable(principal, PaymentLine).filter(payment_id__in=payment_ids).order_by("position")
    grouped: dict[int, list[PaymentLine]] = {payment_id: [] for payment_id in payment_ids}
    for row in rows:
        grouped[row.payment_id].append(row)
    return grouped


MAX_BACKTEST_PAYMENTS = 10_000


@dataclass(frozen=True)
class BacktestRow:
    party_id: int
    role: str
    currency: str
    actual_minor: int
    with_draft_minor: int


@dataclass(frozen=True)
class Backtest:
    payments: int
    rows: list[BacktestRow]
    truncated: bool


async def backtest_rule(
    principal: Principal, runtime: Runtime, draft: RuleDraft, paid_from: datetime, paid_until: datetime
) -> Backtest:
    """What each party got from past payments, against what it would have got with the draft rule in effect too.
    Writes nothing."""
    require(principal, "rules:read")
    validate_rule(draft)
    query = readable(principal, Payment).filter(paid_at__gte=paid_from, paid_at__lt=paid_until).order_by("id")
    rows = await query.limit(MAX_BACKTEST_PAYMENTS + 1).select_related("merchant")
    truncated = len(rows) > MAX_BACKTEST_PAYMENTS
    rows = rows[:MAX_BACKTEST_PAYMENTS]
    ids = [row.id for row in rows]
    lines = await lines_of(principal, ids)
    actual = await allocations_of(principal, ids)
    catalogue = await rules.load_catalogue(runtime.now())
    platform_id = (await parties.ensure_platform_party()).id
    draft_version = RuleVersion(
        version_id=-1,
        rule_id=-1,
        priority=draft.priority,
        effective_from=datetime.min.replace(tzinfo=paid_from.tzinfo),
        conditions=draft.conditions,
        legs=tuple(draft.legs),
    )
    totals: dict[tuple[int, str, str], list[int]] = {}
    for row in rows:
        for allocation in actual[row.id]:
            totals.setdefault((allocation.party_id, allocation.role, row.currency), [0, 0])[0] += (
                allocation.amount_minor
            )
        facts = PaymentFacts(
            merchant_id=row.merchant_id,
            merchant_tier=str(row.merchant.tier),
            platform_party_id=platform_id,
            logistics_party_id=row.logistics_party_id,
            currency=row.currency,
            channel=row.channel,
            region=row.region,
            paid_at=row.paid_at,
            shipping_fee_minor=row.shipping_fee_minor,
            line_items=tuple(
                LineItem(line.sku, line.category, line.unit_amount_minor, line.quantity) for line in lines[row.id]
            ),
        )
        in_effect = [*catalogue.book_at(row.paid_at).rules, draft_version]
        for (party_id, role), amount in compute_split(facts, in_effect, catalogue.fallback).per_party().items():
            totals.setdefault((party_id, role.value, row.currency), [0, 0])[1] += amount
    return Backtest(
        payments=len(rows),
        truncated=truncated,
        rows=[
            BacktestRow(party_id, role, currency, amounts[0], amounts[1])
            for (party_id, role, currency), amounts in sorted(totals.items())
        ],
    )
