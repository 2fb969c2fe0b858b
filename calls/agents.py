"""Agents: the voice, language, greeting and flow a call is played with
(docs/reference/rest.md#agents). Every workspace has a default agent, created
with it (`helpdesk`); a call that names no agent gets that one.
"""

from typing import Any

from django.db import IntegrityError, transaction

from calls.models import DEFAULT_AGENT_NAME, Agent
from project.errors import BadRequest, Conflict
from workspaces.models import Workspace
from workspaces.scoping import get_scoped_or_404, scoped

# The default agent's settings, besides its name.
DEFAULT_AGENT = {
    "language": "en-US",
    "voice": "aria",
    "max_duration_seconds": 600,
    "greeting": "Hi, you've reached the help desk. How can I help you today?",
    "nodes": ["greeting", "identify", "resolve", "wrap-up"],
    "tools": ["lookup_account", "create_ticket"],
}


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
