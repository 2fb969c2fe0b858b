"""The stream endpoints' fast path, in front of Django.

Under ASGI every MiddlewareMixin middleware (sessions, CSRF, auth, messages,
...) runs its hooks through `sync_to_async` on one shared thread: about
fourteen thread hops before a stream's first byte, and a request object graph
kept alive for the stream's whole life. The two workspace stream endpoints
are long-lived and reconnect in storms, so here they get one thread hop (to
authenticate) and nothing else: the same parameters, errors, auth order and
stream machinery as the django-ninja views that document them, without
Django's request pipeline. Every other request goes to Django untouched.
"""

import asyncio
import io
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import import_module
from urllib.parse import parse_qsl

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.core.handlers.asgi import ASGIRequest
from django.http import JsonResponse
from pydantic import ValidationError

from project.errors import (
    ApiError,
    Forbidden,
    ServiceUnavailable,
    api_error_response,
    validation_error_response,
)
from project.middleware import accept_request_id, record_request
from project.request_context import bind_workspace, request_id_var, workspace_id_var
from realtime import grip
from realtime.connection import StreamFilters
from realtime.held import Answer, follow_link, open_held
from realtime.hub import get_hub
from realtime.streams import (
    RETRY_AFTER_SECONDS,
    STREAM_HEADERS,
    Stream,
    parse_event_types,
)
from realtime.views import StreamParams, TicketStreamParams, redeem_stream_ticket, workspace_stream_for
from workspaces.auth import READ, authenticate, recently_verified_principal, require

logger = logging.getLogger(__name__)

WORKSPACE_STREAM = "/api/v1/events/stream"
TICKET_STREAM = "/api/v1/sse/connect"
_ROUTES = {WORKSPACE_STREAM: "api/v1/events/stream", TICKET_STREAM: "api/v1/sse/connect"}
# Pushpin's next-link requests (realtime/grip.py NEXT_PATH, then the link's token).
_GRIP_NEXT = re.compile(re.escape(grip.NEXT_PATH) + rf"[A-Za-z0-9_:.-]{{1,{grip.MAX_TOKEN_LENGTH}}}")
_GRIP_NEXT_ROUTE = "api/v1/grip/next/<token>"
_RESPONSE_HEADERS = [(name.lower().encode(), value.encode()) for name, value in STREAM_HEADERS.items()]


@dataclass(frozen=True)
class AppStream:
    """A stream endpoint of another app, served here too (realtime imports no domain
    app: the app registers it). `opener(principal, query, headers, **path_groups)`
    admits the stream. Its requests authenticate like the workspace stream's, with
    `?ticket=` accepted as well."""

    pattern: re.Pattern
    route: str
    opener: Callable[..., Awaitable[Stream]]


_APP_STREAMS: list[AppStream] = []


def serve_app_stream(pattern: str, route: str, opener: Callable[..., Awaitable[Stream]]) -> None:
    """Serves GET requests whose path matches `pattern` (named groups become the
    opener's keyword arguments) on this fast path. Besides speed, it keeps a
    long-lived stream out of Django's per-request thread, which would hold a
    database connection for the stream's whole life."""
    if not any(stream.route == route for stream in _APP_STREAMS):
        _APP_STREAMS.append(AppStream(re.compile(pattern), route, opener))


def _app_stream_for(path: str) -> tuple[AppStream, dict[str, str]] | None:
    for stream in _APP_STREAMS:
        match = stream.pattern.fullmatch(path)
        if match:
            return stream, match.groupdict()
    return None


def _begin(request: "StreamRequest") -> str:
    """The request's id (the client's, when acceptable), set for the log with no
    workspace yet."""
    request_id = accept_request_id(request.headers.get("x-request-id", ""))
    request_id_var.set(request_id)
    workspace_id_var.set("-")
    return request_id


