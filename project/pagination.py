"""Cursor pagination for every list (docs/reference/rest.md#pagination).

Keyset on (created_at, id), newest first: a page is stable while new rows
arrive, with no duplicates or gaps between pages. The token is signed, so a
client cannot forge a position; a bad one is a 400.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime
from ninja import Field, Schema

from project.errors import BadRequest

_SALT = "callboard.pagination"


class PageParams(Schema):
    """The query parameters of every list endpoint."""

    page_size: int = Field(settings.API_PAGE_SIZE_DEFAULT, ge=1, le=settings.API_PAGE_SIZE_MAX)
    page_token: str = ""


@dataclass(frozen=True)
class Page:
    results: list
    next_page_token: str
    total_count: int


def _decode(token: str) -> tuple:
    try:
        created_at, pk = signing.loads(token, salt=_SALT)
        moment = parse_datetime(created_at)
    except (signing.BadSignature, ValueError, TypeError):
        moment = None
    if moment is None:
        raise BadRequest("The page token is not valid.", code="invalid_page_token")
    return moment, pk


def unfiltered(filters: Schema) -> bool:
    """No filter of the list is set: its count is the whole list's (a row tally's)."""
    return all(value is None or value == "" for value in filters.dict().values())


def paginate(queryset: QuerySet, *, page_size: int, page_token: str = "",
             total_count: int | None = None) -> Page:
    """A page of `queryset`, with its count, or `total_count` when the caller knows
    it without counting (workspaces/tallies.py)."""
    total = queryset.count() if total_count is None else total_count
    ordered = queryset.order_by("-created_at", "-pk")
    if page_token:
        created_at, pk = _decode(page_token)
        try:
            ordered = ordered.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
        except (ValidationError, ValueError, TypeError):
            # Signed, but by another list whose ids are of another kind (uuid, integer).
            raise BadRequest("The page token is not valid.", code="invalid_page_token") from None
    rows = list(ordered[: page_size + 1])
    next_token = ""
    if len(rows) > page_size:
        rows = rows[:page_size]
        last = rows[-1]
        next_token = signing.dumps([last.created_at.isoformat(), str(last.pk)], salt=_SALT)
    return Page(results=rows, next_page_token=next_token, total_count=total)


def paginated(queryset: QuerySet, params: PageParams, item: Callable[[Any], Any], *,
              total_count: int | None = None) -> Page:
    """The page `params` ask for, each row turned into what the list answers by `item`:
    a list endpoint's whole answer."""
    page = paginate(queryset, page_size=params.page_size, page_token=params.page_token,
                    total_count=total_count)
    return Page(results=[item(row) for row in page.results], next_page_token=page.next_page_token,
                total_count=page.total_count)
