"""Every change to a call (docs/reference/rest.md#calls,
docs/reference/domain.md#call-lifecycle), each with its events.

A call changes status only through `call_transition`, which locks the call,
refuses an illegal move with 409 `illegal_transition`, and emits `call-status`
(and `call-ended` for a terminal status) in the same transaction. What a
runtime reports about a call (speech, TTS, tools, ...) goes through
`call_record_event`. The views, the ingest API and the simulated runtime all
come here or to the engine beneath (calls/changes.py): there is one path for a
call's changes. Reads are in calls/selectors.py, agents in calls/agents.py,
the checks of a client's input in calls/inputs.py.
"""

import logging
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from calls.agents import agent_named
from calls.changes import apply_change, emit_event, plan_report, plan_transition, validated_report
from calls.inputs import check_variables, e164
from calls.models import RUNTIME_NAMES, Call, CallStatus
from calls.runtime import get_runtime
from calls.selectors import active_calls, call_object
from calls.signals import call_admission
from project.errors import BadRequest, Conflict, NotFound, TooManyRequests
from workspaces.models import Workspace
from workspaces.scoping import scoped

logger = logging.getLogger(__name__)


def call_create(
    *,
    workspace: Workspace,
    to_number: str,
    from_number: str | None = None,
    agent: str | None = None,
    variables: dict | None = None,
    direction: str = "outbound",
    source: str = "api",
    campaign_id: str | None = None,
    schedule_id: str | None = None,
    place: bool = True,
    runtime: str | None = None,
) -> Call:
    """Records a new call (queued, or ringing when inbound) and, after commit, asks
    the voice runtime to place it. `runtime` names the runtime that will play it
    (VOICE_RUNTIME when placed here; none when a caller drives the call itself):
    only that runtime may report on the call (calls/ingest.py)."""
    to_number = e164(to_number, field="to_number")
    from_number = e164(from_number or settings.CALLS_DEFAULT_FROM_NUMBER, field="from_number")
    check_variables(variables)
    if direction not in ("inbound", "outbound"):
        raise BadRequest("`direction` must be inbound or outbound.", code="invalid_direction")
    played_by = runtime if runtime is not None else (settings.VOICE_RUNTIME if place else "")
    if played_by not in ("", *RUNTIME_NAMES):
        raise ValueError(f"unknown voice runtime {played_by!r}")
    with transaction.atomic():
        chosen = agent_named(workspace, agent)
        call_admission.send(sender=Call, workspace=workspace, direction=direction)
        now = datetime.now(UTC)
        inbound = direction == "inbound"
        call = Call.objects.create(
            workspace=workspace,
            direction=direction,
            source=source,
            runtime=played_by,
            to_number=to_number,
            from_number=from_number,
            agent=chosen,
            agent_name=chosen.name,
            variables=variables or {},
            campaign_id=campaign_id,
            schedule_id=schedule_id,
            status=CallStatus.RINGING if inbound else CallStatus.QUEUED,
            started_at=now if inbound else None,
        )
        emit_event(call, "call-created", call_object(call))
        _check_active_cap(workspace)  # after the emit: under the cursor lock
        if place:
            transaction.on_commit(lambda: _place(call))
    return call


def _place(call: Call) -> None:
    """Hands a committed call to the voice runtime. A runtime that cannot take it
    now (the Celery broker down) must not turn the call the client was given
    into an error it would retry, placing a second one: the call stays queued
    and the call sweeper fails it (`not-placed`) after CALLS_STUCK_SECONDS."""
    try:
        get_runtime(call.runtime).place(call)
    except Exception:
        logger.exception("the runtime could not take call %s; it stays queued until the call sweeper ends it",
                         call.pk)


# What a client refused for too many active calls is told to wait: calls end in
# seconds to minutes, and a poll every few seconds costs one count.
ACTIVE_CAP_RETRY_AFTER_SECONDS = 5


