"""Shared by the webhook tests: events committed the way services commit them, and
the workspace's reactions run as the task a commit enqueues would run them."""

import asyncio
import threading
import time
from contextlib import contextmanager

from django.db import transaction

from realtime import reactions
from realtime.emit import Emission, emit_many
from realtime.models import Event
from realtime.wire import envelope
from webhooks.sender import Sender

STATUS = {"schedule_id": "sch_1", "status": "paused", "previous_status": "active"}
PROGRESS = {"campaign_id": "cmp_1", "total": 10, "pending": 5, "in_progress": 1, "completed": 4, "failed": 0,
            "percent": 40.0}


def commit_events(workspace, count: int, type: str = "schedule-status-changed",
                  data: dict | None = None) -> list[str]:
    """`count` events of `type`, committed in one transaction; their event ids."""
    with transaction.atomic():
        recorded = emit_many(workspace, [Emission(type, data or STATUS) for _ in range(count)])
    return [event["event_id"] for event in recorded]


def run_reactions(workspace) -> int:
    return reactions.run(workspace.pk)


def stream_envelope(event_id: str) -> dict:
    """The envelope of a committed event, as the streams carry it."""
    row = Event.objects.get(event_id=event_id)
    return envelope(event_id=str(row.event_id), type=row.type, workspace_id=str(row.workspace_id),
                    call_id=row.call_id, timestamp=row.occurred_at, data=row.data)


# --- the sender, in this process ----------------------------------------------------------



@contextmanager
def running_sender(**options):
    """The sender (webhooks/sender.py) on an event loop of its own in a thread, as the
    command runs it; stopped as SIGTERM stops it (attempts in flight end, results written)."""
    ready, holder = threading.Event(), {}

    def main():
        async def serve():
            holder["loop"], holder["stop"] = asyncio.get_running_loop(), asyncio.Event()
            ready.set()
            await Sender(**options).run(holder["stop"])

        asyncio.run(serve())

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield
    finally:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(60)


def wait_until(predicate, *, timeout: float = 30, message="the condition"):
    """Waits for `predicate()` to be truthy (its value), up to `timeout`; `message`
    (or a function giving it, called on failure) says what did not happen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{message() if callable(message) else message} did not hold within {timeout} s")
