"""Django's ASGI handler, with a request's sync code run in one call on a reused thread.

Django's own handler loads the middleware in async mode wherever a middleware
allows it. Ours are all async-capable except WhiteNoise, so the chain ran on
the event loop down to WhiteNoise, hopped into a thread for it, hopped back
to the loop for the middleware inside it (sessions, CSRF, auth, ...), and
every hook of those (`MiddlewareMixin`) and the sync view hopped into the
thread again: about sixteen hops per request, on a thread created for the
request and a second one created to join it (asgiref's `ThreadSensitiveContext`).

Here the chain is loaded in sync mode, as under WSGI, and a request runs it
in one call on a thread taken from a free list: the request-started signal,
the chain and view, and the close of an answer that is not streamed (which
hands the database connection back to the pool) in one hop to that thread,
where Django's handler takes three hops and starts two tasks a request.
The views, middleware and errors are Django's and django-ninja's,
unchanged. A request that finds no idle thread gets a new one, which joins the
list when it is done: no request waits for another's thread (a slow file
download holds one, as before), and threads are made only at a new peak of
concurrent requests.

At most `WEB_REQUEST_THREADS` requests run that code at once; the others
wait on the event loop, holding no thread. More would not finish sooner (the
process has one GIL and `DATABASE_POOL_MAX_SIZE` connections), and every
runnable thread is one more the event loop waits behind for the GIL while it
delivers the streams' events: with 20 clients reading, the fan-out's p99
was 1.3x its p99 without them with two at a time, 1.6x with four and
1.9-2.3x unbounded, at the same REST requests/s in that mix; REST alone lost
about a tenth with two against four, still above the WSGI floor
(docs/PERFORMANCE.md "REST at scale").
Only the view's work is bounded: reading a request's body and sending a
response (a download to a slow client) take no slot.
"""

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.http import FileResponse
from django.urls import set_script_prefix

# Idle threads kept for the next requests; past this, a finished request's thread ends.
MAX_IDLE_THREADS = 32


class OneThreadPerRequestHandler(ASGIHandler):
    def __init__(self) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self._idle: list[ThreadPoolExecutor] = []
        self._slots: asyncio.Semaphore | None = None  # made on the server's event loop

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self._idle.pop() if self._idle else ThreadPoolExecutor(1, thread_name_prefix="request")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            if len(self._idle) < MAX_IDLE_THREADS:
                self._idle.append(executor)
            else:
                executor.shutdown(wait=False)

    async def handle(self, scope, receive, send):
        """Django's `ASGIHandler.handle` in one hop to the request's thread: the
        request-started signal, the middleware and view, and, for a response that
        is not streamed, its close (the request-finished signal hands the database
        connection back) before its bytes go out. Django's own takes three hops
        and two tasks a request; a streamed response is still closed after it
        was sent. A client that leaves while its view runs is not noticed until
        the answer is sent, as Django does not stop a sync view either."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        if self._slots is None:
            self._slots = asyncio.Semaphore(settings.WEB_REQUEST_THREADS)
        try:
            async with self._slots:
                response = await sync_to_async(self._respond, thread_sensitive=True)(scope, body_file)
            with contextlib.suppress(asyncio.CancelledError):
                await self.send_response(response, send)
            if response.streaming:
                await sync_to_async(response.close, thread_sensitive=True)()
        finally:
            body_file.close()

    def _respond(self, scope, body_file):
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        if not response.streaming:
            response.close()
        return response
