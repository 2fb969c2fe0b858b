"""What a schedule does when it runs (docs/schedules.md "Actions").

`{"type": "call", "to_number", "agent", "variables", "from_number"}` places a call
through `calls.services.call_create`, the path of `POST /calls` (with the
schedule's id on the call); `{"type": "campaign", "campaign_id"}` starts a draft
campaign through `campaigns.services.campaign_start`. An action is checked when
it is saved (a 400 naming `action.<key>`) and again by those services when it
runs, since an agent, a campaign or the credit may be gone by then."""

from dataclasses import dataclass
from typing import Any

from calls.agents import agent_named
from calls.inputs import check_variables, e164
from calls.services import call_create
from campaigns.selectors import campaign_get
from campaigns.services import campaign_start
from project.errors import ApiError, BadRequest
from workspaces.models import Workspace

ACTION_KEYS = {
    "call": {"type", "to_number", "agent", "variables", "from_number"},
    "campaign": {"type", "campaign_id"},
}


def _invalid(message: str, field: str) -> BadRequest:
    return BadRequest(message, code="invalid_action", details={"field": field})


def _field(error: ApiError, field: str) -> ApiError:
    """The same error, naming the key of `action` it is about."""
    error.details = {**(error.details or {}), "field": field}
    return error


def action_spec(workspace: Workspace, value: Any) -> dict:
    """The action as stored: checked, normalised, with the keys its type takes."""
    if not isinstance(value, dict):
        raise _invalid('`action` must be an object: {"type": "call", …} or {"type": "campaign", …}.',
                       "action")
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in ACTION_KEYS:  # a list or an object cannot be looked up
        raise _invalid("`action.type` must be call or campaign.", "action.type")
    unknown = sorted(set(value) - ACTION_KEYS[kind])
    if unknown:
        raise _invalid(f"A {kind} action has no {unknown[0]!r}.", f"action.{unknown[0]}")
    if kind == "campaign":
        campaign_id = value.get("campaign_id")
        if not isinstance(campaign_id, str) or not campaign_id:
            raise _invalid("`action.campaign_id` must be a campaign's id.", "action.campaign_id")
        try:
            campaign = campaign_get(workspace, campaign_id)
        except ApiError:
            raise BadRequest("The workspace has no campaign with that id.", code="unknown_campaign",
                             details={"field": "action.campaign_id"}) from None
        return {"type": "campaign", "campaign_id": str(campaign.pk)}
    if not isinstance(value.get("to_number"), str):
        raise _invalid("`action.to_number` is required: the number to call, in E.164.", "action.to_number")
    to_number = e164(value["to_number"], field="action.to_number")
    from_number = value.get("from_number")
    if from_number is not None:
        if not isinstance(from_number, str):
            raise _invalid("`action.from_number` must be a phone number in E.164.", "action.from_number")
        from_number = e164(from_number, field="action.from_number")
    agent = value.get("agent")
    if agent is not None and not isinstance(agent, str):
        raise _invalid("`action.agent` must be an agent's name.", "action.agent")
    try:
        agent_named(workspace, agent)
        check_variables(value.get("variables"))
    except ApiError as error:
        raise _field(error, "action.agent" if error.code == "unknown_agent" else "action.variables") from None
    spec = {"type": "call", "to_number": to_number, "agent": agent or None,
            "variables": value.get("variables") or {}}
    if from_number:
        spec["from_number"] = from_number
    return spec


@dataclass(frozen=True)
class Done:
    call_id: str | None = None
    campaign_id: str | None = None


def perform(workspace: Workspace, action: dict, *, schedule_id: str) -> Done:
    """Runs the action inside the caller's transaction; an ApiError says why it
    could not (the caller undoes what it did by a savepoint)."""
    if action["type"] == "campaign":
        campaign = campaign_start(workspace=workspace, campaign_id=action["campaign_id"])
        return Done(campaign_id=str(campaign.pk))
    call = call_create(
        workspace=workspace,
        to_number=action["to_number"],
        from_number=action.get("from_number"),
        agent=action.get("agent"),
        variables=action.get("variables") or {},
        source="schedule",
        schedule_id=schedule_id,
    )
    return Done(call_id=str(call.pk))
