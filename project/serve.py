"""daphne, extended through its `server_class` where it falls short of our contract.

- Access log: daphne prints the full URI, query string included, and SSE
  tickets travel in the query string. We swap its action logger for ours,
  which redacts and writes through the JSON logging.
- Backpressure: daphne's `send` writes into Twisted's buffer and returns at
  once, so a slow client's backlog grows in the server, unseen and unbounded.
  We register a push producer on each streaming response and each WebSocket;
  while Twisted says the socket is full, `send` waits, so the backlog stays in
  the stream's own bounded buffer, where lag-warning and the hard limit apply.
- Graceful stop: on SIGTERM daphne cancels every application at once. We first
  send `shutdown` to every open stream and give them a moment to flush.
- Body limit: Twisted reads a whole request body (past 100 KB into a temporary
  file) before daphne hands it to the application, so the ASGI limit
  (project/body_limit.py) would answer only after it was all in. Each request
  applies the same limit as its bytes arrive (`BodyLimitedRequest`).

    python -m project.serve [daphne arguments] project.asgi:application
"""

import asyncio
import logging
import time
from urllib.parse import unquote

from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from project.logging import redact_secrets

access_log = logging.getLogger("callboard.access")

_HTTP_ACTIONS = {"complete"}
_WS_ACTIONS = {"connecting", "connected", "rejected", "disconnected"}


class AccessLog:
    """daphne's action-logger interface, writing one structured record per action."""

    def __call__(self, protocol: str, action: str, details: dict) -> None:
        # HTTP is logged at INFO by RequestContextMiddleware, with the request id
        # and workspace; here only at DEBUG, for requests that never reached Django.
        if protocol == "http" and action in _HTTP_ACTIONS:
            level = logging.DEBUG
            message = f"{details['method']} {redact_secrets(details['path'])} {details['status']}"
        elif protocol == "websocket" and action in _WS_ACTIONS:
            level = logging.INFO
            message = f"WS {action} {redact_secrets(details['path'])}"
        else:
            return
        access_log.log(level, message, extra={
            "protocol": protocol, "action": action, "client": details.get("client"),
            "status": details.get("status"), "bytes": details.get("size"),
            "duration_ms": round(details["time_taken"] * 1000, 2) if "time_taken" in details else None,
        })


@implementer(IPushProducer)
class WriteGate:
    """Open while the client's socket takes data; Twisted closes and reopens it."""

    def __init__(self):
        self.open = asyncio.Event()
        self.open.set()

    def pauseProducing(self):
        self.open.clear()

    def resumeProducing(self):
        self.open.set()

    def stopProducing(self):
        self.open.set()  # the connection is gone: let the writer run into that


SHUTDOWN_GRACE_SECONDS = 3.0


async def _wait_for_streams_to_close(hub, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while hub.open_streams and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)  # let the last frames reach the sockets


class BodyLimitedRequest(WebRequest):
    """A request whose body is held to its limit while Twisted reads it: over a
    declared Content-Length the 413 goes out at once; a chunked body is counted and
    answered as it passes the limit. The rest of the body is read and dropped (so
    the client reads its answer, not a reset), then the connection closes; the
    application never runs."""

    body_limit: int | None = None
    body_received = 0
    body_refused = False

    def gotLength(self, length):
        super().gotLength(length)
        command, path = getattr(self.channel, "_command", None), getattr(self.channel, "_path", None)
        if command is None or path is None:
            return  # not an HTTP/1.1 channel: the ASGI limit still applies
        from project.body_limit import body_limit_for

        path = unquote(path.split(b"?", 1)[0].decode("latin-1"))
        self.body_limit = body_limit_for(command.decode("latin-1"), path)
        if length is not None and length > self.body_limit:
            self.requestHeaders.removeHeader(b"expect")  # no "100 Continue" after the answer
            self._refuse(length)

    def handleContentChunk(self, data):
        if self.body_refused:
            return
        self.body_received += len(data)
        if self.body_limit is not None and self.body_received > self.body_limit:
            self._refuse(None)
            return
        super().handleContentChunk(data)

    def requestReceived(self, command, path, version):
        if self.body_refused:
            self.channel.loseConnection()  # the body is all read: a clean close
            return
        super().requestReceived(command, path, version)

    def _refuse(self, length: int | None) -> None:
        from project.body_limit import refusal_http

        self.body_refused = True
        self.channel.transport.write(refusal_http(self.body_limit, length))


class BodyLimitedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = BodyLimitedRequest
        return protocol


class CallboardServer(Server):
    def __init__(self, *args, action_logger=None, **kwargs):
        super().__init__(*args, action_logger=AccessLog() if action_logger else None, **kwargs)

    async def handle_reply(self, protocol, message):
        if message.get("type") == "websocket.send":
            await super().handle_reply(protocol, message)
            first_send = getattr(protocol, "callboard_write_gate", None) is None
            if first_send and protocol.transport.producer is not None:
                # The upgraded socket's transport still names the HTTP channel that
                # read the handshake as its producer; the socket's writes are ours now.
                protocol.transport.unregisterProducer()
            await self._until_writable(protocol)
            return
        is_body = message.get("type") == "http.response.body"
        gate = getattr(protocol, "callboard_write_gate", None)
        if is_body and not message.get("more_body") and gate is not None:
            if protocol.channel is not None:  # None once the client has gone
                protocol.unregisterProducer()  # the channel may serve another request next
            protocol.callboard_write_gate = gate = None
        await super().handle_reply(protocol, message)
        if not (is_body and message.get("more_body")) or getattr(protocol, "finished", False):
            return
        await self._until_writable(protocol)

    @staticmethod
    async def _until_writable(protocol) -> None:
        """Waits while the client's socket is full (a WebSocket's protocol passes
        the producer on to its transport, as an HTTP channel does)."""
        gate = getattr(protocol, "callboard_write_gate", None)
        if gate is None:
            gate = protocol.callboard_write_gate = WriteGate()
            protocol.registerProducer(gate, True)
        if not gate.open.is_set():
            await gate.open.wait()

    def run(self):
        import daphne.server

        from project.gc_tuning import tune_for_long_lived_connections

        # Server.run() builds its HTTP factory by this name; daphne offers no hook.
        daphne.server.HTTPFactory = BodyLimitedHTTPFactory

        tune_for_long_lived_connections()  # the application is loaded by now
        super().run()

    def kill_all_applications(self):
        from realtime.hub import current_hub

        hub = current_hub()
        if hub is None or not hub.open_streams:
            return super().kill_all_applications()
        from django.conf import settings

        hub.begin_shutdown(retry_ms=settings.REALTIME_RETRY_MS)
        waiting = Deferred.fromFuture(asyncio.ensure_future(
            _wait_for_streams_to_close(hub, SHUTDOWN_GRACE_SECONDS)
        ))
        waiting.addBoth(lambda _: super(CallboardServer, self).kill_all_applications())
        return waiting


class CallboardCommandLine(CommandLineInterface):
    server_class = CallboardServer


if __name__ == "__main__":
    CallboardCommandLine.entrypoint()
