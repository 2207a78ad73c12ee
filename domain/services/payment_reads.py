"""Reading recorded payments in the caller's scope: lists, single payments, and their lines and allocations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from auth.principal import Principal
from auth.scoping import readable
from domain.errors import NotFound
from domain.models import Allocation, Payment, PaymentLine
from domain.services.authorization import require
from domain.services.pagination import Page, PageRequest, fetch_page
from domain.services.runtime import Runtime


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
        query = query.filter(status=str(filters.status))
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
