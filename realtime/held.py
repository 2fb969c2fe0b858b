"""Streams held by Pushpin (REALTIME_FRONT=pushpin): the answers Django gives it.

Two requests reach Django for a held stream: the client's opening GET, and
Pushpin's next-link GETs (at a gap in a channel's ids, every
GRIP_REFRESH_SECONDS, and for each page of a long replay). Each answer is a
body (what today's stream would send first: `connected`, a reset, a replay)
and GRIP headers saying what to do next: hold the view's channel from the
cursor the body ends at, or, while a replay goes on, fetch the next page. No
state stays in the process: the next link's signed token carries the stream.
"""

import time
from dataclasses import dataclass, replace

from asgiref.sync import sync_to_async
from django.conf import settings

from realtime import history
from realtime.access import lifetime_end
from realtime.channels import grip_published_key, grip_recoveries_key, grip_views_key
from realtime.connection import Connection, StreamFilters
from realtime.grip import Link, View, hold_headers, last_id, paging_headers, read_link
from realtime.hub import get_hub
from realtime.limits import EXPIRY_SECONDS, refresh
from realtime.streams import (
    STREAM_HEADERS,
    active_calls_history,
    admit,
    new_connection,
    parse_cursor,
    preamble,
    reset_frame,
)
from realtime.wire import control_frame, timestamp_now
from workspaces import grants

# One answer's replay stops after this many pages of REALTIME_REPLAY_BATCH cursors,
# or at the first page boundary past this many bytes; the rest comes in the next
# answer, which Pushpin asks for when the client has room for more.
PAGES_PER_ANSWER = 8
PAGE_BYTES = 256 * 1024
# A held stream that recovers more gaps than this in a minute is ended, as a
# stream past its buffer's hard limit is: each recovery is a replay from the
# database, and a client that keeps falling behind would make them a storm.
MAX_RECOVERIES_PER_MINUTE = 30
NEVER = 2**63 - 1  # a published position above any cursor


@dataclass(frozen=True)
class Answer:
    body: bytes
    headers: list[tuple[str, str]]

    def response_headers(self) -> list[tuple[bytes, bytes]]:
        headers = [*STREAM_HEADERS.items(), ("Content-Length", str(len(self.body))), *self.headers]
        return [(name.lower().encode(), value.encode()) for name, value in headers]


@dataclass(frozen=True)
class Window:
    """A replay answer's frames, and the cursor they reach."""

    frames: list[bytes]
    upto: int
    wanted: int = 0  # events among the frames (a reset frame is not one)


async def open_held(principal, *, filters: StreamFilters, last_event_id: str | None,
                    include_history: bool) -> Answer:
    """The opening answer of a stream Pushpin will hold: the same admission, errors
    and first frames as an in-process stream (streams.open_stream), then a hold on
    the view's channel from the workspace's committed cursor."""
    cursor = parse_cursor(last_event_id)
    hub = get_hub()
    connection = new_connection(workspace_id=str(principal.workspace.pk), subject_id=principal.subject_id,
                                filters=filters)
    await admit(hub, connection)
    try:
        answer = await _opening(hub, connection, cursor, include_history)
    except BaseException:
        hub.gate.release(connection)
        raise
    if not answer.headers:  # ended at once: its slot is free again
        hub.gate.release(connection)
    return answer


async def _opening(hub, connection: Connection, cursor: int | None, include_history: bool) -> Answer:
    if hub.revocations.revoked_recently(connection) and await _lost(connection) is not None:
        # Authenticated just before a revocation's commit (realtime/access.py).
        return _ended(connection, "stream-closed", {"reason": "access-revoked"})
    view = View(connection.filters)
    link = Link(client_id=connection.client_id, workspace_id=connection.workspace_id,
                subject_id=connection.subject_id, view=view, ends_at=lifetime_end(time.time()))
    published = await _register(hub, connection, view, admitted=True)
    current = await sync_to_async(history.last_cursor)(connection.workspace_id)
    opening = [preamble(connection, resumed=cursor is not None)]
    if cursor is not None:
        return await _go_on(hub, connection, link, opening, cursor, current, published, recovering=False)
    target = _target(0, current, published)
    if include_history:
        opening += [frame async for frames in active_calls_history(connection, target) for frame in frames]
    return _answer(connection, link, opening, target, target)


