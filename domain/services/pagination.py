"""Keyset pagination, newest first: a page is the rows with an id below the cursor, never an OFFSET."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from domain.errors import InvalidInput

T = TypeVar("T", bound=Model)


@dataclass(frozen=True)
class PageRequest:
    first: int
    after_id: int | None = None

    def checked(self, max_page_size: int) -> PageRequest:
        if not 1 <= self.first <= max_page_size:
            raise InvalidInput(
                "INVALID_PAGE_SIZE",
                f"first must be between 1 and {max_page_size}, got {self.first}",
                field="first",
            )
        return self


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    has_next_page: bool
    has_previous_page: bool


async def fetch_page(queryset: QuerySet[T], page: PageRequest) -> Page[T]:
    if page.after_id is not None:
        queryset = queryset.filter(id__lt=page.after_id)
    rows = await queryset.order_by("-id").limit(page.first + 1)
    return Page(
        items=rows[: page.first],
        has_next_page=len(rows) > page.first,
        has_previous_page=page.after_id is not None,
    )
