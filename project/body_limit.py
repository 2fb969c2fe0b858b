"""The request body limit, enforced in the ASGI layer before anything reads the body.

Django's ASGI handler reads the whole body (into a temporary file past
FILE_UPLOAD_MAX_MEMORY_SIZE) before any middleware or view runs, so a limit
checked in Django's middleware came after the bytes had been taken in. Here a
declared `Content-Length` over the limit is answered 413 before the body is read,
and a body of unknown length (chunked) is counted as its `http.request` messages
arrive: once the count passes the limit the client gets its 413 and the
application is told the client has gone, so nothing buffers the rest. The
server reads and drops whatever of the body still comes (uvicorn does once the
response is complete), so the client reads its 413 instead of a connection reset
in the middle of its upload.

Every request body gets `API_MAX_BODY_BYTES`; the routes in UPLOAD_ROUTES, meant
to take files, get `API_MAX_UPLOAD_BYTES` instead.
"""

import re
import time

from django.conf import settings

from project.errors import error_response
from project.middleware import record_request

# The route label of a request refused here (Django never resolved its URL).
REFUSED_ROUTE = "body_limit"

# (method, path pattern) of the routes that take uploads. A view behind one reads
# its file through request.FILES (multipart): DATA_UPLOAD_MAX_MEMORY_SIZE, which
# stays at API_MAX_BODY_BYTES, does not count file parts.
UPLOAD_ROUTES: tuple[tuple[str, re.Pattern], ...] = (
    # The campaign contacts CSV; the route itself arrives with campaigns.
    ("POST", re.compile(r"/api/v1/campaigns/[^/]+/contacts")),
)


def body_limit_for(method: str, path: str) -> int:
    """The largest body, in bytes, that a request to `method path` may carry."""
    for upload_method, pattern in UPLOAD_ROUTES:
        if method == upload_method and pattern.fullmatch(path):
            return settings.API_MAX_UPLOAD_BYTES
    return settings.API_MAX_BODY_BYTES


class BodyLimit:
    """ASGI middleware: every HTTP request's body is held to its limit."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        limit = body_limit_for(scope["method"], scope["path"])
        try:
            declared = _declared_length(scope["headers"])
        except ValueError:
            refusal = error_response(400, "invalid_content_length", "Content-Length is not a number.")
        else:
            if declared is None or declared <= limit:
                guard = _CountingGuard(receive, send, limit)
                await self.app(scope, guard.receive, guard.send)
                if guard.refused:
                    _log_refusal(scope, 413, started)
                return
            refusal = _too_large(limit, declared)
        await _answer(send, refusal)
        _log_refusal(scope, refusal.status_code, started)


def _log_refusal(scope, status: int, started: float) -> None:
    """The access-log line and metrics Django's middleware would have written."""
    record_request(method=scope["method"], path=scope["path"], route=REFUSED_ROUTE, status=status,
                   seconds=time.perf_counter() - started, streaming=False)


def _declared_length(headers) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            if not value.isdigit():  # int() would take "+1", " 1" or "1_0"
                raise ValueError(value)
            return int(value)
    return None


def _too_large(limit: int, length: int | None):
    size = f"{length} bytes" if length is not None else f"over {limit} bytes"
    return error_response(
        413, "payload_too_large", f"The request body is {size}; the limit is {limit}.",
        {"limit_bytes": limit},
    )


def refusal_http(limit: int, length: int | None) -> bytes:
    """The 413 as raw HTTP/1.1, for a server that must answer below ASGI
    (project.serve: Twisted reads the body before daphne calls the application).
    The connection closes after it."""
    response = _too_large(limit, length)
    head = (f"HTTP/1.1 413 Payload Too Large\r\nContent-Type: {response['Content-Type']}\r\n"
            f"Content-Length: {len(response.content)}\r\nConnection: close\r\n\r\n")
    return head.encode("latin-1") + response.content


async def _answer(send, response) -> None:
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1"))
               for name, value in response.items()]
    headers.append((b"content-length", str(len(response.content)).encode()))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})


class _CountingGuard:
    """Wraps one request's receive and send: counts body bytes as they arrive."""

    __slots__ = ("_receive", "_send", "limit", "received", "refused", "started")

    def __init__(self, receive, send, limit: int):
        self._receive, self._send, self.limit = receive, send, limit
        self.received = 0
        self.refused = self.started = False

    async def receive(self):
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] != "http.request":
            return message
        self.received += len(message.get("body", b""))
        if self.received <= self.limit:
            return message
        self.refused = True
        if not self.started:
            self.started = True
            await _answer(self._send, _too_large(self.limit, None))
        # The application stops reading (Django drops the request); a response
        # already under way (a stream ignoring its body) ends.
        return {"type": "http.disconnect"}

    async def send(self, message):
        if self.refused:
            return  # the client has its answer (or its connection is being closed)
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)
