"""Every change to agents and calls (docs/reference/rest.md#calls,
docs/reference/domain.md#call-lifecycle), each with its events.

A call changes status only through `call_transition`, which locks the call,
refuses an illegal move with 409 `illegal_transition`, and emits `call-status`
(and `call-ended` for a terminal status) in the same transaction. What a
runtime reports about a call (speech, TTS, tools, ...) goes through
`call_record_event`. The views, the ingest API and the simulated runtime all
come here: there is one path for a call's changes.
"""

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from pydantic import ValidationError as PydanticValidationError

from calls import pricing
from calls.events import CALL_STREAM_EVENTS, EPHEMERAL_CALL_STREAM_EVENTS
from calls.models import (
    ACTIVE_STATUSES,
    DEFAULT_AGENT_NAME,
    RUNTIME_NAMES,
    TERMINAL_STATUSES,
    Agent,
    Call,
    CallEvent,
    CallStatus,
)
from calls.runtime import get_runtime
from calls.signals import call_admission, calls_ended
from project.bulk import insert_rows
from project.errors import BadRequest, Conflict, NotFound, TooManyRequests
from realtime import catalogue
from realtime.emit import Emission, prepare, record
from workspaces.models import Workspace
from workspaces.scoping import get_scoped_or_404, scoped

logger = logging.getLogger(__name__)

# Status -> the statuses a call may move to from it (docs/reference/domain.md#call-lifecycle).
TRANSITIONS: dict[str, frozenset[str]] = {
    CallStatus.QUEUED: frozenset({CallStatus.RINGING, CallStatus.FAILED, CallStatus.CANCELED}),
    CallStatus.RINGING: frozenset(
        {
            CallStatus.IN_PROGRESS,
            CallStatus.BUSY,
            CallStatus.NO_ANSWER,
            CallStatus.FAILED,
            CallStatus.CANCELED,
        }
    ),
    CallStatus.IN_PROGRESS: frozenset({CallStatus.COMPLETED, CallStatus.FAILED}),
}
# The end reason of a terminal status when nobody gave one.
DEFAULT_END_REASONS = {
    CallStatus.COMPLETED: "customer-hangup",
    CallStatus.FAILED: "error",
    CallStatus.BUSY: "busy",
    CallStatus.NO_ANSWER: "no-answer",
    CallStatus.CANCELED: "canceled",
}
END_REASONS = frozenset(
    {
        "customer-hangup",
        "agent-hangup",
        "transfer",
        "no-answer",
        "busy",
        "voicemail",
        "max-duration",
        "silence-timeout",
        "insufficient-balance",
        "canceled",
        "error",
    }
)
AGENT_FIELDS = ("name", "language", "voice", "max_duration_seconds", "greeting", "nodes", "tools")
DEFAULT_AGENT = {
    "language": "en-US",
    "voice": "aria",
    "max_duration_seconds": 600,
    "greeting": "Hi, you've reached the help desk. How can I help you today?",
    "nodes": ["greeting", "identify", "resolve", "wrap-up"],
    "tools": ["lookup_account", "create_ticket"],
}


def first_problem(error: PydanticValidationError) -> str:
    """The first thing wrong with a payload, as `where: what` for an error message."""
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem.get("loc", ())) or "data"
    return f"{where}: {problem.get('msg', 'is not valid')}"


# --- agents ----------------------------------------------------------------------------


def _validated_agent_fields(fields: dict[str, Any]) -> dict[str, Any]:
    name = fields.get("name")
    if name is not None:
        name = name.strip()
        if not name or len(name) > 64:
            raise BadRequest("An agent needs a name of 1 to 64 characters.", code="invalid_name")
        fields["name"] = name
    for key in ("nodes", "tools"):
        value = fields.get(key)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(item, str) and item for item in value)
        ):
            raise BadRequest(
                f"`{key}` must be a list of names.", code="invalid_agent", details={"field": key}
            )
    return fields


def agent_create(*, workspace: Workspace, name: str, is_default: bool = False, **fields) -> Agent:
    values = _validated_agent_fields({"name": name, **fields})
    try:
        with transaction.atomic():
            return Agent.objects.create(workspace=workspace, is_default=is_default, **values)
    except IntegrityError:
        raise Conflict(f"An agent named {values['name']!r} already exists.", code="agent_exists") from None


def agent_update(*, workspace: Workspace, agent_id, **fields) -> Agent:
    values = _validated_agent_fields({key: value for key, value in fields.items() if value is not None})
    with transaction.atomic():
        agent = get_scoped_or_404(Agent, workspace, pk=agent_id)
        for key, value in values.items():
            setattr(agent, key, value)
        try:
            with transaction.atomic():
                agent.save()
        except IntegrityError:
            raise Conflict(
                f"An agent named {values['name']!r} already exists.", code="agent_exists"
            ) from None
    return agent


