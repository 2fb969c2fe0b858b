"""REST endpoints of calls, agents and the runtime ingest (docs/reference/rest.md#calls). Thin: the
work and the events are in calls.services, calls.agents and calls.ingest; reads in calls.selectors."""

from django.conf import settings
from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from calls import agents, ingest, selectors, services
from calls.events import CallObject
from calls.models import Agent, Call, CallEvent
from calls.schemas import (
    AgentIn,
    AgentOut,
    AgentPage,
    AgentPatch,
    CallEventPage,
    CallIn,
    CallListParams,
    CallPage,
    EscalatedOut,
    EscalateIn,
    RuntimeBatchIn,
    RuntimeBatchOut,
    SubscriptionIn,
    SubscriptionOut,
)
from project.errors import PayloadTooLarge, documented_errors
from project.pagination import PageParams, paginate, paginated
from realtime import subscriptions
from workspaces.auth import ADMIN, READ, RUNTIME, WRITE, WorkspaceAuth
from workspaces.scoping import get_scoped_or_404, scoped
from workspaces.tallies import tallied_count

router = Router(tags=["calls"])
AUTH_ERRORS = documented_errors(400, 401, 403, 429)  # 429: rate limits (docs/operations.md)
ONE = {**AUTH_ERRORS, **documented_errors(404)}


@router.post(
    "/calls",
    response={201: CallObject, **AUTH_ERRORS, **documented_errors(402)},
    auth=WorkspaceAuth(WRITE),
)
def call_create(request: HttpRequest, payload: CallIn):
    """Places a call. 400 `variables_too_large` / `variables_too_deep` past the
    variables' limits; 429 `too_many_active_calls` (with `Retry-After`) while the
    workspace has CALLS_MAX_ACTIVE_PER_WORKSPACE active calls."""
    call = services.call_create(
        workspace=request.auth.workspace,
        to_number=payload.to_number,
        from_number=payload.from_number,
        agent=payload.agent,
        variables=payload.variables,
        source="api",
    )
    return Status(201, selectors.call_object(call))


@router.get("/calls", response={200: CallPage, **AUTH_ERRORS}, auth=WorkspaceAuth(READ))
def call_list(request: HttpRequest, filters: Query[CallListParams], params: Query[PageParams]):
    calls = selectors.call_list(request.auth.workspace, **filters.dict())
    total = tallied_count(Call, request.auth.workspace, filters=filters)
    return paginated(calls, params, selectors.call_object, total_count=total)


@router.get("/calls/{call_id}", response={200: CallObject, **ONE}, auth=WorkspaceAuth(READ))
def call_detail(request: HttpRequest, call_id: str):
    return selectors.call_object(selectors.call_get(request.auth.workspace, call_id))


@router.post(
    "/calls/{call_id}/hangup",
    response={200: CallObject, **ONE, **documented_errors(409)},
    auth=WorkspaceAuth(WRITE),
)
def call_hangup(request: HttpRequest, call_id: str):
    return selectors.call_object(services.call_hangup(workspace=request.auth.workspace, call_id=call_id))


@router.post(
    "/calls/{call_id}/escalate",
    response={200: EscalatedOut, **ONE, **documented_errors(409)},
    auth=WorkspaceAuth(WRITE),
)
def call_escalate(request: HttpRequest, call_id: str, payload: EscalateIn | None = None):
    call, envelope = services.call_escalate(
        workspace=request.auth.workspace, call_id=call_id, reason=payload.reason if payload else None
    )
    return {"call": selectors.call_object(call), "escalation_id": envelope["data"]["escalation_id"]}


@router.get("/calls/{call_id}/events", response={200: CallEventPage, **ONE}, auth=WorkspaceAuth(READ))
def call_events(request: HttpRequest, call_id: str, params: Query[PageParams]):
    """The call's persisted events, newest first; each an event envelope."""
    call = selectors.call_get(request.auth.workspace, call_id)
    events = scoped(CallEvent, request.auth.workspace).filter(call=call)

    def envelope(event: CallEvent) -> dict:
        return {"event_id": event.event_id, "type": event.type, "workspace_id": str(call.workspace_id),
                "call_id": str(call.pk), "timestamp": event.timestamp, "data": event.data}

    return paginated(events, params, envelope)