async def follow_link(token: str | None, grip_last: str | None) -> Answer:
    """The answer to Pushpin's next-link request: the stream goes on from where
    Pushpin says it is (Grip-Last), or from where a replay page stopped, after
    checking again that the principal may read and the stream may live."""
    link = read_link(token)
    if link is None:
        # Not a link we made: end the stream; the client reconnects and authenticates.
        return Answer(control_frame("shutdown", {"reconnect": True, "retry_ms": settings.REALTIME_RETRY_MS},
                                    workspace_id=""), [])
    hub = get_hub()
    connection = new_connection(workspace_id=link.workspace_id, subject_id=link.subject_id,
                                filters=link.view.filters, client_id=link.client_id)
    if time.time() >= link.ends_at:
        return _ended(connection, "shutdown", {"reconnect": True, "retry_ms": settings.REALTIME_RETRY_MS})
    loss, current = await sync_to_async(_link_state)(link)
    if loss is not None:
        return _ended(connection, "stream-closed", {"reason": "access-revoked"})
    delivered = last_id(grip_last, link.view.channel(link.workspace_id))
    paging = delivered is None and link.after is not None
    after = link.after if paging else delivered
    if after is None:
        # Where the client is, nobody says (a hold always names its cursor, so this is
        # not Pushpin's request as we know it): ending loses nothing, the client
        # resumes from its own cursor.
        return _ended(connection, "shutdown", {"reconnect": True, "retry_ms": settings.REALTIME_RETRY_MS})
    published = await _register(hub, connection, link.view)
    if not paging and after < min(current, published) and await _too_many_recoveries(hub, connection):
        return Answer(b"", [])
    return await _go_on(hub, connection, link, [], after, current, published, recovering=not paging)


def _target(after: int, current: int, published: int) -> int:
    """Where the stream is held from: the last cursor Pushpin has taken, not the
    last committed one (the events between are on their way to Pushpin and will
    follow the chain; replayed and held past them, the stream would meet them
    as a gap), and never below what the client has."""
    return max(after, min(current, published))


async def _go_on(hub, connection: Connection, link: Link, frames: list[bytes], after: int, current: int,
                 published: int, *, recovering: bool) -> Answer:
    """The replay after `after`, then the hold; or a reset when that cursor is not
    one the stream can go on from."""
    if after > current:  # a cursor from nowhere (or another workspace)
        position = await sync_to_async(history.position)(connection.workspace_id)
        target = _target(0, current, published)
        return _answer(connection, link, [*frames, reset_frame(connection, "cursor-ahead", position)],
                       target, target)
    target = _target(after, current, published)
    window = await replay_window(hub, connection, after=after, upto=target)
    lag = []
    if recovering and window.wanted:
        # Pushpin had these events and the stream did not get them (a drop, or a
        # publish that overtook another): the client learns it was behind, then
        # gets them. Events still on their way to Pushpin are past `target`.
        lag = [_lag_warning(connection, window)]
    return _answer(connection, link, [*frames, *lag, *window.frames], window.upto, target)


def _answer(connection: Connection, link: Link, frames: list[bytes], upto: int, target: int) -> Answer:
    body = b"".join(frames)
    if upto < target:
        return Answer(body, paging_headers(replace(link, after=upto)))
    keepalive = control_frame("keep-alive", {"server_time": timestamp_now()},
                              workspace_id=connection.workspace_id)
    return Answer(body, hold_headers(replace(link, after=None), prev_id=target, keepalive_frame=keepalive))


async def replay_window(hub, connection: Connection, *, after: int, upto: int) -> Window:
    """The view's persisted events in (after, upto], cut after PAGES_PER_ANSWER pages
    or PAGE_BYTES; a stream-reset when the event after `after` is gone (the stream
    then goes on from `upto`, as an in-process stream does)."""
    if after >= upto:
        return Window([], upto)
    if upto - after <= settings.REALTIME_REPLAY_SHARED_EVENTS:
        return await _from_pages(hub, connection, after, upto)
    return await _own_read(connection, after, upto)


