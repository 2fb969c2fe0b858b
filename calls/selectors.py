"""Reads of calls: a workspace's calls filtered as `GET /calls` filters them,
one call, its active calls, and the call object REST returns
(docs/reference/rest.md#calls). Nothing here changes a call.
"""

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from calls.models import ACTIVE_STATUSES, TERMINAL_STATUSES, Call, CallStatus
from project.errors import BadRequest
from project.timestamps import iso_utc
from workspaces.models import Workspace
from workspaces.scoping import get_scoped_or_404, scoped


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
        "created_at": iso_utc(call.created_at),
        "started_at": iso_utc(call.started_at),
        "answered_at": iso_utc(call.answered_at),
        "ended_at": iso_utc(call.ended_at),
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
