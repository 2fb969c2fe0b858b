"""uvicorn as Callboard's ASGI server, with the graceful stop our streams need.

    python -m project.serve_uvicorn --host 127.0.0.1 --port 8000

uvicorn writes to asyncio transports directly and has flow control built in
(`send` waits while a client's socket is full), which daphne needed an
extension for. Its own access log is off: RequestContextMiddleware and the
stream fast path log every request with its request id and workspace, and
uvicorn's line would print query strings, where SSE tickets travel.

On SIGTERM or SIGINT every open stream first gets `shutdown` (reconnect: true)
and ends; uvicorn then finds no request left in flight and exits.

Each connection's kernel send buffer is capped (`STREAM_SOCKET_SEND_BUFFER_BYTES`).
Left to autotuning, loopback and LAN sockets grow it to 4 MB: a client that
reads slowly then hides a thousand events in the kernel, where the stream's
lag-warning and hard limit cannot see them, and 10,000 slow clients could pin
gigabytes of kernel memory.
"""

import argparse
import os
import socket

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class StreamingHttpProtocol(HttpToolsProtocol):
    send_buffer_bytes = 0  # set from the settings at start; 0 leaves the kernel's default

    def connection_made(self, transport) -> None:
        if self.send_buffer_bytes:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer_bytes)
        super().connection_made(transport)


class CallboardServer(uvicorn.Server):
    def handle_exit(self, sig, frame) -> None:
        from realtime.hub import current_hub

        hub = current_hub()
        if hub is not None and not hub.shutting_down:
            from django.conf import settings

            hub.loop.call_soon_threadsafe(hub.begin_shutdown, settings.REALTIME_RETRY_MS)
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

    StreamingHttpProtocol.send_buffer_bytes = settings.STREAM_SOCKET_SEND_BUFFER_BYTES
    from project.asgi import application
    from project.gc_tuning import tune_for_long_lived_connections

    tune_for_long_lived_connections()
    config = uvicorn.Config(
        application, host=args.host, port=args.port, backlog=args.backlog,
        http=StreamingHttpProtocol,
        log_config=None, access_log=False, lifespan="off", proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
    server = CallboardServer(config)
    server.run()


if __name__ == "__main__":
    main()
