"""Reactions: the one way an app acts on committed events.

An app registers a reaction from its `AppConfig.ready()`: a name, the event
types it wants and a handler. Per workspace the reaction keeps a durable cursor
(`ReactionCursor`). A run hands the handler the committed events of its types
past that cursor, in cursor order, and advances the cursor in the same
transaction: what the handler writes commits exactly once, together with the
advance, and a handler that raises (or a worker that dies) leaves the events to
be handed over again. Delivery is therefore at least once; effects in the
database, exactly once.

A run starts right after an emitting transaction commits (`trigger_after_commit`,
called by `realtime.emit`, enqueues `realtime.tasks.run_reactions`), unless a run
of the workspace is already queued and not yet started: that run will read the
commit (`trigger`). The beat task `sweep_reactions` runs what a lost trigger left
behind. See docs/architecture.md, "Reacting to committed events".
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.core import checks
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from project.metrics import background_failures
from project.redis_client import get_redis
from project.request_context import workspace_id_var
from realtime import catalogue, channels, metrics
from realtime.models import Event, ReactionCursor, StreamCounter
from realtime.wire import envelope
from workspaces.models import Workspace

logger = logging.getLogger(__name__)

BATCH = 500  # events per handler call, and per transaction
MAX_ROUNDS = 20  # batches per reaction per run; past them the run enqueues its continuation
SWEEP_LIMIT = 100  # workspaces one sweep runs
TRIGGER_BACKOFF_SECONDS = 10.0  # after the broker refused a trigger (see `trigger`)
QUEUED_FLAG_SECONDS = 30  # a queued run's flag outlives a lost task by at most this (see `trigger`)
NAME_MAX_LENGTH = 64  # ReactionCursor.reaction

Handler = Callable[[Workspace, list[dict]], None]


@dataclass(frozen=True)
class Reaction:
    name: str
    types: frozenset[str]
    handler: Handler


_reactions: dict[str, Reaction] = {}
_reacted_types: frozenset[str] = frozenset()
_skip_triggers_until = 0.0  # time.monotonic(); set when the broker refused


def register(name: str, *, types: set[str] | frozenset[str], handler: Handler) -> Reaction:
    """Adds a reaction; call it from the app's `AppConfig.ready()`.

    `handler(workspace, events)` gets each committed event of `types` as its
    envelope (`event_id, type, workspace_id, call_id?, timestamp, data`) plus
    `seq`, in cursor order, at most BATCH at a time, inside the transaction that
    advances the cursor. It must be short and may raise (nothing is advanced;
    the same events come again later). Registering the same name with the same
    types and handler again is a no-op (apps may be readied twice in tests)."""
    types = frozenset(types)
    if not name or len(name) > NAME_MAX_LENGTH:
        raise ValueError(f"a reaction's name is 1 to {NAME_MAX_LENGTH} characters: {name!r}")
    if not types:
        raise ValueError(f"reaction {name!r} wants no event type")
    for type_name in types:
        _check_persisted(name, type_name)
    reaction = Reaction(name, types, handler)
    existing = _reactions.get(name)
    if existing is not None and existing != reaction:
        raise ValueError(f"reaction {name!r} is already registered")
    _reactions[name] = reaction
    _refresh_types()
    return reaction


def _check_persisted(name: str, type_name: str) -> None:
    """An ephemeral type has no cursor, so no reaction can see it. A type the
    catalogue does not know yet may belong to an app readied later."""
    try:
        event_type = catalogue.get(type_name)
    except catalogue.UnknownEventType:
        return
    if not event_type.persisted:
        raise ValueError(f"reaction {name!r}: {type_name!r} is ephemeral, it never reaches the event log")


def check_types(app_configs=None, **kwargs) -> list[checks.Error]:
    """A Django system check (`manage.py check`, `migrate`): once every app is
    ready, each type a reaction wants is a persisted type of the catalogue, so a
    misspelt type fails loudly instead of never matching."""
    errors = []
    for reaction in registered():
        for type_name in sorted(reaction.types):
            try:
                persisted = catalogue.get(type_name).persisted
            except catalogue.UnknownEventType:
                errors.append(checks.Error(f"reaction {reaction.name!r} wants {type_name!r}, which no app "
                                           "registered as an event type", id="realtime.E001"))
                continue
            if not persisted:
                errors.append(checks.Error(f"reaction {reaction.name!r} wants {type_name!r}, which is "
                                           "ephemeral and never reaches the event log", id="realtime.E002"))
    return errors


def unregister(name: str) -> None:
    """Removes a reaction (tests); its cursors stay and are ignored."""
    _reactions.pop(name, None)
    _refresh_types()


def _refresh_types() -> None:
    global _reacted_types
    _reacted_types = frozenset().union(*(reaction.types for reaction in _reactions.values()))


def registered() -> tuple[Reaction, ...]:
    return tuple(_reactions.values())


def reacted_types() -> frozenset[str]:
    """Every type some reaction wants: `emit` asks this on every persisted batch."""
    return _reacted_types


# --- running ---------------------------------------------------------------------------


def run(workspace_id) -> int:
    """Runs every registered reaction of the workspace up to its committed events;
    the number of events handed to handlers.

    A reaction whose handler raises is rolled back, logged, counted in
    `callboard_background_failures_total{loop="reaction:<name>"}` and left for a
    later run; the other reactions go on. A reaction that stopped after
    MAX_ROUNDS with events still waiting enqueues another run (the queue stays
    fair between workspaces)."""
    _clear_queued(workspace_id)  # before any read: a commit after this enqueues a run of its own
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return 0
    token = workspace_id_var.set(str(workspace.pk))
    try:
        delivered, unfinished = 0, False
        for reaction in registered():
            try:
                count, more = _run_reaction(reaction, workspace)
            except Exception:
                logger.exception("reaction %s failed in workspace %s; its events are handed over again later",
                                 reaction.name, workspace.pk)
                background_failures.labels(f"reaction:{reaction.name}").inc()
                _note_attempt(reaction, workspace)
                continue
            delivered += count
            unfinished = unfinished or more
        if unfinished:
            trigger(workspace.pk)
        return delivered
    finally:
        workspace_id_var.reset(token)


def _run_reaction(reaction: Reaction, workspace: Workspace) -> tuple[int, bool]:
    """Rounds until the cursor has caught up; (events handed over, whether some may still wait)."""
    delivered, cursor_seq = 0, None
    for _ in range(MAX_ROUNDS):
        # Read after the previous round committed: a run that skipped our locked
        # cursor meanwhile left its events to us, and this read sees them.
        bound = _committed_seq(workspace.pk)
        if cursor_seq is not None and bound <= cursor_seq:
            return delivered, False
        outcome = _round(reaction, workspace, bound)
        if outcome is None:
            if cursor_seq is None and _create_cursor(reaction, workspace):
                outcome = _round(reaction, workspace, bound)
            if outcome is None:  # another run holds it, and looks again after its commit
                return delivered, False
        handled, cursor_seq = outcome
        delivered += handled
    return delivered, True


def _committed_seq(workspace_pk) -> int:
    """The workspace's last committed cursor. Cursors are drawn in commit order with
    no holes (docs/architecture.md, "Cursors in commit order"), so every event up
    to it is committed and visible to the next statement."""
    counter = StreamCounter.objects.filter(workspace_id=workspace_pk)
    return counter.values_list("last_seq", flat=True).first() or 0


def _round(reaction: Reaction, workspace: Workspace, bound: int) -> tuple[int, int] | None:
    """One transaction: locks the cursor (None when it is missing or another run
    holds it), hands over at most BATCH events up to `bound`, advances.
    (events handed over, the cursor after)."""
    with transaction.atomic():
        cursor = (ReactionCursor.objects.select_for_update(skip_locked=True)
                  .filter(workspace_id=workspace.pk, reaction=reaction.name).first())
        if cursor is None:
            return None
        if bound <= cursor.last_seq:
            return 0, cursor.last_seq
        rows = list(
            Event.objects.filter(workspace_id=workspace.pk, seq__gt=cursor.last_seq, seq__lte=bound,
                                 type__in=sorted(reaction.types))
            .order_by("seq")[:BATCH]
        )
        if rows:
            reaction.handler(workspace, [_envelope(row) for row in rows])
        # Past events of other types too: the next run's scan starts here.
        cursor.last_seq = rows[-1].seq if len(rows) == BATCH else bound
        cursor.updated_at = timezone.now()
        cursor.save(update_fields=["last_seq", "updated_at"])
    return len(rows), cursor.last_seq


def _create_cursor(reaction: Reaction, workspace: Workspace) -> bool:
    """The workspace's first run of the reaction starts before its first event. The
    row is committed on its own, so a handler that fails on the first batch still
    leaves a cursor whose `updated_at` spaces the retries. Whether it was new."""
    _, created = ReactionCursor.objects.get_or_create(
        workspace_id=workspace.pk, reaction=reaction.name,
        defaults={"last_seq": 0, "updated_at": timezone.now()},
    )
    return created


def _note_attempt(reaction: Reaction, workspace: Workspace) -> None:
    """After a failure: the sweep retries this cursor only once the grace period has
    passed again, so failing workspaces cannot fill every sweep."""
    try:
        ReactionCursor.objects.filter(workspace_id=workspace.pk, reaction=reaction.name).update(
            updated_at=timezone.now()
        )
    except Exception:  # the database itself failed; the run already logged why
        logger.warning("could not note the failed run of %s in workspace %s", reaction.name, workspace.pk,
                       exc_info=True)


def _envelope(row: Event) -> dict:
    body = envelope(event_id=str(row.event_id), type=row.type, workspace_id=str(row.workspace_id),
                    call_id=row.call_id, timestamp=row.occurred_at, data=row.data)
    body["seq"] = row.seq
    return body


# --- triggering -------------------------------------------------------------------------


def trigger(workspace_id) -> None:
    """Enqueues a run of the workspace's reactions, unless one is queued and has not
    started yet. Never raises: when the broker refuses, the sweep runs them instead
    (counted, logged).

    Coalescing: a run clears the workspace's "queued" flag in Redis before it reads
    anything (`run`), and a trigger enqueues only when it sets the flag itself (SET
    NX). A commit that finds the flag set therefore precedes a run that has not
    started, and that run reads it. Without this, every emitting transaction cost a
    task, and at 1,000 commits a second all but one per round found the cursor
    locked and returned (docs/PERFORMANCE.md "Webhooks"). The flag expires after
    QUEUED_FLAG_SECONDS, so a task lost on its way costs that long at most (the
    sweep repairs it too); when Redis cannot be asked, the trigger enqueues anyway.

    It runs after an emitting request's commit, before its response. kombu takes
    about 6 s to give up on a broker that refuses (`broker_connection_timeout`
    with retries, even with `retry=False`), so after a failure this process
    stops trying for TRIGGER_BACKOFF_SECONDS: one request in that time waits,
    not every one. Nothing is lost meanwhile, only later: the sweep runs them."""
    from realtime.tasks import run_reactions

    global _skip_triggers_until
    if time.monotonic() < _skip_triggers_until:
        metrics.reaction_triggers_lost.inc()
        return
    if not _mark_queued(workspace_id):
        metrics.reaction_triggers_coalesced.inc()
        return
    try:
        run_reactions.apply_async(args=[str(workspace_id)], retry=False)
    except Exception:
        _clear_queued(workspace_id)
        _skip_triggers_until = time.monotonic() + TRIGGER_BACKOFF_SECONDS
        metrics.reaction_triggers_lost.inc()
        logger.warning("could not enqueue the reactions of workspace %s; the sweep will run them, and this "
                       "process skips enqueueing for %.0f s", workspace_id, TRIGGER_BACKOFF_SECONDS,
                       exc_info=True)


def _mark_queued(workspace_id) -> bool:
    """Sets the workspace's "run queued" flag; whether it was not set already (True
    as well when Redis cannot be asked: better a run too many than none)."""
    try:
        return bool(get_redis().set(channels.reactions_queued_key(str(workspace_id)), "1", nx=True,
                                    ex=QUEUED_FLAG_SECONDS))
    except Exception:
        logger.warning("could not read the queued-run flag of workspace %s; enqueueing a run", workspace_id,
                       exc_info=True)
        return True


def _clear_queued(workspace_id) -> None:
    try:
        get_redis().delete(channels.reactions_queued_key(str(workspace_id)))
    except Exception:  # the flag expires on its own; until then the sweep covers
        logger.warning("could not clear the queued-run flag of workspace %s", workspace_id, exc_info=True)


class _AfterCommit:
    """The workspaces one transaction triggers: one task each, once, after its commit."""

    def __init__(self):
        self.workspace_ids: dict[str, None] = {}  # ordered, unique
        self.position = -1  # its index in connection.run_on_commit when registered

    def __call__(self) -> None:
        for workspace_id in self.workspace_ids:
            trigger(workspace_id)


def trigger_after_commit(workspace_id) -> None:
    """Runs the workspace's reactions once the current transaction commits: one task
    per workspace per transaction, however many events it emits."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:  # autocommit: what was emitted has committed
        trigger(workspace_id)
        return
    pending = getattr(connection, "_reactions_after_commit", None)
    if pending is None or not _still_pending(connection, pending):
        pending = _AfterCommit()
        transaction.on_commit(pending, robust=True)
        pending.position = len(connection.run_on_commit) - 1
        connection._reactions_after_commit = pending
    pending.workspace_ids[str(workspace_id)] = None


