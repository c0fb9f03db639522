"""Pagination: page sizes, the one opaque cursor format and the connection types.

Every connection is keyset-paginated in SQL: a cursor is a position in the listing's order (the
key of the last row seen), not an offset, so pages are stable under inserts. Its format is the
same for every connection: URL-safe base64 of the JSON list `[kind, *key]` (the format the
alert cursors always had, so cursors issued before stay valid). Clients must not parse them.

The types are not `strawberry.relay`'s: relay's `Connection`, `Edge` and `PageInfo` add
`hasPreviousPage`, `startCursor` and field descriptions, which would change the SDL.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Generic, Self, TypeVar

import strawberry

from alliance_gateway.application.reads import AlertKey, CaseKey, Page
from alliance_gateway.application.request import UserError

K = TypeVar("K")
NodeT = TypeVar("NodeT")
Row = TypeVar("Row")

MAX_PAGE = 200


def check_page(first: int) -> None:
    if not 1 <= first <= MAX_PAGE:
        raise UserError(f"first: must be between 1 and {MAX_PAGE}")


class Keyset(Generic[K]):
    """One listing's order: writes a row's key as an opaque cursor and reads it back."""

    def __init__(
        self, kind: str, write: Callable[[K], list[str]], read: Callable[[list[str]], K]
    ) -> None:
        self.kind = kind
        self._write = write
        self._read = read  # raises ValueError or TypeError on a malformed key

    def cursor(self, key: K) -> str:
        raw = json.dumps([self.kind, *self._write(key)])
        return base64.urlsafe_b64encode(raw.encode()).decode()

    def after(self, cursor: str | None) -> K | None:
        """The key a cursor of this listing stands for (None for none); anything else, such as
        another listing's cursor, is refused."""
        if not cursor:
            return None
        try:
            kind, *key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
            if kind != self.kind or not all(isinstance(part, str) for part in key):
                raise ValueError(kind)
            return self._read(key)
        except (ValueError, TypeError) as exc:
            raise UserError("after: not a cursor this API issued") from exc


def _read_alert_key(key: list[str]) -> AlertKey:
    raised_at, alert_id = key
    return datetime.fromisoformat(raised_at), uuid.UUID(alert_id)


def _read_case_key(key: list[str]) -> CaseKey:
    [case_id] = key
    return case_id


ALERTS: Keyset[AlertKey] = Keyset("alert", lambda k: [k[0].isoformat(), str(k[1])], _read_alert_key)
CASES: Keyset[CaseKey] = Keyset("case", lambda case_id: [case_id], _read_case_key)


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    """A page of a listing; subclasses name and describe it (`AlertConnection`)."""

    edges: list[Edge[NodeT]]
    page_info: PageInfo

    @classmethod
    def of(
        cls,
        page: Page[Row],
        cursor: Callable[[Row], str],
        node: Callable[[Row], NodeT],
    ) -> Self:
        edges = [Edge(cursor=cursor(row), node=node(row)) for row in page.items]
        end = edges[-1].cursor if edges else None
        return cls(edges=edges, page_info=PageInfo(has_next_page=page.has_next, end_cursor=end))
