"""One open stream: what it wants, what waits for it, and how far it has got.

The hub pushes frames; the stream's writer drains them. Pushing never blocks
and never allocates per event beyond the shared frame bytes: a slow client
only lengthens its own deque, up to the hard limit, where the stream is closed
and the client resumes from its cursor.
"""

import asyncio
import secrets
import time
from collections import deque
from dataclasses import dataclass, field

from realtime import metrics
from realtime.catalogue import Audience
from realtime.wire import SSE, Delivery, control_frame, timestamp_now

CALL_ENDED = "call-ended"


@dataclass(frozen=True)
class StreamFilters:
    event_types: frozenset[str] | None = None
    call_id: str | None = None
    agent: str | None = None


@dataclass(eq=False)
class Connection:
    workspace_id: str
    subject_id: str
    stream: str  # "workspace" or "call"
    soft_limit: int
    hard_limit: int
    filters: StreamFilters = field(default_factory=StreamFilters)
    follow_call_id: str | None = None  # the call of a per-call stream
    # SSE frames joined into chunks, or one JSON envelope per message (WebSocket).
    wire: str = SSE
    client_id: str = field(default_factory=lambda: secrets.token_hex(16))  # 128 random bits

    def __post_init__(self):
        self.cursor = 0  # highest seq pushed (or replayed): older or equal ones are duplicates
        self.subscribed_calls: set[str] = set()
        self._frames: deque[bytes] = deque()
        self._waiter: asyncio.Future | None = None
        self._lag_warned = False
        self.closing: str | None = None  # why the writer must finish: overflow, shutdown, call-ended
        self.last_write = time.monotonic()
        # While the stream replays history, live events wait here, unfiltered by
        # cursor: the replay decides the cursor they are then compared with.
        self._holding = False
        self._held: list[tuple[Delivery, bytes]] = []

    # --- what the connection wants -------------------------------------------------

    def wants(self, delivery: Delivery) -> bool:
        if self.stream == "call":
            return delivery.call_id == self.follow_call_id
        if delivery.audience == Audience.CALL and delivery.call_id not in self.subscribed_calls:
            return False
        return self.passes_filters(delivery)

    def passes_filters(self, delivery: Delivery) -> bool:
        filters = self.filters
        if filters.event_types is not None and delivery.type not in filters.event_types:
            return False
        if filters.call_id is not None and delivery.call_id != filters.call_id:
            return False
        return filters.agent is None or delivery.agent == filters.agent

    # --- the hub's side ---------------------------------------------------------------

    def hold(self) -> None:
        self._holding = True

    def release(self, cursor: int) -> None:
        """Replay is done up to `cursor`: live events go out from here, once each."""
        self.cursor = max(self.cursor, cursor)
        self._holding = False
        held, self._held = self._held, []
        for delivery, frame in held:
            self.push(delivery, frame)

    def push(self, delivery: Delivery, frame: bytes) -> None:
        if self.closing:
            return
        if self._holding:
            if len(self._held) >= self.hard_limit:
                self._held.clear()
                self.closing = "overflow"
                metrics.overflow_closes.inc()
                self._wake()
                return
            self._held.append((delivery, frame))
            return
        if delivery.seq is not None:
            if delivery.seq <= self.cursor:
                return
            self.cursor = delivery.seq
        self._frames.append(frame)
        self._check_backlog()
        if self.stream == "call" and delivery.type == CALL_ENDED:
            # A call's own stream ends with its call (docs/reference/events.md#stream-closed).
            self.push_control("stream-closed", {"reason": "call-ended"}, closing="call-ended")
        self._wake()

    def push_control(self, type: str, data: dict, *, closing: str | None = None) -> None:
        """A control frame; with `closing`, the writer ends the stream after it."""
        if self.closing:
            return
        self._frames.append(
            control_frame(type, data, workspace_id=self.workspace_id, call_id=self.follow_call_id,
                          wire=self.wire)
        )
        if closing:
            self.closing = closing
        self._wake()

    def close(self, reason: str) -> None:
        """Ends the stream: the writer returns once it wakes."""
        if not self.closing:
            self.closing = reason
            self._frames.clear()
        self._wake()

    def push_keepalive(self) -> None:
        self.push_control("keep-alive", {"server_time": timestamp_now()})

    def _check_backlog(self) -> None:
        pending = len(self._frames)
        if pending >= self.hard_limit:
            # Dropping the backlog frees its memory now; the client resumes from the
            # last cursor it received and replays the rest from the database.
            self._frames.clear()
            self.closing = "overflow"
            metrics.overflow_closes.inc()
        elif pending >= self.soft_limit and not self._lag_warned:
            self._lag_warned = True
            metrics.lag_warnings.inc()
            # First in line, so a client that reads at all learns it is behind now;
            # it has no cursor, so moving it ahead of events changes no resume.
            self._frames.appendleft(control_frame(
                "lag-warning", {"pending": pending, "limit": self.hard_limit},
                workspace_id=self.workspace_id, call_id=self.follow_call_id, wire=self.wire,
            ))

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- the writer's side --------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._frames)

    def drain(self) -> bytes:
        """Everything waiting, as one chunk of SSE frames: under load a client gets
        many events per write instead of one write per event."""
        messages = self.drain_messages()
        return messages[0] if len(messages) == 1 else b"".join(messages)

    def drain_messages(self) -> list[bytes]:
        """Everything waiting, one item per event (for WebSocket messages)."""
        frames = self._frames
        if not frames:
            return []
        messages = list(frames)
        frames.clear()
        self._lag_warned = False
        self.last_write = time.monotonic()
        return messages

    async def wait(self) -> None:
        if self._frames or self.closing:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
