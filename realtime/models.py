"""The event log: outbox and replayable history in one table."""

import uuid

from django.db import models

from workspaces.models import TenantModel, Workspace


class StreamCounter(TenantModel):
    """The last cursor handed out in a workspace.

    `emit` increments it inside the emitting transaction. The row lock that the
    increment takes is held until commit, so a second transaction of the same
    workspace waits for the first to commit before it draws its cursor: cursors
    follow commit order and have no holes. (An auto-increment id would not: two
    transactions can commit in the opposite order of their ids, and a client
    that has seen the larger id would skip the smaller one when it resumes.)
    """

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, primary_key=True,
                                     related_name="+")
    last_seq = models.BigIntegerField(default=0)
    # The last cursor of a batch holding an event some reaction wanted when it was
    # emitted (`realtime.reactions`): a reaction's cursor behind it has work, and the
    # sweep finds those without reading events. Set by the same UPDATE as last_seq; a
    # database default, so an INSERT of a new counter need not name it.
    reacted_seq = models.BigIntegerField(db_default=0)


class Event(TenantModel):
    """One persisted event: the replayable history, kept REALTIME_HISTORY_HOURS.
    Whether it has reached Redis is `PendingPublish`'s business, not the row's."""

    # Indexed by one_event_per_cursor, which leads with it: every index is a write per event.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    seq = models.BigIntegerField(help_text="The resume cursor, per workspace, in commit order.")
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=64)
    audience = models.CharField(max_length=16)
    # NULL, not "", for "not about a call": the envelope then has no call_id at all.
    call_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    agent = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    data = models.JSONField()
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "seq"], name="one_event_per_cursor"),
        ]
        indexes = [
            models.Index(fields=["workspace", "call_id", "seq"], name="event_call_timeline"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.seq} in {self.workspace_id}"


class PendingPublish(TenantModel):
    """The outbox: a committed run of a workspace's cursors (one `emit_many`) that
    Redis has not been handed yet.

    Written in the emitting transaction and deleted by the relay once Redis took
    the events; the sweeper publishes what stays (a crash between commit and
    publish). One row per batch, where a `published_at` column on every event
    cost a row update per event after commit (docs/PERFORMANCE.md, "Ingest")."""

    id = models.BigAutoField(primary_key=True)
    first_seq = models.BigIntegerField()
    last_seq = models.BigIntegerField()
    created_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"cursors {self.first_seq} to {self.last_seq} in {self.workspace_id}, unpublished"


class ReactionCursor(TenantModel):
    """How far one reaction (`realtime.reactions`) has handled a workspace's events.

    Every cursor at or below `last_seq` has been handed to the reaction's handler
    in a transaction that committed together with this row's update, so the
    handler's own writes and the advance commit once, together. A reaction's run
    locks the row (`SKIP LOCKED`): two workers never handle the same events."""

    id = models.BigAutoField(primary_key=True)
    # Indexed by one_cursor_per_reaction, which leads with it.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    reaction = models.CharField(max_length=64)
    last_seq = models.BigIntegerField(default=0)
    # The last run that advanced it or failed: the sweep leaves alone a cursor run this recently.
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "reaction"], name="one_cursor_per_reaction"),
        ]

    def __str__(self) -> str:
        return f"{self.reaction} at #{self.last_seq} in {self.workspace_id}"
