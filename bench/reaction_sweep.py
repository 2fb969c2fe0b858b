"""The reaction sweep's query (`realtime.reactions.due`) over many workspaces: its
cost grows with workspaces times reactions, not with the workspaces due
(docs/architecture.md, "Reacting to committed events"). Prints milliseconds per call.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/callboard_bench \\
        python bench/reaction_sweep.py --workspaces 10000 --reactions 3

The database must be a migrated one whose name contains "bench"; the script adds
workspaces with counters and cursors (5 % of them due) and deletes them at the end.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from realtime import reactions  # noqa: E402

SEED = """
INSERT INTO workspaces_workspace (id, name, slug, timezone, opening_credit, created_at)
    SELECT gen_random_uuid(), 'sweep bench', 'sweep-bench-' || n, 'UTC', 0, now()
    FROM generate_series(1, %(workspaces)s) n;
INSERT INTO realtime_streamcounter (workspace_id, last_seq, reacted_seq)
    SELECT id, 1000, CASE WHEN random() < 0.05 THEN 1000 ELSE 500 END
    FROM workspaces_workspace WHERE slug LIKE 'sweep-bench-%%';
INSERT INTO realtime_reactioncursor (workspace_id, reaction, last_seq, updated_at)
    SELECT id, 'bench-' || r, 900, now() - interval '1 hour'
    FROM workspaces_workspace, generate_series(1, %(reactions)s) r WHERE slug LIKE 'sweep-bench-%%';
ANALYZE;
"""
CLEAN = """
DELETE FROM realtime_reactioncursor WHERE reaction LIKE 'bench-%';
DELETE FROM realtime_streamcounter WHERE workspace_id IN
    (SELECT id FROM workspaces_workspace WHERE slug LIKE 'sweep-bench-%');
DELETE FROM workspaces_workspace WHERE slug LIKE 'sweep-bench-%';
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspaces", type=int, default=10_000)
    parser.add_argument("--reactions", type=int, default=3)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    if "bench" not in settings.DATABASES["default"]["NAME"]:
        sys.exit("Run against a benchmark database (its name contains 'bench').")
    for number in range(1, args.reactions + 1):
        reactions.register(f"bench-{number}", types={"call-ended"}, handler=lambda workspace, events: None)
    with connection.cursor() as cursor:
        cursor.execute(SEED, {"workspaces": args.workspaces, "reactions": args.reactions})
    try:
        timings = []
        for _ in range(args.calls):
            started = time.perf_counter()
            due = reactions.due(grace_seconds=2, limit=reactions.SWEEP_LIMIT)
            timings.append((time.perf_counter() - started) * 1000)
        print(json.dumps({"workspaces": args.workspaces, "reactions": args.reactions, "due": len(due),
                          "ms": [round(ms, 1) for ms in timings],
                          "median_ms": round(statistics.median(timings), 1)}))
    finally:
        with connection.cursor() as cursor:
            cursor.execute(CLEAN)


if __name__ == "__main__":
    main()
