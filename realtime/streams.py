"""Server-Sent Events responses (docs/reference/streams.md): the connected preamble, replay from a
cursor, live events, keep-alives, and the ways a stream ends."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import StreamingHttpResponse

from project.errors import BadRequest, ServiceUnavailable, TooManyRequests
from realtime import catalogue, history, limits
from realtime.connection import Connection, StreamFilters
from realtime.hub import ShuttingDown, get_hub
from realtime.wire import JSON, SSE, control_frame, timestamp_now

_MAX_CURSOR_DIGITS = 18
# A long replay goes out in writes of about this size, not all at once at the end.
OPENING_WRITE_BYTES = 64 * 1024
RETRY_AFTER_SECONDS = 5


def parse_cursor(text: str | None) -> int | None:
    """A resume cursor is the decimal `id:` of an event of this stream, nothing else."""
    if text is None or text == "":
        return None
    # isdigit() alone also holds for '²' (int() raises) and for other scripts'
    # digits ('١٢', int() reads 12): a cursor the server never sent.
    if not (text.isascii() and text.isdigit()) or len(text) > _MAX_CURSOR_DIGITS:
        raise BadRequest("Last-Event-ID must be the id of an event of this stream.",
                         code="invalid_cursor", details={"last_event_id": text[:64]})
    return int(text)


def parse_event_types(text: str | None) -> frozenset[str] | None:
    if not text:
        return None
    wanted = {name.strip() for name in text.split(",") if name.strip()}
    valid = catalogue.names()
    unknown = sorted(wanted - set(valid))
    if unknown:
        raise BadRequest(
            f"Unknown event type(s): {', '.join(unknown)}. Valid types: {', '.join(valid)}.",
            code="unknown_event_type", details={"unknown": unknown, "valid": valid},
        )
    return frozenset(wanted)


STREAM_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


@dataclass
class Stream:
    """An admitted stream: its connection and what to send, in order. On the SSE
    wire each item is a chunk of frames for one write; on the JSON wire (a
    WebSocket) each item is a list of messages, one envelope each."""

    connection: Connection
    frames: AsyncIterator[bytes] | AsyncIterator[list[bytes]]

    def pack(self, frames: list[bytes]) -> bytes | list[bytes]:
        """Frames made outside the stream's generator, shaped like its items."""
        return frames if self.connection.wire == JSON else b"".join(frames)

    def as_response(self) -> StreamingHttpResponse:
        response = StreamingHttpResponse(self.frames)
        for name, value in STREAM_HEADERS.items():
            response[name] = value
        return response


async def open_stream(*, principal, filters: StreamFilters, last_event_id: str | None,
                      stream: str = "workspace", follow_call_id: str | None = None,
                      wire: str = SSE, include_history: bool = False) -> Stream:
    """Admits a stream for `principal`; raises the API error to answer instead
    (400 bad cursor, 429 over a cap, 503 shutting down). `include_history`: a
    stream that starts without a cursor first gets the persisted events of the
    workspace's active calls (of its own call, for a call's stream)."""
    cursor = parse_cursor(last_event_id)
    hub = get_hub()
    connection = new_connection(workspace_id=str(principal.workspace.pk), subject_id=principal.subject_id,
                                stream=stream, filters=filters, follow_call_id=follow_call_id, wire=wire)
    await admit(hub, connection)
    history_first = include_history and cursor is None
    return Stream(connection=connection, frames=_frames(hub, connection, cursor, history_first))


def new_connection(*, workspace_id: str, subject_id: str, stream: str = "workspace",
                   filters: StreamFilters, follow_call_id: str | None = None, wire: str = SSE,
                   client_id: str | None = None) -> Connection:
    extra = {"client_id": client_id} if client_id is not None else {}
    return Connection(
        workspace_id=workspace_id, subject_id=subject_id, stream=stream,
        soft_limit=settings.REALTIME_BUFFER_SOFT_LIMIT, hard_limit=settings.REALTIME_BUFFER_HARD_LIMIT,
        soft_bytes=settings.REALTIME_BUFFER_SOFT_BYTES, hard_bytes=settings.REALTIME_BUFFER_HARD_BYTES,
        filters=filters, follow_call_id=follow_call_id, wire=wire, **extra,
    )


