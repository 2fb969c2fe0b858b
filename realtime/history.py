"""Reads of the event log for streams: replay after a cursor, and gap filling.

Plain synchronous ORM calls; the async stream code runs them through
`sync_to_async`, which serializes them on one thread, so a process uses one
database connection at a time for its streams however many are open, and
gives it back after each read (`_read`).
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass

from django.db import close_old_connections, connection
from django.db.models import Min, Q

from realtime.catalogue import Audience
from realtime.models import Event, StreamCounter
from realtime.relay import envelope_of
from realtime.wire import Delivery, dumps

# A process that missed more than this (a long pub/sub outage) skips the rest
# for its live clients; each of them can still resume from its own cursor.
GAP_LIMIT = 10_000


def _read(function):
    """A read of the stream path, which runs outside any request: afterwards the
    connection is handled as a request's end would (back to the pool, or closed
    if it failed). Kept, a connection that a database restart had broken
    failed every later replay of the process, for good."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            if not connection.in_atomic_block:  # a caller's transaction is not ours to end
                close_old_connections()

    return run


@dataclass(frozen=True)
class Position:
    current: int  # the last cursor handed out in the workspace (committed)
    oldest: int | None  # the oldest cursor still retained


def delivery_of(row: Event) -> Delivery:
    return Delivery(seq=row.seq, ts=row.occurred_at.timestamp(), type=row.type,
                    audience=row.audience, call_id=row.call_id,
                    agent=row.agent, envelope_json=dumps(envelope_of(row)))


def _last_cursor(workspace_id: str) -> int:
    return (
        StreamCounter.objects.filter(workspace_id=workspace_id).values_list("last_seq", flat=True).first()
    ) or 0


@_read
def position(workspace_id: str) -> Position:
    current = _last_cursor(workspace_id)
    oldest = Event.objects.filter(workspace_id=workspace_id).aggregate(oldest=Min("seq"))["oldest"]
    return Position(current=current, oldest=oldest)


@_read
def last_cursor(workspace_id: str) -> int:
    """The last cursor handed out in the workspace: every event up to it is committed."""
    return _last_cursor(workspace_id)


@_read
def is_retained(workspace_id: str, seq: int) -> bool:
    """Whether the event with this cursor is still stored. Cursors have no holes
    (a rolled-back draw rolls back too), so a missing one was trimmed."""
    return Event.objects.filter(workspace_id=workspace_id, seq=seq).exists()


def _stream_predicate(*, follow_call_id: str | None, subscribed_calls: frozenset[str]) -> Q:
    if follow_call_id is not None:
        return Q(call_id=follow_call_id)
    predicate = Q(audience=Audience.WORKSPACE.value)
    if subscribed_calls:
        predicate |= Q(audience=Audience.CALL.value, call_id__in=subscribed_calls)
    return predicate


@_read
def replay(workspace_id: str, *, after: int, upto: int, limit: int, follow_call_id: str | None = None,
           subscribed_calls: frozenset[str] = frozenset(),
           event_types: frozenset[str] | None = None) -> list[Delivery]:
    """Persisted events of one stream with after < seq <= upto, oldest first, at most `limit`."""
    rows = Event.objects.filter(workspace_id=workspace_id, seq__gt=after, seq__lte=upto).filter(
        _stream_predicate(follow_call_id=follow_call_id, subscribed_calls=subscribed_calls)
    )
    if event_types is not None:
        rows = rows.filter(type__in=event_types)
    return [delivery_of(row) for row in rows.order_by("seq")[:limit]]


# The calls app says which calls are active (realtime imports no domain app).
_active_call_ids: Callable[[str], list[str]] | None = None


def provide_active_calls(provider: Callable[[str], list[str]]) -> None:
    """Registers the function that lists a workspace's active call ids, for
    `include_history`. The app that owns calls registers it when it loads."""
    global _active_call_ids
    _active_call_ids = provider


@_read
def active_call_ids(workspace_id: str) -> list[str]:
    if _active_call_ids is None:
        raise RuntimeError("No app has registered the active calls (realtime.history.provide_active_calls).")
    return _active_call_ids(workspace_id)


@_read
def of_calls(workspace_id: str, call_ids: list[str], *, after: int, upto: int, limit: int,
             event_types: frozenset[str] | None = None) -> list[Delivery]:
    """Every persisted event of these calls with after < seq <= upto, whatever its
    audience, oldest first, at most `limit` (the event_call_timeline index)."""
    if not call_ids:
        return []
    rows = Event.objects.filter(workspace_id=workspace_id, call_id__in=call_ids, seq__gt=after,
                                seq__lte=upto)
    if event_types is not None:
        rows = rows.filter(type__in=event_types)
    return [delivery_of(row) for row in rows.order_by("seq")[:limit]]


@_read
def window(workspace_id: str, *, after: int, upto: int) -> list[Delivery]:
    """Every persisted event of the workspace with after < seq <= upto, oldest first,
    unfiltered (streams filter it themselves). Callers keep the window small: a
    replay page (realtime/pages.py)."""
    rows = Event.objects.filter(workspace_id=workspace_id, seq__gt=after, seq__lte=upto).order_by("seq")
    return [delivery_of(row) for row in rows]


@_read
def gap(workspace_id: str, *, after: int, before: int) -> list[Delivery]:
    """Every persisted event of the workspace with after < seq < before, for a
    process that received a later event first (they are committed: the counter
    lock guarantees it)."""
    rows = Event.objects.filter(workspace_id=workspace_id, seq__gt=after, seq__lt=before)
    return [delivery_of(row) for row in rows.order_by("seq")[:GAP_LIMIT]]
