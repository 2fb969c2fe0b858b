"""`emit`: the one way an event enters the system. Services call it inside the
transaction that makes the change, so the event and the change commit together
or not at all; the relay publishes after commit."""

import threading
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial

from django.db import connection, transaction

from realtime import catalogue, metrics, relay
from realtime.catalogue import Audience
from realtime.models import Event, StreamCounter
from realtime.wire import encode_event, envelope


class EmitError(ValueError):
    pass


_local = threading.local()


@contextmanager
def publishing_together():
    """Within it, events committed by the block are published together when it
    ends: one Redis pipeline and one `published_at` update for a whole batch,
    instead of one of each per event. Wrap it around the transaction:

        with publishing_together(), transaction.atomic():
            ...many emits...

    Django drops the commit hooks of a rolled-back savepoint, so only committed
    events reach the buffer. Not reentrant: an inner block publishes with the outer."""
    if getattr(_local, "buffer", None) is not None:
        yield
        return
    buffer = _local.buffer = []
    try:
        yield
    finally:
        _local.buffer = None
        if buffer:
            relay.publish(buffer)


def _publish(messages: list[tuple[int | None, str, bytes]]) -> None:
    buffer = getattr(_local, "buffer", None)
    if buffer is None:
        relay.publish(messages)
    else:
        buffer.extend(messages)


def _call_facts(call) -> tuple[str | None, str | None]:
    """A call is anything with `pk` (and, for the agent filter, `agent_name`), or its id."""
    if call is None:
        return None, None
    if isinstance(call, str):
        return call, None
    return str(call.pk), getattr(call, "agent_name", None)


def _next_seq(workspace_id) -> int:
    """Draws the workspace's next cursor. The UPDATE's row lock lasts until the
    caller's transaction ends: that is what keeps cursors in commit order."""
    table = StreamCounter._meta.db_table
    # Raw SQL for UPDATE ... RETURNING; the id must be in the backend's own form.
    workspace_id = StreamCounter._meta.pk.target_field.get_db_prep_value(workspace_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_seq = last_seq + 1 WHERE workspace_id = %s RETURNING last_seq",  # noqa: S608
            [workspace_id],
        )
        row = cursor.fetchone()
        if row is None:
            cursor.execute(
                f"INSERT INTO {table} (workspace_id, last_seq) VALUES (%s, 0) "  # noqa: S608
                "ON CONFLICT (workspace_id) DO NOTHING",
                [workspace_id],
            )
            cursor.execute(
                f"UPDATE {table} SET last_seq = last_seq + 1 WHERE workspace_id = %s RETURNING last_seq",  # noqa: S608
                [workspace_id],
            )
            row = cursor.fetchone()
    return row[0]


def emit(workspace, type: str, data, call=None, *, occurred_at: datetime | None = None) -> dict:
    """Validates and records an event; returns its envelope.

    Persisted types get a row (the outbox and the history) in the caller's
    transaction; ephemeral ones skip the database. Either way nothing is
    published unless and until the transaction commits.
    """
    try:
        event_type = catalogue.get(type)
    except catalogue.UnknownEventType:
        raise EmitError(f"unknown event type {type!r}") from None
    if event_type.audience is Audience.CONTROL:
        raise EmitError(f"{type!r} is a control event: streams send it, nobody emits it")
    payload = catalogue.validate_data(type, data)
    call_id, agent = _call_facts(call)
    if event_type.audience is Audience.CALL and call_id is None:
        raise EmitError(f"{type!r} is about a call: pass call=")
    workspace_id = str(workspace.pk)
    moment = occurred_at or datetime.now(UTC)

    if not event_type.persisted:
        body = envelope(event_id=_new_event_id(), type=type, workspace_id=workspace_id,
                        call_id=call_id, timestamp=moment, data=payload)
        message = encode_event(seq=None, ts=moment.timestamp(), type=type,
                               audience=event_type.audience.value, call_id=call_id, agent=agent,
                               envelope_body=body)
        metrics.events_emitted.labels(type).inc()
        transaction.on_commit(partial(_publish, [(None, workspace_id, message)]), robust=True)
        return body

    with transaction.atomic(savepoint=False):
        seq = _next_seq(workspace.pk)
        row = Event.objects.create(
            workspace_id=workspace.pk, seq=seq, type=type, audience=event_type.audience.value,
            call_id=call_id, agent=agent, data=payload, occurred_at=moment,
        )
    body = relay.envelope_of(row)
    message = encode_event(seq=seq, ts=moment.timestamp(), type=type, audience=row.audience,
                           call_id=call_id, agent=agent, envelope_body=body)
    metrics.events_emitted.labels(type).inc()
    transaction.on_commit(partial(_publish, [(row.pk, workspace_id, message)]), robust=True)
    return body


def _new_event_id() -> str:
    return str(uuid.uuid4())
