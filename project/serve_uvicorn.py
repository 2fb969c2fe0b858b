"""uvicorn as Callboard's ASGI server, with the graceful stop our streams need.

    python -m project.serve_uvicorn --host 127.0.0.1 --port 8000

uvicorn writes to asyncio transports directly and has flow control built in
(`send` waits while a client's socket is full), which daphne needed an
extension for. Its own access log is off: RequestContextMiddleware and the
stream fast path log every request with its request id and workspace, and
uvicorn's line would print query strings, where SSE tickets travel.

On SIGTERM or SIGINT every open stream first gets `shutdown` (reconnect: true)
and ends; uvicorn then finds no request left in flight and exits.
"""

import argparse
import os

import uvicorn


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
    parser.add_argument("--backlog", type=int, default=2048)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    config = uvicorn.Config(
        "project.asgi:application", host=args.host, port=args.port, backlog=args.backlog,
        log_config=None, access_log=False, lifespan="off", proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
    server = CallboardServer(config)
    server.run()


if __name__ == "__main__":
    main()
