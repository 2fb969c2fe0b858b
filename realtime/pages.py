"""Replay from shared pages of the event log.

After a deploy, a network blip or an overflow close, many streams of one
workspace replay overlapping stretches of its history at once. Read per
stream, that is one query per stream per 500 events on the process's one
database thread: 100 streams catching up 6,000 events each took 38 s.

Here the log is cut into aligned pages of `REALTIME_REPLAY_BATCH` cursors
(page k holds the cursors k*size+1 .. (k+1)*size). A page is read once,
whoever asks first (the others wait for that read), and kept in a
byte-bounded LRU for `PAGE_SECONDS`; every stream takes from it what its own
`Connection.wants` accepts, exactly as live events are filtered, and the SSE
frames are encoded once per page. Events never change, so a page below the
workspace's committed position is the same for every reader; the top page,
which the position cuts short, is keyed by where it stops.
"""

import asyncio
import time
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass

from asgiref.sync import sync_to_async

from realtime import history
from realtime.wire import SSE, Delivery

# Pages are kept this long at most: a trimmed page must not outlive its rows for long.
PAGE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Page:
    """The persisted events of one page, oldest first (cut short at the top page)."""

    deliveries: tuple[Delivery, ...]
    sse_frames: tuple[bytes, ...]
    size_bytes: int
    seqs: tuple[int, ...]  # the cursors of `deliveries`, for bisecting

    def holds(self, seq: int) -> bool:
        """Whether the event with this cursor is in the page (cursors have no holes,
        so a missing one was trimmed)."""
        return bool(self.deliveries) and self.deliveries[0].seq <= seq <= self.deliveries[-1].seq

    def frames_for(self, wants, *, after: int, upto: int, wire: str = SSE) -> list[bytes]:
        # Only the stretch (after, upto]: a client that missed ten events of a full
        # page looks at ten, not at the page's 500.
        first, stop = bisect_right(self.seqs, after), bisect_right(self.seqs, upto)
        deliveries, frames = self.deliveries, self.sse_frames
        if wire == SSE:
            return [frames[i] for i in range(first, stop) if wants(deliveries[i])]
        return [deliveries[i].encoded(wire) for i in range(first, stop) if wants(deliveries[i])]


def _read(workspace_id: str, after: int, upto: int) -> Page:
    deliveries = tuple(history.window(workspace_id, after=after, upto=upto))
    frames = tuple(delivery.sse_frame() for delivery in deliveries)
    return Page(deliveries=deliveries, sse_frames=frames, size_bytes=sum(map(len, frames)) * 2,
                seqs=tuple(delivery.seq for delivery in deliveries))


class ReplayPages:
    """Single-flight reads of pages, kept in an LRU of at most `max_bytes`."""

    def __init__(self, *, page_size: int, max_bytes: int):
        self.page_size = page_size
        self.max_bytes = max_bytes
        self._pages: OrderedDict[tuple[str, int, int], tuple[float, Page]] = OrderedDict()
        self._reading: dict[tuple[str, int, int], asyncio.Task] = {}
        self._bytes = 0

    def indexes(self, *, after: int, upto: int) -> range:
        """The pages that hold the cursors after+1 .. upto."""
        return range(after // self.page_size, (upto - 1) // self.page_size + 1)

    async def get(self, workspace_id: str, index: int, *, upto: int) -> Page:
        """Page `index` of the workspace, cut at `upto` (every cursor up to it is committed)."""
        start = index * self.page_size
        key = (workspace_id, index, min(start + self.page_size, upto))
        cached = self._pages.get(key)
        if cached is not None and cached[0] > time.monotonic():
            self._pages.move_to_end(key)
            return cached[1]
        task = self._reading.get(key)
        if task is None:
            # A task, so that a first reader who disconnects does not cancel the read
            # that the others wait for.
            task = asyncio.get_running_loop().create_task(sync_to_async(_read)(workspace_id, start, key[2]))
            self._reading[key] = task
            task.add_done_callback(lambda done, key=key: self._finish(key, done))
        return await asyncio.shield(task)

    def _finish(self, key, task: asyncio.Task) -> None:
        self._reading.pop(key, None)
        if task.cancelled() or task.exception() is not None:
            return  # not kept: the next reader tries again
        page = task.result()
        old = self._pages.pop(key, None)
        if old is not None:
            self._bytes -= old[1].size_bytes
        self._pages[key] = (time.monotonic() + PAGE_SECONDS, page)
        self._bytes += page.size_bytes
        while self._bytes > self.max_bytes and self._pages:
            _, (_, evicted) = self._pages.popitem(last=False)
            self._bytes -= evicted.size_bytes

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._pages)