async def _from_pages(hub, connection: Connection, after: int, current: int) -> Window:
    pages, frames, size, upto = hub.pages, [], 0, after
    for index in pages.indexes(after=after, upto=current)[:PAGES_PER_ANSWER]:
        page = await pages.get(connection.workspace_id, index, upto=current)
        if upto == after and not page.holds(after + 1):
            return await _expired(connection, current)
        wanted = page.frames_for(connection.wants, after=after, upto=current)
        frames += wanted
        size += sum(map(len, wanted))
        upto = min((index + 1) * pages.page_size, current)
        if size >= PAGE_BYTES:
            break
    return Window(frames, upto, len(frames))


async def _own_read(connection: Connection, after: int, current: int) -> Window:
    """A gap longer than the shared pages cover: read for this view alone, filtered
    in the database."""
    if not await sync_to_async(history.is_retained)(connection.workspace_id, after + 1):
        return await _expired(connection, current)
    frames, size, upto, reads = [], 0, after, 0
    while upto < current and size < PAGE_BYTES and reads < PAGES_PER_ANSWER:
        reads += 1
        batch = await sync_to_async(history.replay)(
            connection.workspace_id, after=upto, upto=current, limit=settings.REALTIME_REPLAY_BATCH,
            event_types=connection.filters.event_types,
        )
        wanted = [delivery.sse_frame() for delivery in batch if connection.wants(delivery)]
        frames += wanted
        size += sum(map(len, wanted))
        upto = batch[-1].seq if len(batch) == settings.REALTIME_REPLAY_BATCH else current
    return Window(frames, upto, len(frames))


async def _expired(connection: Connection, current: int) -> Window:
    position = await sync_to_async(history.position)(connection.workspace_id)
    return Window([reset_frame(connection, "cursor-expired", position)], current)


def _lag_warning(connection: Connection, window: Window) -> bytes:
    return control_frame("lag-warning", {
        "pending": window.wanted, "limit": settings.REALTIME_BUFFER_HARD_LIMIT,
        "pending_bytes": sum(map(len, window.frames)), "limit_bytes": settings.REALTIME_BUFFER_HARD_BYTES,
    }, workspace_id=connection.workspace_id)


def _ended(connection: Connection, type: str, data: dict) -> Answer:
    """A last frame and no hold: Pushpin ends the stream after it."""
    return Answer(control_frame(type, data, workspace_id=connection.workspace_id), [])


def _link_state(link: Link) -> tuple[grants.Loss | None, int]:
    """The principal's access and the workspace's cursor, in one hop to the database thread."""
    loss = grants.lost({(link.workspace_id, link.subject_id)}).get((link.workspace_id, link.subject_id))
    return loss, history.last_cursor(link.workspace_id)


async def _lost(connection: Connection) -> grants.Loss | None:
    pair = (connection.workspace_id, connection.subject_id)
    return (await sync_to_async(grants.lost)({pair})).get(pair)


async def _register(hub, connection: Connection, view: View, *, admitted: bool = False) -> int:
    """The view goes (back) into the workspace's registry, so the relay publishes on
    its channel, and the stream's admission slot is kept: both for about three
    refresh periods, so a stream Pushpin no longer holds ages out. Returns how far
    Pushpin has got in the workspace (grip.publish records it)."""
    key = grip_views_key(connection.workspace_id)
    now = time.time()
    pipeline = hub.redis.pipeline(transaction=False)
    pipeline.zremrangebyscore(key, "-inf", now)
    pipeline.zadd(key, {view.spec: now + EXPIRY_SECONDS})
    pipeline.expire(key, int(EXPIRY_SECONDS))
    pipeline.get(grip_published_key(connection.workspace_id))
    published = (await pipeline.execute())[-1]
    if not admitted:  # admission has just set it
        await refresh(hub.redis, [connection])
    # Unknown (nothing published since the key expired): every committed event counts.
    return int(published) if published is not None else NEVER


async def _too_many_recoveries(hub, connection: Connection) -> bool:
    key = grip_recoveries_key(connection.client_id)
    pipeline = hub.redis.pipeline(transaction=False)
    pipeline.incr(key)
    pipeline.expire(key, 60, nx=True)
    count, _ = await pipeline.execute()
    return count > MAX_RECOVERIES_PER_MINUTE