async def admit(hub, connection: Connection) -> None:
    """Takes the connection's slot under the caps; raises the API error to answer
    instead (503 shutting down, 429 over a cap)."""
    if hub.shutting_down:
        raise ServiceUnavailable("The server is restarting; reconnect shortly.", code="shutting_down",
                                 headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    verdict = await hub.gate.admit(connection)
    if verdict != limits.ADMITTED:
        scope = "workspace" if verdict == limits.WORKSPACE_FULL else "principal"
        raise TooManyRequests(
            f"Too many open streams for this {scope}; close one or retry later.",
            code="too_many_streams", details={"scope": scope},
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


def preamble(connection: Connection, *, resumed: bool) -> bytes:
    connected = {
        "client_id": connection.client_id, "stream": connection.stream, "resumed": resumed,
        "server_time": timestamp_now(),
        "keepalive_seconds": int(settings.REALTIME_KEEPALIVE_SECONDS),
    }
    frame = control_frame("connected", connected, workspace_id=connection.workspace_id,
                          call_id=connection.follow_call_id, wire=connection.wire)
    if connection.wire == JSON:
        return frame
    return (b"retry: %d\n\n" % settings.REALTIME_RETRY_MS) + frame


async def _frames(hub, connection: Connection, cursor: int | None, history_first: bool = False):
    # One generator for both wires: SSE items are joined chunks, JSON items lists.
    if connection.wire == JSON:
        pack, drain = list, connection.drain_messages
    else:
        pack, drain = b"".join, connection.drain
    attached = False
    try:
        try:
            current = await hub.attach(connection)
        except ShuttingDown:
            connection.closing = "shutdown"
            return
        attached = True
        # Only now: `connected` promises that every event committed after it arrives.
        # The opening bytes (connected, a short replay, what came live meanwhile)
        # leave in one write: a syscall each was a tenth of a reconnect storm.
        opening = [preamble(connection, resumed=cursor is not None)]
        opening_bytes = 0
        backlog = None
        if cursor is not None:
            backlog = _replay(hub, connection, cursor, current)
        elif history_first:
            backlog = active_calls_history(connection, current)
        if backlog is not None:
            async for frames in backlog:
                opening.extend(frames)
                opening_bytes += sum(map(len, frames))
                if opening_bytes >= OPENING_WRITE_BYTES:
                    yield pack(opening)
                    opening, opening_bytes = [], 0
        connection.release(current)
        opening.extend(connection.drain_messages())
        yield pack(opening)
        while True:
            chunk = drain()
            if chunk:
                yield chunk
            elif connection.closing:
                return
            else:
                await connection.wait()
    finally:
        if attached:
            hub.detach(connection)
        hub.gate.release(connection)  # batched; never blocks the closing stream


async def _replay(hub, connection: Connection, cursor: int, current: int):
    """Persisted events in (cursor, current], or a stream-reset when they are gone,
    as lists of frames. `current` is what this process has delivered live;
    later events come live.

    A client that reconnects already up to date (the common case after a
    deploy) costs no database read at all."""
    if cursor >= current:
        if cursor > current:
            # Ahead of this process: in flight to it, or a cursor from nowhere.
            position = await sync_to_async(history.position)(connection.workspace_id)
            if cursor > position.current:
                yield [reset_frame(connection, "cursor-ahead", position)]
                return
        # The client has everything up to its cursor: nothing below it may go out
        # again, even when this process is behind the one the client came from.
        connection.cursor = cursor
        return
    if current - cursor <= settings.REALTIME_REPLAY_SHARED_EVENTS:
        # The common case (a blip, a deploy, an overflow): pages shared by every
        # stream of the workspace that replays the same stretch.
        async for chunk in _replay_from_pages(hub, connection, cursor, current):
            yield chunk
        return
    if not await sync_to_async(history.is_retained)(connection.workspace_id, cursor + 1):
        position = await sync_to_async(history.position)(connection.workspace_id)
        yield [reset_frame(connection, "cursor-expired", position)]
        return
    connection.cursor = cursor
    after = cursor
    while after < current:
        batch = await sync_to_async(history.replay)(
            connection.workspace_id, after=after, upto=current, limit=settings.REALTIME_REPLAY_BATCH,
            follow_call_id=connection.follow_call_id,
            subscribed_calls=frozenset(connection.subscribed_calls),
            event_types=connection.filters.event_types,
        )
        wanted = [delivery.encoded(connection.wire) for delivery in batch if connection.wants(delivery)]
        if wanted:
            yield wanted
        if len(batch) < settings.REALTIME_REPLAY_BATCH:
            return
        after = batch[-1].seq


async def _replay_from_pages(hub, connection: Connection, cursor: int, current: int):
    pages = hub.pages
    first = True
    for index in pages.indexes(after=cursor, upto=current):
        page = await pages.get(connection.workspace_id, index, upto=current)
        if first:  # is the event right after the cursor still kept?
            if not page.holds(cursor + 1):
                position = await sync_to_async(history.position)(connection.workspace_id)
                yield [reset_frame(connection, "cursor-expired", position)]
                return
            connection.cursor = cursor
            first = False
        wanted = page.frames_for(connection.wants, after=cursor, upto=current, wire=connection.wire)
        if wanted:
            yield wanted


async def active_calls_history(connection: Connection, current: int):
    """The persisted events (any audience, the stream's filters applied) of the
    calls active now, up to `current`, oldest first: what a dashboard that
    opens mid-call has missed of them. Later events come live. A call's own
    stream gets its call's: what happened before the client could connect."""
    if connection.follow_call_id is not None:
        call_ids = [connection.follow_call_id]
    else:
        call_ids = await sync_to_async(history.active_call_ids)(connection.workspace_id)
    if connection.filters.call_id is not None:
        call_ids = [call_id for call_id in call_ids if call_id == connection.filters.call_id]
    after = 0
    while call_ids:
        batch = await sync_to_async(history.of_calls)(
            connection.workspace_id, call_ids, after=after, upto=current,
            limit=settings.REALTIME_REPLAY_BATCH, event_types=connection.filters.event_types,
        )
        wire, passes = connection.wire, connection.passes_filters
        wanted = [delivery.encoded(wire) for delivery in batch if passes(delivery)]
        if wanted:
            yield wanted
        if len(batch) < settings.REALTIME_REPLAY_BATCH:
            return
        after = batch[-1].seq


def reset_frame(connection: Connection, reason: str, position: history.Position) -> bytes:
    oldest = str(position.oldest) if position.oldest is not None else None
    return control_frame("stream-reset", {"reason": reason, "oldest_available": oldest},
                         workspace_id=connection.workspace_id, call_id=connection.follow_call_id,
                         wire=connection.wire)
