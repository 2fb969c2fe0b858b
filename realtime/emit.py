"""`emit`: the one way an event enters the system. Services call it inside the
transaction that makes the change, so the event and the change commit together
or not at all; the relay publishes after commit."""

import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from django.db import connection, transaction

from project.bulk import insert_rows
from realtime import catalogue, metrics, reactions, relay
from realtime.catalogue import Audience
from realtime.models import Event, PendingPublish, StreamCounter
from realtime.wire import dumps, encode_event, envelope


class EmitError(ValueError):
    pass


def _call_facts(call) -> tuple[str | None, str | None]:
    """A call is anything with `pk` (and, for the agent filter, `agent_name`), or its id."""
    if call is None:
        return None, None
    if isinstance(call, str):
        return call, None
    return str(call.pk), getattr(call, "agent_name", None)


def _draw_seqs(workspace_id, count: int, *, reacted: bool = False) -> int:
    """Draws the workspace's next `count` cursors and returns the last. The UPDATE's
    row lock lasts until the caller's transaction ends: that is what keeps cursors
    in commit order. `reacted`: the batch holds an event some reaction wants; the
    counter's `reacted_seq` moves to the batch's last cursor in the same UPDATE."""
    table = StreamCounter._meta.db_table
    # Raw SQL for UPDATE ... RETURNING; the id must be in the backend's own form.
    workspace_id = StreamCounter._meta.pk.target_field.get_db_prep_value(workspace_id, connection)
    # Every SET expression reads the row as it was, so "last_seq + n" is the new last_seq in both.
    reacted_too = ", reacted_seq = last_seq + %s" if reacted else ""
    draw = (f"UPDATE {table} SET last_seq = last_seq + %s{reacted_too} "  # noqa: S608
            "WHERE workspace_id = %s RETURNING last_seq")
    params = [count, count, workspace_id] if reacted else [count, workspace_id]
    with connection.cursor() as cursor:
        cursor.execute(draw, params)
        row = cursor.fetchone()
        if row is None:
            cursor.execute(
                f"INSERT INTO {table} (workspace_id, last_seq) VALUES (%s, 0) "  # noqa: S608
                "ON CONFLICT (workspace_id) DO NOTHING",
                [workspace_id],
            )
            cursor.execute(draw, params)
            row = cursor.fetchone()
    return row[0]


def hold_cursor(workspace) -> None:
    """Takes the workspace's cursor lock now, until the caller's transaction ends.

    For a transaction that locks rows of its own and emits after: `emit` would
    take this lock last, while a transaction that emitted first (a call's
    ending) may then want those rows, and the two would deadlock. Taking the
    cursor first keeps one order everywhere: cursor, then the rest."""
    _draw_seqs(workspace.pk, 0)


@dataclass(frozen=True)
class Emission:
    """One event to emit: what `emit` takes, for `emit_many`."""

    type: str
    data: Any
    call: Any = None
    occurred_at: datetime | None = None


def emit(workspace, type: str, data, call=None, *, occurred_at: datetime | None = None) -> dict:
    """Validates and records an event; returns its envelope.

    Persisted types get a row (the outbox and the history) in the caller's
    transaction; ephemeral ones skip the database. Either way nothing is
    published unless and until the transaction commits.
    """
    return emit_many(workspace, [Emission(type, data, call, occurred_at)])[0]


def emit_many(workspace, emissions: list[Emission]) -> list[dict]:
    """`emit` for several events at once, in order: one cursor draw, one insert and
    one publish for all of them (a runtime's batch). All are validated before any
    is recorded; an invalid one raises EmitError or pydantic's ValidationError and
    records nothing."""
    return record(prepare(workspace, emissions))


@dataclass(frozen=True)
class Checked:
    type: catalogue.EventType
    payload: dict
    call_id: str | None
    agent: str | None
    occurred_at: datetime
    event_id: uuid.UUID
    envelope_json: bytes


@dataclass(frozen=True)
class Prepared:
    """Events checked and given their ids and envelopes, not yet recorded.

    `emit_many` is `record(prepare(...))`. A caller that writes rows of its own
    about the same events (a call's timeline) writes them between the two:
    `record` takes the workspace's cursor lock, which every emitting transaction
    of the workspace waits for until this one commits, so the less happens after
    it, the more batches of one workspace commit per second."""

    workspace: Any
    created_at: datetime
    events: list[Checked]
    envelopes: list[dict]


def prepare(workspace, emissions: list[Emission]) -> Prepared:
    """Validates every emission (EmitError or pydantic's ValidationError on the first
    bad one) and builds its envelope. Touches no database."""
    workspace_id = str(workspace.pk)
    now = datetime.now(UTC)
    events, envelopes = [], []
    for emission in emissions:
        try:
            event_type = catalogue.get(emission.type)
        except catalogue.UnknownEventType:
            raise EmitError(f"unknown event type {emission.type!r}") from None
        if event_type.audience is Audience.CONTROL:
            raise EmitError(f"{emission.type!r} is a control event: streams send it, nobody emits it")
        payload = catalogue.validate_data(emission.type, emission.data)
        call_id, agent = _call_facts(emission.call)
        if event_type.audience is Audience.CALL and call_id is None:
            raise EmitError(f"{emission.type!r} is about a call: pass call=")
        moment = emission.occurred_at or now
        event_id = uuid.uuid4()
        body = envelope(event_id=str(event_id), type=event_type.name, workspace_id=workspace_id,
                        call_id=call_id, timestamp=moment, data=payload)
        events.append(Checked(event_type, payload, call_id, agent, moment, event_id, dumps(body)))
        envelopes.append(body)
    return Prepared(workspace, now, events, envelopes)


def record(prepared: Prepared) -> list[dict]:
    """Records prepared events in the caller's transaction: the persisted ones get
    their cursors, their rows and one outbox row; all are published after commit,
    and the workspace's reactions run after commit if one wants any of them.
    Their envelopes."""
    workspace_pk, now = prepared.workspace.pk, prepared.created_at
    workspace_id = str(workspace_pk)
    wanted = reactions.reacted_types()
    persisted, reacted = 0, False
    for event in prepared.events:
        if event.type.persisted:
            persisted += 1
            reacted = reacted or event.type.name in wanted
    pending_id = None
    messages, rows = [], []
    with transaction.atomic(savepoint=False) if persisted else nullcontext():
        seq = _draw_seqs(workspace_pk, persisted, reacted=reacted) - persisted if persisted else None
        for event in prepared.events:
            event_type = event.type
            cursor = None
            if event_type.persisted:
                seq += 1
                cursor = seq
                rows.append({
                    "workspace_id": workspace_pk, "seq": seq, "event_id": event.event_id,
                    "type": event_type.name, "audience": event_type.audience.value, "call_id": event.call_id,
                    "agent": event.agent, "data": event.payload, "occurred_at": event.occurred_at,
                    "created_at": now,
                })
            messages.append((workspace_id, encode_event(
                seq=cursor, ts=event.occurred_at.timestamp(), type=event_type.name,
                audience=event_type.audience.value, call_id=event.call_id, agent=event.agent,
                envelope_json=event.envelope_json,
            )))
            metrics.events_emitted.labels(event_type.name).inc()
        if rows:
            insert_rows(Event, rows)
            pending_id = PendingPublish.objects.create(
                workspace_id=workspace_pk, first_seq=rows[0]["seq"], last_seq=seq, created_at=now
            ).pk
    transaction.on_commit(partial(relay.publish, messages, pending_id), robust=True)
    if reacted:
        reactions.trigger_after_commit(workspace_pk)
    return prepared.envelopes