def _stream_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("Streams are unavailable for a moment; retry shortly.",
                              code="stream_unavailable", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class StreamRouter:
    """Sends GET requests for the workspace streams down the fast path, the rest to Django."""

    def __init__(self, django_app):
        self.django_app = django_app
        self._session_store = import_module(settings.SESSION_ENGINE).SessionStore
        # Authorization header -> done when its first verification has finished.
        self._verifying: dict[str, asyncio.Future] = {}
        self._hub_started = False

    async def __call__(self, scope, receive, send):
        if not self._hub_started:
            # From the first request, not the first stream: the hub hears revocations,
            # and REST requests fill the key cache that they must empty.
            self._hub_started = True
            get_hub()
        if scope["type"] == "http" and scope["method"] == "GET":
            if scope["path"] in _ROUTES:
                await self._serve(scope, receive, send)
                return
            if grip.pushpin_front() and _GRIP_NEXT.fullmatch(scope["path"]):
                await self._serve_next(scope, send)
                return
            app_stream = _app_stream_for(scope["path"])
            if app_stream is not None:
                await self._serve(scope, receive, send, app_stream)
                return
        await self.django_app(scope, receive, send)

    async def _serve(self, scope, receive, send, app_stream=None) -> None:
        started = time.perf_counter()
        request = StreamRequest(scope)
        route = _ROUTES[request.path] if app_stream is None else app_stream[0].route
        request_id = _begin(request)
        # Pushpin will hold the stream: the answer is its opening and GRIP headers.
        # Anyone else (a direct client, a test) gets the in-process stream.
        held = app_stream is None and grip.signed_by_pushpin(request.headers.get("grip-sig"))
        try:
            if held:
                answer = await self._open_held(request)
            elif app_stream is None:
                stream = await self._open(request)
            else:
                stream = await self._open_app_stream(request, *app_stream)
        except ApiError as error:
            status = await self._send_json(send, api_error_response(error), request_id)
        except ValidationError as error:
            response = validation_error_response(error.errors(), default_location="query")
            status = await self._send_json(send, response, request_id)
        except Exception:
            # Redis or the database failing under a storm: a retryable answer in
            # our shape, not a bare 500 from the server.
            logger.exception("could not open a stream")
            status = await self._send_json(send, api_error_response(_stream_unavailable()), request_id)
        else:
            self._log(request.path, route, 200, started)
            if held:
                await self._send_answer(send, answer, request_id)
            else:
                await self._stream(stream, receive, send, request_id)
            return
        self._log(request.path, route, status, started)

    async def _serve_next(self, scope, send) -> None:
        """Pushpin's next-link request for a stream it holds (realtime/held.py);
        nobody else may ask: Pushpin signs its requests."""
        started = time.perf_counter()
        request = StreamRequest(scope)
        request_id = _begin(request)
        if not grip.signed_by_pushpin(request.headers.get("grip-sig")):
            forbidden = Forbidden("Only the GRIP proxy may follow a stream's next link.",
                                  code="grip_signature_required")
            status = await self._send_json(send, api_error_response(forbidden), request_id)
        else:
            try:
                token = request.path.removeprefix(grip.NEXT_PATH)
                answer = await follow_link(token, request.headers.get("grip-last"))
            except Exception:
                # A non-2xx makes Pushpin retry with backoff (1, 2, 4, 8, 16 s), then end the stream.
                logger.exception("could not answer a next link")
                status = await self._send_json(send, api_error_response(_stream_unavailable()), request_id)
            else:
                status = 200
                await self._send_answer(send, answer, request_id)
        # The token stays out of the log: it is long, and it names a principal.
        record_request(method="GET", path=grip.NEXT_PATH, route=_GRIP_NEXT_ROUTE, status=status,
                       seconds=time.perf_counter() - started, streaming=False)

    async def _open_held(self, request: "StreamRequest") -> Answer:
        principal, params = await self._workspace_stream_principal(request)
        filters = StreamFilters(event_types=parse_event_types(params.event_types),
                                call_id=params.call_id, agent=params.agent)
        return await open_held(principal, filters=filters,
                               last_event_id=request.headers.get("last-event-id") or params.last_event_id,
                               include_history=params.include_history)

    async def _send_answer(self, send, answer: Answer, request_id: str) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*answer.response_headers(), (b"x-request-id", request_id.encode())]})
        await send({"type": "http.response.body", "body": answer.body})

    async def _workspace_stream_principal(self, request: "StreamRequest") -> tuple:
        """The workspace stream's parameters and who asks (by ticket on the ticket
        path, else by session or key), its workspace bound to the request's log."""
        ticket_path = request.path == TICKET_STREAM
        params = _stream_params(request.query, ticket_path)
        if ticket_path:
            principal = await sync_to_async(self._authenticate)(request.django_request(), params.ticket)
        else:
            principal = await self._principal(request)
        bind_workspace(principal.workspace.pk)
        return principal, params

    async def _open(self, request: "StreamRequest") -> Stream:
        principal, params = await self._workspace_stream_principal(request)
        return await workspace_stream_for(principal, params,
                                          last_event_id_header=request.headers.get("last-event-id"))

    async def _open_app_stream(self, request: "StreamRequest", app_stream: AppStream,
                               groups: dict[str, str]) -> Stream:
        ticket = request.query.get("ticket")
        if ticket:
            principal = await sync_to_async(self._authenticate)(request.django_request(), ticket)
        else:
            principal = await self._principal(request)
        bind_workspace(principal.workspace.pk)
        return await app_stream.opener(principal, request.query, request.headers, **groups)

    async def _principal(self, request: "StreamRequest"):
        """A bearer key verified moments ago needs no database. After a deploy every
        client of an integration presents the same unseen key at once: the first
        verifies it and the rest wait for that answer instead of each reading the
        key (4 % of a storm's CPU, and a queue on the one database thread)."""
        authorization = request.headers.get("authorization")
        selector = request.headers.get("x-workspace")
        principal = recently_verified_principal(authorization, selector)
        if principal is None and authorization:
            leader = self._verifying.get(authorization)
            if leader is not None:
                await asyncio.shield(leader)
                principal = recently_verified_principal(authorization, selector)
        if principal is not None:
            require(principal, READ)
            return principal
        return await self._verify(request, authorization)

    async def _verify(self, request: "StreamRequest", authorization: str | None):
        if not authorization or authorization in self._verifying:
            return await sync_to_async(self._authenticate)(request.django_request(), None)
        done = asyncio.get_running_loop().create_future()
        self._verifying[authorization] = done
        try:
            return await sync_to_async(self._authenticate)(request.django_request(), None)
        finally:
            del self._verifying[authorization]
            done.set_result(None)

    def _authenticate(self, request: ASGIRequest, ticket: str | None):
        """The same auth as the API: a ticket here, else bearer key, else session."""
        if ticket is not None:
            return redeem_stream_ticket(ticket)
        request.session = self._session_store(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
        request.user = get_user(request)
        principal = authenticate(request)
        require(principal, READ)
        return principal

    async def _stream(self, stream: Stream, receive, send, request_id: str) -> None:
        watcher = asyncio.ensure_future(_close_on_disconnect(stream, receive))
        try:
            # The head goes out with the opening frames, so a server that joins
            # writes made in the same turn (project.serve_uvicorn) needs one.
            try:
                opening = await anext(stream.frames, b"")
            except Exception:
                # Its replay could not be read (the database restarting, say): nothing
                # has been sent, so the client gets the retryable answer of a refused connect.
                logger.exception("could not open a stream")
                await self._send_json(send, api_error_response(_stream_unavailable()), request_id)
                return
            await send({"type": "http.response.start", "status": 200,
                        "headers": [*_RESPONSE_HEADERS, (b"x-request-id", request_id.encode())]})
            if opening:
                await send({"type": "http.response.body", "body": opening, "more_body": True})
            async for chunk in stream.frames:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if stream.connection.closing != "disconnected":
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            await stream.frames.aclose()

    async def _send_json(self, send, response: JsonResponse, request_id: str) -> int:
        headers = [(name.lower().encode(), value.encode()) for name, value in response.items()]
        headers.append((b"x-request-id", request_id.encode()))
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": response.content})
        return response.status_code

    def _log(self, path: str, route: str, status: int, started: float) -> None:
        record_request(method="GET", path=path, route=route, status=status,
                       seconds=time.perf_counter() - started, streaming=status == 200)


class StreamRequest:
    """What a stream request's answer depends on, read straight from the ASGI scope.

    Django's request object (its QueryDict, header mapping and settings lookups)
    was a tenth of the CPU of a reconnect storm; it is built only when the full
    authentication needs it (a session, or a key this process has not just seen)."""

    __slots__ = ("headers", "path", "query", "scope")

    def __init__(self, scope):
        self.scope = scope
        self.path = scope["path"]
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            # A repeated header is joined with commas, as Django's request does.
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        self.headers = headers
        # As Django's QueryDict.get: the last value of a repeated parameter.
        self.query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                    keep_blank_values=True))

    def django_request(self) -> ASGIRequest:
        return ASGIRequest(self.scope, io.BytesIO())


