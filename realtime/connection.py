"""One open stream: what it wants, what waits for it, and how far it has got.

The hub pushes frames; the stream's writer drains them. Pushing never blocks
and never allocates per event beyond the shared frame bytes: a slow client
only lengthens its own deque, up to the hard limit, where the stream is closed
and the client resumes from its cursor.

The limits are in events and in bytes, whichever is reached first: 5,000
events of 8 KB would pin 40 MB for one client that never reads. The bytes are
counted as frames come and go (len() of a bytes object is a field read), never
measured again.
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
# As Centrifugo's client queue (client_queue_max_size); the soft bound warns at a quarter.
DEFAULT_HARD_BYTES = 1024 * 1024
DEFAULT_SOFT_BYTES = DEFAULT_HARD_BYTES // 4


@dataclass(frozen=True)
class StreamFilters:
    event_types: frozenset[str] | None = None
    call_id: str | None = None
    agent: str | None = None

    def passes(self, delivery: Delivery) -> bool:
        if self.event_types is not None and delivery.type not in self.event_types:
            return False
        if self.call_id is not None and delivery.call_id != self.call_id:
            return False
        return self.agent is None or delivery.agent == self.agent


@dataclass(eq=False)
class Connection:
    workspace_id: str
    subject_id: str
    stream: str  # "workspace" or "call"
    soft_limit: int
    hard_limit: int
    soft_bytes: int = DEFAULT_SOFT_BYTES  # bytes waiting before lag-warning
    hard_bytes: int = DEFAULT_HARD_BYTES  # bytes waiting past which the stream is closed
    filters: StreamFilters = field(default_factory=StreamFilters)
    follow_call_id: str | None = None  # the call of a per-call stream
    # SSE frames joined into chunks, or one JSON envelope per message (WebSocket).
    wire: str = SSE
    client_id: str = field(default_factory=lambda: secrets.token_hex(16))  # 128 random bits

    def __post_init__(self):
        self.cursor = 0  # highest seq pushed (or replayed): older or equal ones are duplicates
        self.subscribed_calls: set[str] = set()
        self._frames: deque[bytes] = deque()
        self._frames_bytes = 0  # sum of len() of what is in _frames
        self._waiter: asyncio.Future | None = None
        self._lag_warned = False
        self.closing: str | None = None  # why the writer must finish: overflow, shutdown, call-ended
        self.last_write = time.monotonic()
        self.ends_at = float("inf")  # its maximum lifetime, on the monotonic clock (set at attach)
        # While the stream replays history, live events wait here, unfiltered by
        # cursor: the replay decides the cursor they are then compared with.
        self._holding = False
        self._held: list[tuple[Delivery, bytes]] = []
        self._held_bytes = 0

    # --- what the connection wants -------------------------------------------------

    def wants(self, delivery: Delivery) -> bool:
        if self.stream == "call":
            return delivery.call_id == self.follow_call_id
        if delivery.audience == Audience.CALL and delivery.call_id not in self.subscribed_calls:
            return False
        return self.passes_filters(delivery)

    def passes_filters(self, delivery: Delivery) -> bool:
        return self.filters.passes(delivery)

    # --- the hub's side ---------------------------------------------------------------

    def hold(self) -> None:
        self._holding = True

    @property
    def holding(self) -> bool:
        """Attached and still replaying: live events wait for `release`."""
        return self._holding

    def release(self, cursor: int) -> None:
        """Replay is done up to `cursor`: live events go out from here, once each."""
        self.cursor = max(self.cursor, cursor)
        self._holding = False
        held, self._held = self._held, []
        self._held_bytes = 0
        for delivery, frame in held:
            self.push(delivery, frame)

    def push(self, delivery: Delivery, frame: bytes) -> None:
        if self.closing:
            return
        if self._holding:
            held = self._held
            if len(held) >= self.hard_limit or (held and self._held_bytes + len(frame) > self.hard_bytes):
                held.clear()
                self._held_bytes = 0
                self.closing = "overflow"
                metrics.overflow_closes.inc()
                self._wake()
                return
            held.append((delivery, frame))
            self._held_bytes += len(frame)
            return
        if delivery.seq is not None:
            if delivery.seq <= self.cursor:
                return
            self.cursor = delivery.seq
        self._frames.append(frame)
        self._frames_bytes += len(frame)
        self._check_backlog()
        if self.stream == "call" and delivery.type == CALL_ENDED:
            # A call's own stream ends with its call (docs/reference/events.md#stream-closed).
            self.push_control("stream-closed", {"reason": "call-ended"}, closing="call-ended")
        self._wake()

    def push_control(self, type: str, data: dict, *, closing: str | None = None) -> None:
        """A control frame; with `closing`, the writer ends the stream after it."""
        if self.closing:
            return
        frame = control_frame(type, data, workspace_id=self.workspace_id, call_id=self.follow_call_id,
                              wire=self.wire)
        self._frames.append(frame)
        self._frames_bytes += len(frame)
        if closing:
            self.closing = closing
        self._wake()

    def close(self, reason: str) -> None:
        """Ends the stream: the writer returns once it wakes."""
        if not self.closing:
            self.closing = reason
            self._clear_frames()
        self._wake()

    def end(self, frame: bytes, *, closing: str) -> None:
        """Ends the stream now with `frame` as its last message; what waited is dropped
        (access taken away: nothing more goes to this client)."""
        if self.closing:
            return
        self._frames.clear()
        self._held.clear()
        self._frames.append(frame)
        self.closing = closing
        self._wake()

    def push_keepalive(self) -> None:
        self.push_control("keep-alive", {"server_time": timestamp_now()})

    def _check_backlog(self) -> None:
        pending, pending_bytes = len(self._frames), self._frames_bytes
        # One frame alone may be larger than the byte bound: it goes out (closing
        # would close every stream it reaches, and each resume would meet it again).
        if pending >= self.hard_limit or (pending_bytes > self.hard_bytes and pending > 1):
            # Dropping the backlog frees its memory now; the client resumes from the
            # last cursor it received and replays the rest from the database.
            self._clear_frames()
            self.closing = "overflow"
            metrics.overflow_closes.inc()
        elif (pending >= self.soft_limit or pending_bytes >= self.soft_bytes) and not self._lag_warned:
            self._lag_warned = True
            metrics.lag_warnings.inc()
            # First in line, so a client that reads at all learns it is behind now;
            # it has no cursor, so moving it ahead of events changes no resume.
            warning = control_frame(
                "lag-warning", {"pending": pending, "limit": self.hard_limit,
                                "pending_bytes": pending_bytes, "limit_bytes": self.hard_bytes},
                workspace_id=self.workspace_id, call_id=self.follow_call_id, wire=self.wire,
            )
            self._frames.appendleft(warning)
            self._frames_bytes += len(warning)

    def _clear_frames(self) -> None:
        self._frames.clear()
        self._frames_bytes = 0

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
        self._clear_frames()
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