def _still_pending(connection, pending: _AfterCommit) -> bool:
    """Whether `pending` is still registered in this transaction: after a commit or a
    rollback Django empties the list; a savepoint's rollback drops its entries."""
    callbacks = connection.run_on_commit
    position = pending.position
    if 0 <= position < len(callbacks) and callbacks[position][1] is pending:
        return True
    return any(entry[1] is pending for entry in callbacks)


# --- the sweep ----------------------------------------------------------------------------


def sweep(*, grace_seconds: float, limit: int = SWEEP_LIMIT) -> int:
    """Runs the reactions of workspaces whose trigger seems lost; the number of workspaces run."""
    workspace_ids = due(grace_seconds=grace_seconds, limit=limit)
    for workspace_id in workspace_ids:
        run(workspace_id)
    if workspace_ids:
        logger.info("reaction sweep ran %d workspace(s)", len(workspace_ids))
    return len(workspace_ids)


def due(*, grace_seconds: float, limit: int) -> list:
    """Workspaces where some reaction has no cursor yet although events exist, or
    whose cursor is behind the last event a reaction wanted (`reacted_seq`) and was
    not run for `grace_seconds`: those without a cursor first, then the longest
    since their last run; at most `limit`.

    Cost: one pass over `StreamCounter` (a row per workspace that ever emitted)
    hash-joined with the cursors, whatever the number of due workspaces: 44 ms
    for 10,000 workspaces and 3 reactions on the loaded 2-core machine, linear
    in both (`bench/reaction_sweep.py`)."""
    names = [reaction.name for reaction in registered()]
    if not names:
        return []
    cutoff = connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(seconds=grace_seconds))
    counters, cursors = StreamCounter._meta.db_table, ReactionCursor._meta.db_table
    reacting = " UNION ALL ".join(["SELECT %s AS name"] * len(names))
    # Portable SQL (SQLite in development): a LEFT JOIN with a condition, which the ORM
    # cannot say between two tables that only share a foreign key to the workspace.
    query = f"""
        SELECT counter.workspace_id FROM {counters} counter
        CROSS JOIN ({reacting}) reaction
        LEFT JOIN {cursors} cursor
            ON cursor.workspace_id = counter.workspace_id AND cursor.reaction = reaction.name
        WHERE (cursor.id IS NULL AND counter.last_seq > 0)
           OR (cursor.last_seq < counter.reacted_seq AND cursor.updated_at < %s)
        GROUP BY counter.workspace_id
        ORDER BY MIN(CASE WHEN cursor.id IS NULL THEN 0 ELSE 1 END), MIN(cursor.updated_at),
                 counter.workspace_id
        LIMIT %s"""  # noqa: S608 - table names from the models, values as parameters
    with connection.cursor() as db:
        db.execute(query, [*names, cutoff, limit])
        rows = db.fetchall()
    to_python = Workspace._meta.pk.to_python
    return [to_python(workspace_id) for (workspace_id,) in rows]