def _check_active_cap(workspace: Workspace) -> None:
    """429 `too_many_active_calls` when the call just created is one more than
    CALLS_MAX_ACTIVE_PER_WORKSPACE (the transaction rolls it back). Counted after
    its `call-created`, whose emit holds the workspace's cursor lock until the
    commit: two creates at once cannot both take the last slot. Taking the lock
    earlier to count first held it longer and cost a quarter of call_create's
    throughput from four threads (docs/architecture.md)."""
    cap = settings.CALLS_MAX_ACTIVE_PER_WORKSPACE
    active = active_calls(workspace) - 1  # those before this one
    if active >= cap:
        raise TooManyRequests(
            f"The workspace has {active} active calls, its most; place more as calls end.",
            code="too_many_active_calls",
            details={"active_calls": active, "max_active_calls": cap},
            headers={"Retry-After": str(ACTIVE_CAP_RETRY_AFTER_SECONDS)},
        )


def locked_calls(workspace: Workspace, call_ids) -> dict:
    """Several calls, locked until the caller's transaction ends, by id. Locked in
    id order, so two batches that share calls cannot deadlock on them."""
    calls = scoped(Call, workspace).select_for_update().filter(pk__in=call_ids).order_by("pk")
    found = {}
    for call in calls:
        call.workspace = workspace
        found[call.pk] = call
    return found


def locked_call(workspace: Workspace, call_id) -> Call:
    """The call, locked until the caller's transaction ends (its changes are serial)."""
    try:
        return scoped(Call, workspace).select_for_update().select_related("workspace").get(pk=call_id)
    except (Call.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("Call not found.", code="not_found") from None


def call_transition(
    *,
    workspace: Workspace,
    call_id,
    status: str,
    end_reason: str | None = None,
    failure_code: str | None = None,
    failure_reason: str | None = None,
    occurred_at: datetime | None = None,
) -> Call:
    """Moves the call to `status` (docs/reference/domain.md#call-lifecycle) and emits what that means."""
    with transaction.atomic():
        call = locked_call(workspace, call_id)
        change = plan_transition(
            call,
            status=status,
            end_reason=end_reason,
            failure_code=failure_code,
            failure_reason=failure_reason,
            occurred_at=occurred_at,
            active_before=active_calls(workspace),
        )
        apply_change(call, change)
    return call


def call_hangup(*, workspace: Workspace, call_id, end_reason: str | None = None) -> Call:
    """Ends an active call from our side: canceled before it is answered, ended by
    the agent's side after (`end_reason` says why when it is not a plain hangup,
    e.g. `insufficient-balance`). The runtime is told after commit."""
    with transaction.atomic():
        call = locked_call(workspace, call_id)
        if call.status == CallStatus.IN_PROGRESS:
            call = call_transition(
                workspace=workspace, call_id=call.pk, status=CallStatus.COMPLETED,
                end_reason=end_reason or "agent-hangup",
            )
        else:
            call = call_transition(
                workspace=workspace, call_id=call.pk, status=CallStatus.CANCELED,
                end_reason=end_reason or "canceled",
            )
        ended = call
        transaction.on_commit(lambda: get_runtime().hangup(ended))
    return call


def call_escalate(
    *, workspace: Workspace, call_id, reason: str | None = None, trigger: str = "api"
) -> tuple[Call, dict]:
    """Hands an answered call to a human: `call-escalated`; the runtime transfers it."""
    with transaction.atomic():
        call = locked_call(workspace, call_id)
        if call.status != CallStatus.IN_PROGRESS:
            raise Conflict(
                f"Only a call in progress can be escalated; this one is {call.status}.",
                code="illegal_transition",
                details={"from": call.status, "to": "escalated"},
            )
        if call.escalated_at is not None:
            raise Conflict("This call has already been escalated.", code="already_escalated")
        call.escalated_at = datetime.now(UTC)
        call.save(update_fields=["escalated_at"])
        envelope = emit_event(
            call,
            "call-escalated",
            {
                "call_id": str(call.pk),
                "escalation_id": f"esc_{uuid.uuid4().hex[:16]}",
                "trigger": trigger,
                "reason": reason,
            },
        )
    return call, envelope


def call_record_event(
    *, workspace: Workspace, call_id, type: str, data: dict, occurred_at: datetime | None = None
) -> dict:
    """A runtime's report about an active call (docs/reference/events.md#call-events): validated, emitted and,
    unless ephemeral, added to the timeline. Node transitions and recordings also
    update the call."""
    payload = validated_report(type, data)
    with transaction.atomic():
        call = locked_call(workspace, call_id)
        change = plan_report(call, type=type, payload=payload, occurred_at=occurred_at)
        return apply_change(call, change)[0]
