"""Relay-style connections with opaque cursors and a maximum page size."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

from domain.errors import InvalidInput
from domain.services.pagination import Page, PageRequest
from schema.ids import MAX_ID_DIGITS

NodeType = TypeVar("NodeType")
DEFAULT_PAGE_SIZE = 20
# Appended to the description of every list field.
PAGE_ARGS_HELP = "`first` (1..100, default 20) items after the cursor `after`, newest first."
_CURSOR_PREFIX = "cursor:"


@strawberry.type(description="Where a page sits in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow `endCursor`.")
    has_previous_page: bool = strawberry.field(description="Items precede `startCursor`.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first item of the page.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last item; pass it as `after`.")


@strawberry.type(description="An item of a page with its cursor.")
class Edge(Generic[NodeType]):
    cursor: str = strawberry.field(description="Opaque position of this item.")
    node: NodeType = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list, newest first.")
class Connection(Generic[NodeType]):
    edges: list[Edge[NodeType]] = strawberry.field(description="The items of this page with their cursors.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the whole list.")

    @strawberry.field(description="The items of this page, without cursors.")
    def nodes(self) -> list[NodeType]:
        return [edge.node for edge in self.edges]


def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except ValueError:
        text = ""
    number = text.removeprefix(_CURSOR_PREFIX)
    # The same rule as ids (ASCII digits that fit a bigint): a forged cursor is INVALID_CURSOR, never a driver error.
    well_formed = number.isascii() and number.isdigit() and len(number) <= MAX_ID_DIGITS
    if not text.startswith(_CURSOR_PREFIX) or not well_formed:
        raise InvalidInput("INVALID_CURSOR", "after is not a cursor returned by this list", field="after")
    return int(number)


def page_request(first: int | None, after: str | None) -> PageRequest:
    return PageRequest(
        first=DEFAULT_PAGE_SIZE if first is None else first, after_id=decode_cursor(after) if after else None
    )


def to_connection(page: Page[Any], convert: Callable[[Any], NodeType]) -> Connection[NodeType]:
    edges = [Edge(cursor=encode_cursor(row.id), node=convert(row)) for row in page.items]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
