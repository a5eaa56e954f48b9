"""Keyset paging: a page of rows, and the cursor of the next one when there is one.

A repository is asked for one row more than the page holds: that row, if it comes back, says another page
follows, which saves counting. The cursor is the last row's key, and the `Link` header (RFC 8288) names the
next page with it, as every list that pages does.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from pydantic import BaseModel
from starlette.responses import Response

T = TypeVar("T")


class Count(BaseModel):
    """How many items a list would give the caller, without the items: for a worklist's badge.

    A number names none of the items and reads none of them; the list itself is what a service authorises.
    """

    count: int


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    after: str | None  # the cursor of the next page; None on the last


def page_of(rows: Sequence[T], limit: int, cursor: Callable[[T], str]) -> Page[T]:
    """The first `limit` of `rows` (asked for `limit + 1`), and the cursor of the next page if a row was left over."""
    items = list(rows[:limit])
    return Page(items, cursor(items[-1]) if len(rows) > limit else None)


def link_next(
    response: Response, path: str, page: Page[Any], limit: int, query: Mapping[str, str] | None = None
) -> None:
    """`Link: <path?...&limit=&after=>; rel="next"` when another page follows; `query` keeps the list's filters."""
    if page.after is not None:
        following = urlencode({**(query or {}), "limit": limit, "after": page.after})
        response.headers["Link"] = f'<{path}?{following}>; rel="next"'
