"""Replay windows shared by the streams that resume from the same cursor.

After a deploy or a network blip, thousands of clients of one workspace come
back at once, nearly all with the same `Last-Event-ID`, and this process hands
each of them the same `current`. One read of the window (after, upto] serves
them all: the first stream asks the database, the others wait for that answer,
and the answer stays a few seconds for the stragglers. Each stream filters the
shared deliveries with its own `Connection.wants`, exactly as live events are
filtered, and the SSE frames are encoded once per window, not once per stream.

Without this, a storm of N reconnects is N reads on the process's one
database thread (about 3 ms each), which caps reconnects near 300/s.
"""

import asyncio
import time
from dataclasses import dataclass

from asgiref.sync import sync_to_async

from realtime import history
from realtime.wire import SSE, Delivery

WINDOW_SECONDS = 2.0
MAX_WINDOWS = 256


@dataclass(frozen=True, slots=True)
class Window:
    """Every persisted event of a workspace in (after, upto], oldest first."""

    deliveries: tuple[Delivery, ...]
    sse_frames: tuple[bytes, ...]

    def frames_for(self, wants, wire: str = SSE) -> list[bytes]:
        if wire == SSE:
            return [frame for delivery, frame in zip(self.deliveries, self.sse_frames, strict=True)
                    if wants(delivery)]
        return [delivery.encoded(wire) for delivery in self.deliveries if wants(delivery)]


def _read(workspace_id: str, after: int, upto: int) -> Window | None:
    deliveries = history.window(workspace_id, after=after, upto=upto)
    if deliveries is None:
        return None
    return Window(deliveries=tuple(deliveries),
                  sse_frames=tuple(delivery.sse_frame() for delivery in deliveries))


class ReplayWindows:
    """Single-flight reads of replay windows, kept for `WINDOW_SECONDS`."""

    def __init__(self):
        self._reads: dict[tuple[str, int, int], tuple[float, asyncio.Task]] = {}

    async def get(self, workspace_id: str, *, after: int, upto: int) -> Window | None:
        """The window, or None when its first event (after + 1) is no longer retained."""
        key = (workspace_id, after, upto)
        now = time.monotonic()
        entry = self._reads.get(key)
        if entry is None or (entry[0] < now and entry[1].done()):
            self._prune(now)
            # A task, so that a first reader who disconnects does not cancel the
            # read that the others are waiting for.
            task = asyncio.get_running_loop().create_task(
                sync_to_async(_read)(workspace_id, after, upto))
            entry = self._reads[key] = (now + WINDOW_SECONDS, task)
            task.add_done_callback(lambda done, key=key: self._forget_failure(key, done))
        task = entry[1]
        if task.done():  # the stragglers of a storm: no future to wait on
            return task.result()
        return await asyncio.shield(task)

    def _forget_failure(self, key, task: asyncio.Task) -> None:
        # A failed read is not kept: the next stream to ask tries again.
        if not task.cancelled() and task.exception() is None:
            return
        entry = self._reads.get(key)
        if entry is not None and entry[1] is task:
            del self._reads[key]

    def _prune(self, now: float) -> None:
        if len(self._reads) < MAX_WINDOWS:
            return
        for key, (expires, task) in list(self._reads.items()):
            if expires < now and task.done():
                del self._reads[key]
        # Still full (a storm over many cursors): drop the oldest finished reads.
        for key, (_, task) in list(self._reads.items()):
            if len(self._reads) < MAX_WINDOWS:
                break
            if task.done():
                del self._reads[key]

    def __len__(self) -> int:
        return len(self._reads)
