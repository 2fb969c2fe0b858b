"""Agents, calls and the persisted timeline of each call (docs/reference/rest.md#calls,
docs/reference/domain.md#call-lifecycle)."""

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from workspaces.models import TenantModel, Workspace

DEFAULT_AGENT_NAME = "helpdesk"


class Agent(TenantModel):
    """A voice agent: what a call talks to, and what the simulated runtime plays."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=64)
    language = models.CharField(max_length=16, default="en-US")
    voice = models.CharField(max_length=64, default="aria")
    max_duration_seconds = models.PositiveIntegerField(
        default=600, validators=[MinValueValidator(10), MaxValueValidator(4 * 3600)]
    )
    # What the simulated runtime needs to play a believable conversation.
    greeting = models.TextField(default="Hello, thanks for calling. How can I help you today?")
    nodes = models.JSONField(default=list, help_text="Names of the flow's nodes, in the usual order.")
    tools = models.JSONField(default=list, help_text="Names of the tools the agent may call.")
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="agent_name_unique_in_workspace"),
            models.UniqueConstraint(
                fields=["workspace"], condition=Q(is_default=True), name="one_default_agent_per_workspace"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CallStatus(models.TextChoices):
    QUEUED = "queued"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    FAILED = "failed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    CANCELED = "canceled"


TERMINAL_STATUSES = frozenset(
    {CallStatus.COMPLETED, CallStatus.FAILED, CallStatus.BUSY, CallStatus.NO_ANSWER, CallStatus.CANCELED}
)
ACTIVE_STATUSES = frozenset(set(CallStatus) - TERMINAL_STATUSES)
RUNTIME_NAMES = ("simulated", "ingest")


class Call(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    direction = models.CharField(max_length=16, default="outbound")
    source = models.CharField(max_length=16, default="api")
    # The voice runtime asked to play the call (VOICE_RUNTIME when it was placed);
    # only that runtime reports on it. Empty: none was asked (a call recorded
    # before this was kept, or one a caller drives itself) and any runtime may.
    runtime = models.CharField(max_length=16, blank=True, default="")
    status = models.CharField(max_length=16, choices=CallStatus.choices, default=CallStatus.QUEUED)
    from_number = models.CharField(max_length=20)
    to_number = models.CharField(max_length=20)
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="calls")
    # The agent's name when the call was placed: the stream's `agent` filter and the
    # call object use it, and a renamed agent does not rewrite history.
    agent_name = models.CharField(max_length=64)
    current_node = models.CharField(max_length=64, null=True, blank=True)
    variables = models.JSONField(default=dict, blank=True)
    campaign_id = models.CharField(max_length=64, null=True, blank=True)
    schedule_id = models.CharField(max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds from answer to end.")
    cost = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    end_reason = models.CharField(max_length=32, null=True, blank=True)
    failure_code = models.CharField(max_length=64, null=True, blank=True)
    failure_reason = models.CharField(max_length=500, null=True, blank=True)
    recording_status = models.CharField(max_length=16, default="none")
    recording_url = models.URLField(max_length=500, null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "-created_at", "-id"], name="call_list"),
            # The list's filters, in its order: a page of a rare status or agent, and
            # total_count, read from the index (bench/run.py --scenarios rest prints the plans).
            models.Index(fields=["workspace", "status", "-created_at", "-id"], name="call_status"),
            models.Index(fields=["workspace", "agent_name", "-created_at", "-id"], name="call_agent"),
            # The active calls of every workspace, newest first: what the sweepers end and
            # what staff look for to hang up (calls/admin.py). A few rows; a call leaves it
            # when it ends, so only an active call's writes touch it.
            models.Index(fields=["status", "-created_at"], name="call_active",
                         condition=Q(status__in=["queued", "ringing", "in-progress"])),
            # A campaign's calls, newest first (the admin's and the list's campaign filter);
            # a call placed by no campaign is not in it.
            models.Index(fields=["campaign_id", "-created_at", "-id"], name="call_campaign",
                         condition=Q(campaign_id__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.to_number} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class CallEvent(TenantModel):
    """One persisted event of a call's timeline, as its envelope (docs/reference/events.md#envelope):
    lifecycle, final speech, TTS, turns, nodes, tools, DTMF, recording, metrics,
    errors. Interim transcripts and word timings are never stored."""

    id = models.BigAutoField(primary_key=True)
    # Indexed by call_event_timeline, which leads with it: every index is a write per
    # event on the ingest path.
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events", db_index=False)
    event_id = models.CharField(max_length=64)
    type = models.CharField(max_length=40)
    timestamp = models.DateTimeField()
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["call", "-created_at", "-id"], name="call_event_timeline")]
        # A constraint, not unique=True: that would add a second (LIKE) index on PostgreSQL.
        constraints = [models.UniqueConstraint(fields=["event_id"], name="call_event_once")]


class RuntimeReceipt(TenantModel):
    """A runtime's event id, taken once: the unique constraint makes ingest
    idempotent even when two identical batches race."""

    id = models.BigAutoField(primary_key=True)
    # Indexed by runtime_event_once_per_workspace, which leads with it.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    runtime_event_id = models.CharField(max_length=128)
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "runtime_event_id"], name="runtime_event_once_per_workspace"
            )
        ]
