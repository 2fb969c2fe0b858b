"""What a change to a locked call comes to, and writing it: the engine under
calls/services.py and the runtime ingest (calls/ingest.py).

A status move is checked against `TRANSITIONS` (docs/reference/domain.md#call-lifecycle)
and a runtime's report against the event catalogue, then planned as a `Change`
(the fields set on the call in memory, the events it emits) before anything is
written, so a batch can plan every item and write them all at once
(`apply_changes`: each call saved once, the events emitted in order, the
persisted ones added to their calls' timelines, in one transaction). Callers
hold the calls' row locks (calls.services.locked_call, locked_calls).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, get_args

from django.db import transaction
from pydantic import ValidationError as PydanticValidationError

from calls import pricing
from calls.events import CALL_STREAM_EVENTS, EPHEMERAL_CALL_STREAM_EVENTS, EndReason
from calls.inputs import first_problem
from calls.models import TERMINAL_STATUSES, Call, CallEvent, CallStatus
from calls.signals import calls_ended
from project.bulk import insert_rows
from project.errors import BadRequest, Conflict
from realtime import catalogue
from realtime.emit import Emission, prepare, record
from workspaces.models import Workspace

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
END_REASONS = frozenset(get_args(EndReason))
# What a runtime may report about a call besides its status (docs/reference/events.md#call-events).
CALL_REPORT_TYPES = frozenset({*CALL_STREAM_EVENTS, *EPHEMERAL_CALL_STREAM_EVENTS})


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
    envelopes = record_events(workspace, [emission for _, change in changes for emission in change.emissions])
    ended = [call for call, change in changes if change.ended]
    if ended:
        calls_ended.send(sender=Call, workspace=workspace, calls=ended)
    return envelopes


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


def record_events(workspace: Workspace, emissions: list[Emission]) -> list[dict]:
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


def emit_event(call: Call, type: str, data: dict, occurred_at: datetime | None = None) -> dict:
    return record_events(call.workspace, [Emission(type, data, call, occurred_at)])[0]


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
