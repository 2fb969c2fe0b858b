"""Our part of runtime ingest, without HTTP: calls `calls.ingest.ingest_batch` in
one process with the real database and Redis, and prints the CPU and wall time
per event and, with --profile, cProfile's top functions. docs/PERFORMANCE.md
compares it with the `ingest` scenario of bench/run.py, which adds the server,
the request and the streams.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/callboard_bench \\
        python bench/ingest_profile.py --batches 200 --batch 50 [--ephemeral-share 0.5] [--profile]

The database must be a migrated one whose name contains "bench"; the script
adds a workspace and active calls to it.
"""

import argparse
import cProfile
import os
import pstats
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402

from bench.ingestgen import batch_items  # noqa: E402
from bench.seed_calls import seed_active  # noqa: E402
from calls.ingest import ingest_batch  # noqa: E402
from workspaces.models import Workspace  # noqa: E402


def batches(call_ids: list[str], count: int, size: int, ephemeral_share: float) -> list[list[dict]]:
    """`count` batches of `size` items, each about one call, as the load generator sends them."""
    return [
        batch_items(
            call_ids[number % len(call_ids)], size, ephemeral_share, f"t={time.time()}#0", number * size
        )
        for number in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch", type=int, default=50, help="events per batch")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--ephemeral-share", type=float, default=0.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    if "bench" not in str(settings.DATABASES["default"]["NAME"]):
        sys.exit("refusing: the database name must contain 'bench'")

    workspace = Workspace.objects.create(name="Ingest profile", slug=f"ingest-{uuid.uuid4().hex[:8]}")
    call_ids = seed_active(workspace, args.calls)
    work = batches(call_ids, args.batches, args.batch, args.ephemeral_share)
    warm_up = batches(call_ids, 1, args.batch, args.ephemeral_share)[0]
    ingest_batch(workspace, warm_up, reporter="ingest")

    profile = cProfile.Profile() if args.profile else None
    accepted = 0
    wall, cpu = time.perf_counter(), time.process_time()
    if profile:
        profile.enable()
    for batch in work:
        result = ingest_batch(workspace, batch, reporter="ingest")
        accepted += result.accepted
        if result.errors:
            sys.exit(f"unexpected item errors: {result.errors[:3]}")
    if profile:
        profile.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{accepted} events in {len(work)} batches: {wall / accepted * 1e6:.0f} µs wall, "
        f"{cpu / accepted * 1e6:.0f} µs CPU per event; {accepted / wall:.0f} events/s in one thread"
    )
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