# --- what trimming must keep -----------------------------------------------------------------


def _handled_by(reaction: Reaction):
    """For an `Event` queryset: the reaction's cursor in the event's workspace is at or
    past the event."""
    return ReactionCursor.objects.filter(
        workspace_id=OuterRef("workspace_id"), reaction=reaction.name, last_seq__gte=OuterRef("seq")
    )


def unhandled() -> Q | None:
    """Events some registered reaction wants and has not handled yet (None: no
    reaction). For `Event` querysets; `relay.trim_history` keeps these."""
    wanted = None
    for reaction in registered():
        condition = Q(type__in=sorted(reaction.types)) & ~Exists(_handled_by(reaction))
        wanted = condition if wanted is None else wanted | condition
    return wanted


def note_overruns(cutoff) -> int:
    """Logs and counts each reaction that holds events older than `cutoff` (the
    retention) in some workspace: trimming keeps them, so the log grows until the
    handler succeeds. The number of (workspace, reaction) pairs found (at most
    SWEEP_LIMIT per reaction)."""
    found = 0
    for reaction in registered():
        workspace_ids = set(
            Event.objects.filter(created_at__lt=cutoff, type__in=sorted(reaction.types))
            .exclude(Exists(_handled_by(reaction))).values_list("workspace_id", flat=True)[:SWEEP_LIMIT]
        )
        for workspace_id in workspace_ids:
            logger.warning("reaction %s has not handled events of workspace %s older than the retention; "
                           "they are kept until it does", reaction.name, workspace_id)
        metrics.reaction_retention_overruns.labels(reaction.name).inc(len(workspace_ids))
        found += len(workspace_ids)
    return found