@dataclass(frozen=True, slots=True)
class _StreamQuery:
    """The documented query parameters (views.StreamParams) as they arrived. Every one
    is optional text, so a query that has the required ones needs no validation
    (pydantic's model_construct alone cost 17 µs a connect)."""

    event_types: str | None = None
    call_id: str | None = None
    agent: str | None = None
    last_event_id: str | None = None
    ticket: str | None = None
    include_history: bool = False


_QUERY_FIELDS = frozenset(TicketStreamParams.model_fields)


def _stream_params(query: dict[str, str], ticket_path: bool) -> _StreamQuery:
    """The query parameters as the documented views read them; one that lacks the
    ticket gets the API's validation error. Only `include_history`, the one
    that is not text, goes through pydantic (as the view would parse it)."""
    if ticket_path and "ticket" not in query:
        TicketStreamParams.model_validate(query)  # raises the validation error
    fields = {key: value for key, value in query.items() if key in _QUERY_FIELDS}
    if "include_history" in fields:
        fields["include_history"] = StreamParams.model_validate(
            {"include_history": fields["include_history"]}
        ).include_history
    return _StreamQuery(**fields)


async def _close_on_disconnect(stream: Stream, receive) -> None:
    """Ends the stream when the client goes away (daphne drops writes to a closed
    socket silently, so the writer alone would never notice)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            stream.connection.close("disconnected")
            return
