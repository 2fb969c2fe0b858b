"""HTTP surface of the realtime engine: the workspace streams and the AsyncAPI document."""

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse
from ninja import Field, Query, Router, Schema

from project.errors import documented_errors
from project.request_context import bind_workspace
from realtime.connection import StreamFilters
from realtime.docs import asyncapi_document
from realtime.streams import Stream, open_stream, parse_event_types
from workspaces.auth import READ, WorkspaceAuth, require
from workspaces.tickets import ticket_redeem

router = Router(tags=["events"])

STREAM_ERRORS = documented_errors(400, 401, 403, 429, 503)
STREAM_DESCRIPTION = (
    "Server-Sent Events of the workspace (`text/event-stream`). The first event is `connected` "
    "(with `client_id`); persisted events carry `id:` cursors; resume with the `Last-Event-ID` "
    "header or `last_event_id`. Event payloads: the `Event` and `ControlEvent` schemas, and "
    "/api/v1/asyncapi.json."
)


# The 2xx of a stream (what ninja cannot infer from a view that returns a
# StreamingHttpResponse): an event stream whose `data:` lines are the envelopes.
STREAM_OK = {
    "description": "The stream: `retry:`, then SSE frames (`id:` for persisted events, `event: <type>`, "
    "`data: <envelope JSON>`) until the server ends it. Envelopes: the `Event` and `ControlEvent` "
    "schemas; the frame format and which stream carries what: /api/v1/asyncapi.json.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}
# Security requirements as OpenAPI lists them: any one of them admits the request.
# `SseTicket` is the single-use `?ticket=` (project/api.py declares the scheme).
KEY_OR_SESSION = {"WorkspaceAuth": []}
TICKET = {"SseTicket": []}


def stream_openapi(*security: dict) -> dict:
    """The `openapi_extra` of a stream operation: its 200 and, for one that
    authenticates outside ninja (auth=None), the credentials it takes."""
    extra: dict = {"responses": {200: STREAM_OK}}
    if security:
        extra["security"] = list(security)
    return extra


class StreamParams(Schema):
    event_types: str | None = Field(None, description="Comma list of event types to receive.")
    call_id: str | None = Field(None, description="Only events about this call.")
    agent: str | None = Field(None, description="Only events about calls of this agent.")
    include_history: bool = Field(
        False,
        description="Without a cursor: first the persisted events of the workspace's active calls "
        "(every audience, these filters applied), then live.",
    )
    last_event_id: str | None = Field(
        None, description="Resume after this cursor (for clients that cannot set Last-Event-ID)."
    )


class TicketStreamParams(StreamParams):
    ticket: str = Field(description="A ticket from POST /api/v1/auth/sse-ticket (single use).")


async def workspace_stream_for(principal, params: StreamParams, *,
                               last_event_id_header: str | None) -> Stream:
    """Admits the workspace stream the parameters describe (both front doors use it)."""
    filters = StreamFilters(event_types=parse_event_types(params.event_types),
                            call_id=params.call_id, agent=params.agent)
    last_event_id = last_event_id_header or params.last_event_id
    return await open_stream(principal=principal, filters=filters, last_event_id=last_event_id,
                             include_history=params.include_history)


def redeem_stream_ticket(ticket: str):
    """The principal a stream ticket stands for, allowed to read."""
    principal = ticket_redeem(ticket)
    require(principal, READ)
    return principal


@router.get("/events/stream", auth=WorkspaceAuth(READ), response=STREAM_ERRORS,
            description=STREAM_DESCRIPTION, openapi_extra=stream_openapi())
async def workspace_stream(request: HttpRequest, params: Query[StreamParams]):
    stream = await workspace_stream_for(request.auth, params,
                                        last_event_id_header=request.headers.get("Last-Event-ID"))
    return stream.as_response()


@router.get("/sse/connect", auth=None, response=STREAM_ERRORS, description=STREAM_DESCRIPTION,
            openapi_extra=stream_openapi(TICKET))
async def ticket_stream(request: HttpRequest, params: Query[TicketStreamParams]):
    principal = await sync_to_async(redeem_stream_ticket)(params.ticket)
    bind_workspace(principal.workspace.pk)
    stream = await workspace_stream_for(principal, params,
                                        last_event_id_header=request.headers.get("Last-Event-ID"))
    return stream.as_response()


@router.get("/asyncapi.json", auth=None, include_in_schema=False)
def asyncapi(request: HttpRequest):
    """The AsyncAPI 3 document of the event streams."""
    return JsonResponse(asyncapi_document())
