"""A call's own event stream (docs/reference/streams.md#endpoints): `GET /api/v1/calls/{id}/stream`.

Built on the realtime machinery: a connection that follows one call gets
every event about it (lifecycle and speech), and `stream-closed` once the call
ends, after which the server closes the stream. With `include_history=true` it
first gets the call's persisted events so far: a client that places a call and
opens its stream at once cannot be sure to connect before `ringing`.
"""

from asgiref.sync import sync_to_async
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from calls import selectors
from calls.models import Call
from project.errors import BadRequest, documented_errors
from project.request_context import bind_workspace
from realtime.connection import StreamFilters
from realtime.streams import Stream, open_stream
from realtime.views import KEY_OR_SESSION, TICKET, redeem_stream_ticket, stream_openapi
from realtime.wire import SSE, control_frame
from workspaces.auth import READ, authenticate, require

router = Router(tags=["calls"])


class CallStreamParams(Schema):
    ticket: str | None = Field(
        None, description="A ticket from POST /api/v1/auth/sse-ticket, for EventSource."
    )
    last_event_id: str | None = Field(None, description="Resume after this cursor.")
    include_history: bool = Field(
        False,
        description="Without a cursor: first the call's persisted events so far (its creation, "
        "statuses, transcripts, ...), then live ones; none twice at the seam.",
    )


def _principal(request: HttpRequest, ticket: str | None):
    """A ticket if one is given, else the API's usual auth (bearer key, then session)."""
    if ticket:
        return redeem_stream_ticket(ticket)
    principal = authenticate(request)
    require(principal, READ)
    return principal


def _active_call(workspace, call_id: str) -> Call:
    call = selectors.call_get(workspace, call_id)
    if not call.is_active:
        raise BadRequest(
            f"The call has ended ({call.status}); its events are at /calls/{call.pk}/events.",
            code="call_not_active",
            details={"status": call.status},
        )
    return call


def _has_ended(workspace, call_id) -> bool:
    return not selectors.call_get(workspace, call_id).is_active


def include_history_in(query: dict[str, str]) -> bool:
    """`include_history` of a query as the view parses it (a validation error, 400,
    when it is not a boolean), for the doors that do not go through the view."""
    if "include_history" not in query:
        return False
    return CallStreamParams.model_validate({"include_history": query["include_history"]}).include_history


async def open_call_stream(principal, call_id: str, *, last_event_id: str | None, wire: str = SSE,
                           include_history: bool = False) -> Stream:
    """Admits a stream of one active call of the principal's workspace, on either
    wire; raises the API error to answer instead (404, 400 call_not_active, 429...)."""
    bind_workspace(principal.workspace.pk)
    call = await sync_to_async(_active_call)(principal.workspace, call_id)
    stream = await open_stream(
        principal=principal,
        filters=StreamFilters(),
        stream="call",
        follow_call_id=str(call.pk),
        last_event_id=last_event_id,
        wire=wire,
        include_history=include_history,
    )
    return Stream(
        connection=stream.connection, frames=_closed_if_ended_meanwhile(stream, principal.workspace, call.pk)
    )


async def open_call_stream_for_request(principal, query: dict, headers: dict, *, call_id: str) -> Stream:
    """The same stream on the fast path (realtime.asgi.serve_app_stream), which
    serves it in production; the view below documents it and serves it where
    the fast path is not in front (Django's test client)."""
    last_event_id = headers.get("last-event-id") or query.get("last_event_id")
    return await open_call_stream(principal, call_id, last_event_id=last_event_id,
                                  include_history=include_history_in(query))


@router.get(
    "/calls/{call_id}/stream",
    auth=None,
    response=documented_errors(400, 401, 403, 404, 429, 503),
    description="Server-Sent Events of one call: `connected`, then every event about the call, "
    "then `stream-closed` when it ends. Session, bearer key or `?ticket=`. `include_history=true` "
    "sends the call's persisted events so far first.",
    openapi_extra=stream_openapi(KEY_OR_SESSION, TICKET),
)
async def call_stream(request: HttpRequest, call_id: str, params: Query[CallStreamParams]):
    principal = await sync_to_async(_principal)(request, params.ticket)
    stream = await open_call_stream(
        principal, call_id, last_event_id=request.headers.get("Last-Event-ID") or params.last_event_id,
        include_history=params.include_history,
    )
    return stream.as_response()


async def _closed_if_ended_meanwhile(stream: Stream, workspace, call_pk):
    """The stream's frames. A call that ended between the check above and the
    moment the connection started receiving (after `connected`, and the history
    if any) would never send it `call-ended`: looked up once more, it gets
    `stream-closed` now."""
    try:
        opened = False
        async for chunk in stream.frames:
            yield chunk
            if not opened and not stream.connection.holding:
                opened = True
                if await sync_to_async(_has_ended)(workspace, call_pk):
                    closed = control_frame(
                        "stream-closed",
                        {"reason": "call-ended"},
                        workspace_id=str(workspace.pk),
                        call_id=str(call_pk),
                        wire=stream.connection.wire,
                    )
                    yield stream.pack([closed])
                    return
    finally:
        await stream.frames.aclose()
