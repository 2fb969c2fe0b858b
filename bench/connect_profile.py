"""Our part of a stream connect, without sockets: calls the stream fast path
(realtime.asgi.StreamRouter) N times in one process, with a cached API key and
the real Redis and database, and prints the CPU per connect and, with
--profile, cProfile's top functions. docs/PERFORMANCE.md compares it with the
`connects` scenario of bench/run.py, which includes the server and the kernel.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/callboard_bench \\
        python bench/connect_profile.py --connects 10000 [--profile]

The database must be a migrated one whose name contains "bench"; the script
adds a workspace and a key to it.
"""

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
os.environ.setdefault("REALTIME_MAX_STREAMS_PER_WORKSPACE", "1000000")
os.environ.setdefault("REALTIME_MAX_STREAMS_PER_PRINCIPAL", "1000000")

BATCH = 200  # connects in flight at once


async def connect_many(count: int, profile: cProfile.Profile | None) -> float:
    from asgiref.sync import sync_to_async

    from project.gc_tuning import tune_for_long_lived_connections
    from realtime.asgi import StreamRouter
    from workspaces import services
    from workspaces.models import Workspace

    def make_key() -> str:
        workspace, _ = Workspace.objects.get_or_create(slug="connect-profile",
                                                       defaults={"name": "Connect profile"})
        return services.api_key_create(workspace=workspace, name="profile", scopes=["read"]).plaintext

    key = await sync_to_async(make_key)()

    async def not_django(scope, receive, send):
        raise AssertionError("only stream requests are sent")

    router = StreamRouter(not_django)
    scope = {"type": "http", "method": "GET", "path": "/api/v1/events/stream", "query_string": b"",
             "headers": [(b"authorization", f"Bearer {key}".encode()), (b"accept", b"text/event-stream")]}
    loop = asyncio.get_running_loop()
    streams = []

    async def connect() -> None:
        ready, gone = loop.create_future(), loop.create_future()

        async def receive():
            await gone
            return {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.body" and not ready.done():
                ready.set_result(None)

        streams.append(asyncio.ensure_future(router(dict(scope), receive, send)))
        await ready

    await connect()  # warms the key cache and opens the workspace's feed
    tune_for_long_lived_connections()
    started = time.process_time()
    if profile:
        profile.enable()
    for start in range(0, count, BATCH):
        await asyncio.gather(*(connect() for _ in range(min(BATCH, count - start))))
    if profile:
        profile.disable()
    return (time.process_time() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connects", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if "bench" not in os.environ.get("DATABASE_URL", "bench"):
        parser.error("point DATABASE_URL at a benchmark database (its name must contain 'bench')")
    import django

    django.setup()
    profile = cProfile.Profile() if args.profile else None
    seconds = asyncio.run(connect_many(args.connects, profile))
    print(f"{args.connects} connects: {seconds * 1e6:.0f} µs of CPU each")
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
