"""Streams over WebSocket (docs/reference/streams.md#websocket-close-codes): the same connections, replay,
limits and
control events as SSE, one JSON envelope per text message.

A route gives `StreamSocket` an `opener`, the coroutine that admits the stream
it serves (for example one call's). Errors follow the HTTP ones: the socket is
accepted, gets the error shape as one message, then closes with 4000 + the
HTTP status (4400, 4401, 4403, 4404, 4429, 4503), so a browser, which never
sees a refused handshake's status, still learns why.

Who may connect: `?ticket=` (single use, from POST /auth/sse-ticket), a bearer
key in the Authorization header (non-browser clients), or the session cookie.
Only the cookie is sent by a browser on its own, so only a session socket must
come from an allowed Origin (cross-site WebSocket hijacking): the whole origin
(scheme, host and port) is this socket's own, as Django's CSRF check computes it
(ALLOWED_HOSTS, the proxy headers when trusted), or one of CSRF_TRUSTED_ORIGINS.
It is checked first, before the session, the user or a workspace is read.
"""

import asyncio
import io
import logging
from contextlib import suppress
from urllib.parse import parse_qsl, urlsplit

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest
from django.utils.http import is_same_domain
from pydantic import ValidationError

from project.client_address import scope_address
from project.errors import ApiError, Forbidden, NotAuthenticated, error_body
from realtime.streams import Stream
from realtime.views import redeem_stream_ticket
from realtime.wire import dumps
from workspaces.auth import READ, Principal, principal_for_bearer, principal_for_user, require

logger = logging.getLogger(__name__)

# Why the stream ended -> the close code: the call ended (normal); the server
# is restarting (4503, as a socket opened meanwhile is refused; reconnect after
# `retry_ms`); the client fell behind its buffer (4013, reconnect with
# `last_event_id` and replay the rest); access was taken away (4401 key or user
# gone, 4403 no longer a member: realtime.access). Not the standard 1012/1013:
# daphne's WebSocket library lets a server close only with 1000 or 3000-4999.
CLOSE_CODES = {"call-ended": 1000, "shutdown": 4503, "overflow": 4013,
               "revoked:401": 4401, "revoked:403": 4403}
CLOSE_NORMAL = 1000
ERROR_CLOSE_BASE = 4000


def error_close_code(status: int) -> int:
    return ERROR_CLOSE_BASE + status


def _headers(scope) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}


def _origin_allowed(scope, origin: str | None) -> bool:
    if not origin:
        return False
    return origin == _own_origin(scope) or _trusted_origin(origin)


def _own_origin(scope) -> str | None:
    """scheme://host[:port] of the socket itself, as Django's CSRF check has it for a
    request (the host validated against ALLOWED_HOSTS; proxy headers when trusted)."""
    secure = scope.get("scheme") == "wss"
    request = ASGIRequest({**scope, "type": "http", "method": "GET",
                           "scheme": "https" if secure else "http"}, io.BytesIO())
    try:
        return f"{request.scheme}://{request.get_host()}"
    except DisallowedHost:
        return None


def _trusted_origin(origin: str) -> bool:
    """One of CSRF_TRUSTED_ORIGINS, exactly or by a `scheme://*.domain` entry."""
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parsed = urlsplit(origin)
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        pattern = urlsplit(trusted)
        if "*" in pattern.netloc and pattern.scheme == parsed.scheme \
                and is_same_domain(parsed.netloc, pattern.netloc.lstrip("*")):
            return True
    return False


def _session_user(scope):
    """The signed-in user of the socket's session (read only when it is needed)."""
    request = HttpRequest()
    request.session = scope["session"]
    return get_user(request)


def socket_principal(scope, query: dict[str, str]) -> Principal:
    """Who opens the socket, allowed to read, in which workspace (`?workspace=`
    or X-Workspace picks one for a user in several)."""
    ticket = query.get("ticket")
    if ticket:
        return redeem_stream_ticket(ticket)
    headers = _headers(scope)
    selector = query.get("workspace") or headers.get("x-workspace")
    if headers.get("authorization"):
        principal = principal_for_bearer(headers["authorization"], selector,
                                         client_address=scope_address(scope, headers))
    elif settings.SESSION_COOKIE_NAME not in scope.get("cookies", {}):
        raise NotAuthenticated()
    else:
        if not _origin_allowed(scope, headers.get("origin")):
            raise Forbidden("A signed-in WebSocket must come from this site's own pages.",
                            code="origin_forbidden", details={"origin": headers.get("origin")})
        principal = principal_for_user(_session_user(scope), selector)
    require(principal, READ)
    return principal


async def refuse(socket: AsyncWebsocketConsumer, status: int, code: str, message: str,
                 details: dict | None = None) -> None:
    """The error shape as one message, then the close code for its status."""
    await socket.send(text_data=dumps(error_body(status, code, message, details)).decode())
    await socket.close(code=error_close_code(status), reason=code[:120])


class StreamSocket(AsyncWebsocketConsumer):
    """Serves one admitted stream over a WebSocket. Read-only: messages from the
    client are ignored. `opener` is async (principal, query, **url_kwargs) -> Stream:
    `StreamSocket.as_asgi(opener=...)` in a route."""

    def __init__(self, *args, opener, **kwargs):
        super().__init__(*args, **kwargs)
        self.opener = opener
        self.writer: asyncio.Task | None = None

    async def connect(self):
        await self.accept()
        query = dict(parse_qsl(self.scope.get("query_string", b"").decode("latin-1")))
        url_kwargs = self.scope.get("url_route", {}).get("kwargs", {})
        try:
            principal = await sync_to_async(socket_principal)(self.scope, query)
            stream = await self.opener(principal, query, **url_kwargs)
        except ApiError as error:
            await refuse(self, error.status, error.code, error.message, error.details)
            return
        except ValidationError as error:
            await refuse(self, 400, "validation_error", "The query is not valid.",
                              {"errors": error.errors(include_url=False, include_context=False)})
            return
        except Exception:
            logger.exception("could not open a stream socket")
            await refuse(self, 503, "stream_unavailable",
                         "Streams are unavailable for a moment; retry shortly.")
            return
        self.writer = asyncio.ensure_future(self._write(stream))

    async def _write(self, stream: Stream) -> None:
        frames = stream.frames
        try:
            async for messages in frames:
                for message in messages:
                    await self.send(text_data=message.decode())
        finally:
            await frames.aclose()
        await self.close(code=CLOSE_CODES.get(stream.connection.closing, CLOSE_NORMAL))

    async def disconnect(self, code):
        writer = self.writer
        if writer is not None and not writer.done():
            writer.cancel()
            with suppress(asyncio.CancelledError):
                await writer  # the stream leaves the hub and its caps before the socket is gone


class UnknownSocket(AsyncWebsocketConsumer):
    """Any other WebSocket path: 4404 in the error shape, like an HTTP 404."""

    async def connect(self):
        await self.accept()
        await refuse(self, 404, "not_found", "There is no WebSocket at this path.")
