"""manage.py simulate --workspace SLUG [--calls N] [--concurrency K] [--speed X]

Places N simulated calls in a workspace, at most K at once, each played by the
simulated runtime's Celery tasks at X times real speed, and waits until all
have ended. A Celery worker must be running (`make run` starts one).
"""

import time
from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from calls import demo
from calls.models import Call
from calls.runtime.simulated import runtime as simulated
from workspaces.models import Workspace


class Command(BaseCommand):
    help = "Plays simulated calls in a workspace through the simulated voice runtime."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="the workspace's slug")
        parser.add_argument("--calls", type=int, default=10)
        parser.add_argument("--concurrency", type=int, default=3)
        parser.add_argument("--speed", type=float, default=1.0, help="times real speed")
        parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for all to end")

    def handle(self, *args, **options):
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace {options['workspace']!r}.")
        total, concurrency, speed = options["calls"], options["concurrency"], options["speed"]
        if total < 1 or concurrency < 1 or speed <= 0:
            raise CommandError("--calls and --concurrency must be at least 1, --speed above 0.")
        placed: list = []
        deadline = time.monotonic() + options["timeout"]
        while time.monotonic() < deadline:
            active = Call.objects.filter(pk__in=placed, status__in=demo.ACTIVE).count()
            while len(placed) < total and active < concurrency:
                call = demo.place_simulated_call(workspace, runtime="simulated")
                simulated.place(call, speed=speed)
                placed.append(call.pk)
                active += 1
                self.stdout.write(f"placed {call.pk} to {call.to_number} ({len(placed)}/{total})")
            if len(placed) == total and active == 0:
                break
            time.sleep(0.5)
        else:
            raise CommandError(f"Not every call ended within {options['timeout']:g} s; is a worker running?")
        outcomes = Counter(Call.objects.filter(pk__in=placed).values_list("status", flat=True))
        self.stdout.write("ended: " + ", ".join(f"{status} {n}" for status, n in sorted(outcomes.items())))