def ensure_default_agent(workspace: Workspace) -> Agent:
    """The workspace's default agent; `helpdesk` is created when it has none."""
    agent = scoped(Agent, workspace).filter(is_default=True).first()
    if agent is not None:
        return agent
    try:
        with transaction.atomic():
            return Agent.objects.create(
                workspace=workspace, name=DEFAULT_AGENT_NAME, is_default=True, **DEFAULT_AGENT
            )
    except IntegrityError:  # created meanwhile, or a non-default agent took the name
        agent = scoped(Agent, workspace).filter(is_default=True).first()
        if agent is None:
            agent = scoped(Agent, workspace).get(name=DEFAULT_AGENT_NAME)
            agent.is_default = True
            agent.save(update_fields=["is_default", "updated_at"])
        return agent


def agent_named(workspace: Workspace, name: str | None) -> Agent:
    if not name:
        return ensure_default_agent(workspace)
    agent = scoped(Agent, workspace).filter(name=name).first()
    if agent is None:
        raise BadRequest(
            f"There is no agent named {name!r} in this workspace.",
            code="unknown_agent",
            details={"agent": name},
        )
    return agent


# --- numbers ---------------------------------------------------------------------------


def e164(number: str, *, field: str) -> str:
    """The number in E.164, or a 400 naming the field."""
    text = (number or "").strip()
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not text.startswith("+") or not phonenumbers.is_valid_number(parsed):
        raise BadRequest(
            f"{field} must be a valid phone number in E.164 form, like +14155550123.",
            code="invalid_phone_number",
            details={"field": field, "value": text[:32]},
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# --- the call object and its events ---------------------------------------------------------


def _timestamp(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def call_object(call: Call) -> dict[str, Any]:
    """The call as REST returns it and `call-created` carries it (docs/reference/rest.md#calls)."""
    return {
        "id": str(call.pk),
        "workspace_id": str(call.workspace_id),
        "direction": call.direction,
        "source": call.source,
        "status": call.status,
        "from_number": call.from_number,
        "to_number": call.to_number,
        "agent": call.agent_name,
        "current_node": call.current_node,
        "variables": call.variables,
        "campaign_id": call.campaign_id,
        "schedule_id": call.schedule_id,
        "created_at": _timestamp(call.created_at),
        "started_at": _timestamp(call.started_at),
        "answered_at": _timestamp(call.answered_at),
        "ended_at": _timestamp(call.ended_at),
        "duration": call.duration,
        "cost": str(call.cost) if call.cost is not None else None,
        "end_reason": call.end_reason,
        "failure_code": call.failure_code,
        "failure_reason": call.failure_reason,
        "recording_status": call.recording_status,
        "recording_url": call.recording_url,
    }


def active_calls(workspace: Workspace) -> int:
    return scoped(Call, workspace).filter(status__in=ACTIVE_STATUSES).count()


def active_call_ids(workspace_id: str) -> list[str]:
    """The ids of a workspace's active calls, for a stream's `include_history`
    (realtime asks by the id of an authenticated connection's workspace)."""
    calls = scoped(Call, Workspace(pk=workspace_id)).filter(status__in=ACTIVE_STATUSES)
    return [str(pk) for pk in calls.values_list("pk", flat=True)]


def _record(workspace: Workspace, emissions: list[Emission]) -> list[dict]:
    """Emits events about calls, in order, and adds the persisted ones to their
    calls' timelines, in one transaction; their envelopes."""
    prepared = prepare(workspace, emissions)
    now = datetime.now(UTC)
    timeline = [
        {
            "workspace_id": workspace.pk,
            "call_id": emission.call.pk,
            "event_id": envelope["event_id"],
            "type": envelope["type"],
            "timestamp": datetime.fromisoformat(envelope["timestamp"]),
            "data": envelope["data"],
            "created_at": now,
        }
        for emission, envelope in zip(emissions, prepared.envelopes, strict=True)
        if catalogue.get(envelope["type"]).persisted
    ]
    with transaction.atomic(savepoint=False):
        insert_rows(CallEvent, timeline)  # before `record`: it takes the workspace's cursor lock
        return record(prepared)


def _emit(call: Call, type: str, data: dict, occurred_at: datetime | None = None) -> dict:
    return _record(call.workspace, [Emission(type, data, call, occurred_at)])[0]


def _status_data(call: Call, previous: str | None, active: int) -> dict:
    return {
        "call_id": str(call.pk),
        "status": call.status,
        "previous_status": previous,
        "direction": call.direction,
        "source": call.source,
        "from_number": call.from_number,
        "to_number": call.to_number,
        "active_calls": active,
    }


def _ended_data(call: Call, active: int) -> dict:
    return {
        "call_id": str(call.pk),
        "status": call.status,
        "end_reason": call.end_reason,
        "failure_code": call.failure_code,
        "failure_reason": call.failure_reason,
        "duration": call.duration,
        "cost": str(call.cost) if call.cost is not None else None,
        "recording_url": call.recording_url,
        "active_calls": active,
    }


# --- lifecycle -------------------------------------------------------------------------


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
    _check_variables(variables)
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
        _emit(call, "call-created", call_object(call))
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


def _check_variables(variables: Any) -> None:
    """A call's `variables`: an object of at most CALLS_MAX_VARIABLES_BYTES as compact
    JSON, nested at most CALLS_MAX_VARIABLES_DEPTH deep. Every stream event that
    carries the call carries them, to every connection of the workspace."""
    if variables is None:
        return
    if not isinstance(variables, dict):
        raise BadRequest("`variables` must be an object.", code="invalid_variables")
    limit = settings.CALLS_MAX_VARIABLES_DEPTH
    depth = _nesting(variables, limit)  # first: measuring the size would recurse as deep
    if depth > limit:
        raise BadRequest(
            f"`variables` nest at most {limit} levels deep.",
            code="variables_too_deep",
            details={"max_depth": limit},
        )
    most = settings.CALLS_MAX_VARIABLES_BYTES
    try:
        size = len(json.dumps(variables, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode())
    except ValueError:  # NaN or Infinity: Python's parser takes them, JSON and PostgreSQL do not
        raise BadRequest("`variables` must be JSON: no NaN or Infinity.", code="invalid_variables") from None
    if size > most:
        raise BadRequest(
            f"`variables` take at most {most} bytes of JSON; these take {size}.",
            code="variables_too_large",
            details={"max_bytes": most, "bytes": size},
        )


def _nesting(value: Any, limit: int) -> int:
    """How deeply objects and arrays nest in `value` (an object alone: 1), without
    recursion; it stops counting past `limit`."""
    deepest, pending = 0, [(value, 1)]
    while pending and deepest <= limit:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest


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


@dataclass
class Change:
    """What a change to a locked call comes to: the fields it set on the call (in
    memory) and the events it emits. Planned first, applied after, so a runtime's
    batch can plan every item and then write them all at once (calls/ingest.py)."""

    fields: set[str] = field(default_factory=set)
    emissions: list[Emission] = field(default_factory=list)
    # How the workspace's number of active calls moved (a call that ended: -1).
    active_delta: int = 0
    ended: bool = False


def plan_transition(
    call: Call,
    *,
    status: str,
    end_reason: str | None = None,
    failure_code: str | None = None,
    failure_reason: str | None = None,
    occurred_at: datetime | None = None,
    active_before: int,
) -> Change:
    """Checks the move and makes it on the call object; `active_before` is the
    workspace's active calls before it. Raises before changing anything."""
    if status not in CallStatus.values:
        raise BadRequest(
            f"{status!r} is not a call status.", code="invalid_status", details={"valid": CallStatus.values}
        )
    if end_reason is not None and end_reason not in END_REASONS:
        raise BadRequest(
            f"{end_reason!r} is not an end reason.",
            code="invalid_end_reason",
            details={"valid": sorted(END_REASONS)},
        )
    previous = call.status
    if status not in TRANSITIONS.get(previous, frozenset()):
        raise Conflict(
            f"A {previous} call cannot become {status}.",
            code="illegal_transition",
            details={"from": previous, "to": status, "allowed": sorted(TRANSITIONS.get(previous, ()))},
        )
    moment = _in_order(call, occurred_at or datetime.now(UTC))
    change = Change(fields={"status"})
    call.status = status
    if status == CallStatus.RINGING:
        call.started_at = call.started_at or moment
        change.fields.add("started_at")
    elif status == CallStatus.IN_PROGRESS:
        call.answered_at = moment
        change.fields.add("answered_at")
    if status in TERMINAL_STATUSES:
        call.ended_at = moment
        call.end_reason = end_reason or DEFAULT_END_REASONS[status]
        call.failure_code = failure_code
        call.failure_reason = failure_reason
        change.fields |= {"ended_at", "end_reason", "failure_code", "failure_reason"}
        if call.answered_at is not None:
            call.duration = round(max(0.0, (moment - call.answered_at).total_seconds()), 3)
            change.fields.add("duration")
        call.cost = pricing.cost_of(call)
        change.fields.add("cost")
        change.active_delta = -1
        change.ended = True
    active = active_before + change.active_delta
    change.emissions.append(Emission("call-status", _status_data(call, previous, active), call, moment))
    if status in TERMINAL_STATUSES:
        change.emissions.append(Emission("call-ended", _ended_data(call, active), call, moment))
    return change


def _in_order(call: Call, moment: datetime) -> datetime:
    """The moment, or the call's latest recorded time when it is earlier: a call's
    times stay in order (created <= started <= answered <= ended), so a duration
    is never negative and a late report cannot move an answer before the ring."""
    recorded = [time for time in (call.created_at, call.started_at, call.answered_at) if time is not None]
    return max([moment, *recorded])


def apply_change(call: Call, change: Change) -> list[dict]:
    """Writes a planned change of a locked call; the envelopes of its events."""
    return apply_changes(call.workspace, [(call, change)])


def apply_changes(workspace: Workspace, changes: list[tuple[Call, Change]]) -> list[dict]:
    """Writes planned changes of locked calls: each call saved once, every event
    emitted in the order planned, in one go; the envelopes."""
    fields: dict[Any, tuple[Call, set[str]]] = {}
    for call, change in changes:
        if change.fields:
            fields.setdefault(call.pk, (call, set()))[1].update(change.fields)
    for call, names in fields.values():
        call.save(update_fields=sorted(names))
    envelopes = _record(workspace, [emission for _, change in changes for emission in change.emissions])
    ended = [call for call, change in changes if change.ended]
    if ended:
        calls_ended.send(sender=Call, workspace=workspace, calls=ended)
    return envelopes


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
        envelope = _emit(
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


def validated_report(type: str, data: dict) -> dict:
    """A report's payload, checked against the catalogue (no call needed)."""
    if type not in CALL_REPORT_TYPES:
        raise BadRequest(
            f"{type!r} is not a call event a runtime reports.",
            code="unknown_event_type",
            details={"valid": sorted(CALL_REPORT_TYPES)},
        )
    try:
        return catalogue.validate_data(type, data)
    except PydanticValidationError as error:
        raise BadRequest(first_problem(error), code="invalid_data") from None


def plan_report(call: Call, *, type: str, payload: dict, occurred_at: datetime | None = None) -> Change:
    """A validated report about the locked call, planned (see `Change`)."""
    recording = type == "call-recording"
    # A recording is ready after the call ends; everything else needs a live call.
    if not call.is_active and not recording:
        raise Conflict(
            f"The call has ended ({call.status}); it takes no more {type} events.",
            code="call_not_active",
            details={"status": call.status},
        )
    change = Change(emissions=[Emission(type, payload, call, occurred_at)])
    if type == "call-node-transition":
        call.current_node = payload["to_node"]
        change.fields.add("current_node")
    if recording:
        call.recording_status = payload["recording_status"]
        call.recording_url = payload["recording_url"]
        change.fields |= {"recording_status", "recording_url"}
        change.emissions.append(
            Emission("call-recording-status", {"call_id": str(call.pk), **payload}, call, occurred_at)
        )
    return change


# What a runtime may report about a call besides its status (docs/reference/events.md#call-events).
CALL_REPORT_TYPES = frozenset({*CALL_STREAM_EVENTS, *EPHEMERAL_CALL_STREAM_EVENTS})


# --- reading -----------------------------------------------------------------------------


def call_list(
    workspace: Workspace,
    *,
    status: str | None = None,
    active: bool | None = None,
    agent: str | None = None,
    direction: str | None = None,
    campaign_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet:
    calls = scoped(Call, workspace)
    if status:
        wanted = [item.strip() for item in status.split(",") if item.strip()]
        unknown = sorted(set(wanted) - set(CallStatus.values))
        if unknown:
            raise BadRequest(
                f"Unknown status(es): {', '.join(unknown)}.",
                code="invalid_status",
                details={"unknown": unknown, "valid": CallStatus.values},
            )
        calls = calls.filter(status__in=wanted)
    if active is not None:
        calls = (
            calls.filter(status__in=ACTIVE_STATUSES) if active else calls.filter(status__in=TERMINAL_STATUSES)
        )
    if agent:
        calls = calls.filter(agent_name=agent)
    if direction:
        if direction not in ("inbound", "outbound"):
            raise BadRequest("`direction` must be inbound or outbound.", code="invalid_direction")
        calls = calls.filter(direction=direction)
    if campaign_id:
        calls = calls.filter(campaign_id=campaign_id)
    if created_after:
        calls = calls.filter(created_at__gte=created_after)
    if created_before:
        calls = calls.filter(created_at__lt=created_before)
    return calls


def call_get(workspace: Workspace, call_id) -> Call:
    return get_scoped_or_404(Call, workspace, pk=call_id)
