"""uvicorn as Callboard's ASGI server, with the graceful stop our streams need.

    python -m project.serve_uvicorn --host 127.0.0.1 --port 8000

uvicorn writes to asyncio transports directly and has flow control built in
(`send` waits while a client's socket is full), which daphne needed an
extension for. Its own access log is off: RequestContextMiddleware and the
stream fast path log every request with its request id and workspace, and
uvicorn's line would print query strings, where SSE tickets travel.

On SIGTERM or SIGINT every open stream first gets `shutdown` (reconnect: true)
and ends; only then does uvicorn stop, finds no request left in flight and
exits (`CallboardServer`).

Each connection's kernel send buffer is capped (`STREAM_SOCKET_SEND_BUFFER_BYTES`).
Left to autotuning, loopback and LAN sockets grow it to 4 MB: a client that
reads slowly then hides a thousand events in the kernel, where the stream's
lag-warning and hard limit cannot see them, and 10,000 slow clients could pin
gigabytes of kernel memory. The cap is set once on the listening sockets:
Linux copies it (locked against autotuning) to every accepted connection, so
a connect costs no extra system call (a setsockopt per connection was 6 % of
a reconnect storm).
"""

import argparse
import asyncio
import os
import socket

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeadJoiningProtocol(HttpToolsProtocol):
    """uvicorn writes a response's head and its first body chunk with two system
    calls; this joins them (see _HeadJoiningTransport)."""

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.transport = _HeadJoiningTransport(transport, self.loop)

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol gets the socket's own transport: it writes frames,
        # not HTTP heads, and swaps the transport's protocol.
        self.transport = self.transport.unwrap()
        super().handle_websocket_upgrade()


class _HeadJoiningTransport:
    """Holds a response head until the next write or the end of the current turn
    of the loop. A stream's head and opening frames then leave in one system call
    (one of the three writes of every connect in a reconnect storm). Every write
    goes through here, so the order of the bytes never changes."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport, loop):
        self._transport = transport
        self._loop = loop
        self._held = b""

    def write(self, data: bytes) -> None:
        if self._held:
            data, self._held = self._held + data, b""
        elif data[:5] == b"HTTP/":
            self._held = data
            self._loop.call_soon(self._flush)
            return
        self._transport.write(data)

    def _flush(self) -> None:
        if self._held:
            held, self._held = self._held, b""
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def unwrap(self):
        self._flush()
        return self._transport

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name):
        return getattr(self._transport, name)


# How long a stop waits for the streams to send `shutdown` and end before uvicorn's own.
STREAMS_DRAIN_SECONDS = 3.0


class CallboardServer(uvicorn.Server):
    """Stops the streams before uvicorn stops. uvicorn's shutdown closes every
    WebSocket at once (1012) on its next tick (0.1 s); a socket whose `shutdown`
    frame had not gone out by then (a busy machine) lost it. So the first signal
    tells the streams, waits until they have ended (at most
    STREAMS_DRAIN_SECONDS), then lets uvicorn stop; a second signal stops at once."""

    def handle_exit(self, sig, frame) -> None:
        from realtime.hub import current_hub

        hub = current_hub()
        if hub is None or hub.shutting_down:
            super().handle_exit(sig, frame)
            return
        from django.conf import settings

        retry_ms = settings.REALTIME_RETRY_MS
        hub.loop.call_soon_threadsafe(self._stop_streams_then_exit, hub, retry_ms, sig, frame)

    def _stop_streams_then_exit(self, hub, retry_ms: int, sig, frame) -> None:
        hub.begin_shutdown(retry_ms)
        self._drain = hub.loop.create_task(self._exit_when_drained(hub, sig, frame))

    async def _exit_when_drained(self, hub, sig, frame) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STREAMS_DRAIN_SECONDS
        while hub.open_streams and loop.time() < deadline:
            await asyncio.sleep(0.02)
        super().handle_exit(sig, frame)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Runs Callboard under uvicorn.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    # A reconnect storm arrives at once: past the backlog, a connect waits for the
    # client's SYN retry (1 s, then 3 s). 4096 is Linux's usual somaxconn.
    parser.add_argument("--backlog", type=int, default=4096)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from django.conf import settings

    from project.asgi import application
    from project.gc_tuning import tune_for_long_lived_connections

    tune_for_long_lived_connections()
    config = uvicorn.Config(
        application, host=args.host, port=args.port, backlog=args.backlog,
        http=HeadJoiningProtocol,
        log_config=None, access_log=False, lifespan="off", proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
    listener = config.bind_socket()
    if settings.STREAM_SOCKET_SEND_BUFFER_BYTES:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, settings.STREAM_SOCKET_SEND_BUFFER_BYTES)
    CallboardServer(config).run(sockets=[listener])


if __name__ == "__main__":
    main()