def _subscription(request: HttpRequest, call_id: str, client_id: str, subscribe: bool) -> dict:
    call = selectors.call_get(request.auth.workspace, call_id)
    change = subscriptions.subscribe_call if subscribe else subscriptions.unsubscribe_call
    change(
        workspace_id=str(call.workspace_id),
        subject_id=request.auth.subject_id,
        client_id=client_id,
        call_id=str(call.pk),
    )
    return {"call_id": str(call.pk), "client_id": client_id, "subscribed": subscribe}


@router.post("/calls/{call_id}/subscribe", response={200: SubscriptionOut, **ONE}, auth=WorkspaceAuth(READ))
def call_subscribe(request: HttpRequest, call_id: str, payload: SubscriptionIn):
    """Adds the call's stream events (speech, tools, ...) to your open workspace stream
    `client_id`, on whichever server process holds it. 404 `unknown_client` when no
    open stream of yours has that id."""
    return _subscription(request, call_id, payload.client_id, subscribe=True)


@router.post("/calls/{call_id}/unsubscribe", response={200: SubscriptionOut, **ONE}, auth=WorkspaceAuth(READ))
def call_unsubscribe(request: HttpRequest, call_id: str, payload: SubscriptionIn):
    return _subscription(request, call_id, payload.client_id, subscribe=False)


# --- agents ----------------------------------------------------------------------------------


@router.get("/agents", response={200: AgentPage, **AUTH_ERRORS}, auth=WorkspaceAuth(READ), tags=["agents"])
def agent_list(request: HttpRequest, params: Query[PageParams]):
    return paginate(
        scoped(Agent, request.auth.workspace), page_size=params.page_size, page_token=params.page_token
    )


@router.post(
    "/agents",
    response={201: AgentOut, **AUTH_ERRORS, **documented_errors(409)},
    auth=WorkspaceAuth(ADMIN),
    tags=["agents"],
)
def agent_create(request: HttpRequest, payload: AgentIn):
    return Status(201, agents.agent_create(workspace=request.auth.workspace, **payload.dict()))


@router.get("/agents/{agent_id}", response={200: AgentOut, **ONE}, auth=WorkspaceAuth(READ), tags=["agents"])
def agent_detail(request: HttpRequest, agent_id: str):
    return get_scoped_or_404(Agent, request.auth.workspace, pk=agent_id)


@router.patch(
    "/agents/{agent_id}",
    response={200: AgentOut, **ONE, **documented_errors(409)},
    auth=WorkspaceAuth(ADMIN),
    tags=["agents"],
)
def agent_update(request: HttpRequest, agent_id: str, payload: AgentPatch):
    return agents.agent_update(
        workspace=request.auth.workspace, agent_id=agent_id, **payload.dict(exclude_unset=True)
    )


# --- runtime ingest --------------------------------------------------------------------------


@router.post(
    "/runtime/events",
    response={200: RuntimeBatchOut, **AUTH_ERRORS, **documented_errors(413)},
    auth=WorkspaceAuth(RUNTIME),
    tags=["runtime"],
)
def runtime_events(request: HttpRequest, payload: RuntimeBatchIn):
    """A batch of what a voice runtime observed (docs/runtime.md). Each item is applied
    on its own; the answer lists the items that were not, by index."""
    if len(payload.events) > settings.RUNTIME_INGEST_MAX_ITEMS:
        raise PayloadTooLarge(
            f"A batch holds at most {settings.RUNTIME_INGEST_MAX_ITEMS} events.",
            code="batch_too_large",
            details={"max_items": settings.RUNTIME_INGEST_MAX_ITEMS, "items": len(payload.events)},
        )
    return ingest.ingest_batch(request.auth.workspace, payload.events, reporter="ingest").as_dict()
