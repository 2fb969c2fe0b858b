"""The process's fan-out: Redis pub/sub in, connections out.

One hub per ASGI process. It subscribes only to the channels of workspaces
that its own clients watch, so it decodes nothing else. For each workspace it
keeps the last cursor it delivered: a repeated publish (the sweeper's, say) is
dropped, and a cursor that arrives early (two publishers racing after commit)
makes it read the missing ones from the database first, so every connection
sees every persisted event once, in cursor order.
"""

import asyncio
import logging
import time

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings

from realtime import history, limits, metrics
from realtime.access import Revocations, lifetime_end
from realtime.channels import access_channel, workspace_channel
from realtime.connection import Connection
from realtime.pages import ReplayPages
from realtime.wire import Delivery, decode

logger = logging.getLogger(__name__)

TICK_SECONDS = 1.0
REDIS_POOL_SIZE = 50
REDIS_POOL_WAIT_SECONDS = 5.0


class ShuttingDown(Exception):
    pass


class Feed:
    """One workspace's events in this process."""

    def __init__(self, workspace_id: str, loop: asyncio.AbstractEventLoop):
        self.workspace_id = workspace_id
        self.channel = workspace_channel(workspace_id)
        self.connections: set[Connection] = set()
        self.last_seq = 0
        self.ready: asyncio.Future = loop.create_future()
        self.subscribed: asyncio.Future = loop.create_future()
        # Messages that arrive after SUBSCRIBE but before last_seq is known.
        self.early: list[Delivery | dict] = []


class Hub:
    def __init__(self):
        self.loop = asyncio.get_running_loop()
        # A blocking pool: past its size a command waits for a connection instead
        # of failing (redis-py's default pool raises at 100, which a reconnect
        # storm reaches at once).
        self.redis = aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL, max_connections=REDIS_POOL_SIZE, timeout=REDIS_POOL_WAIT_SECONDS,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT_SECONDS,
        ))
        self._pubsub = self.redis.pubsub()
        self._feeds: dict[str, Feed] = {}
        self._by_channel: dict[bytes, Feed] = {}
        self.clients: dict[str, Connection] = {}
        self.pages = ReplayPages(page_size=settings.REALTIME_REPLAY_BATCH,
                                 max_bytes=settings.REALTIME_REPLAY_CACHE_MB * 1024 * 1024)
        self.gate = limits.Gate(self.redis, self.spawn)
        self.revocations = Revocations()
        self._access_channel = access_channel().encode()
        self._has_channels = asyncio.Event()
        self._tasks = [self._supervised(self._read_forever), self._supervised(self._tick_forever)]
        self.shutting_down = False
        self._last_refresh = self._last_access_check = time.monotonic()
        self._checking_access = False
        self._background: set[asyncio.Task] = set()
        self.spawn(self._listen_for_revocations())

    def _supervised(self, loop_function) -> asyncio.Task:
        """Runs one of the hub's endless loops, restarting it if it ever dies."""

        async def run_forever():
            while True:
                try:
                    await loop_function()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("hub loop %s died; restarting it", loop_function.__name__)
                    await asyncio.sleep(1)

        return self.loop.create_task(run_forever())

    def spawn(self, coroutine) -> None:
        """Runs a coroutine in the background, keeping it referenced until it ends."""
        task = self.loop.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- connections --------------------------------------------------------------------

    async def attach(self, connection: Connection) -> int:
        """Registers the connection (holding live events until it has replayed) and
        returns the last cursor this process delivered in the workspace: every
        event up to it is committed (replay reads those), every later one will
        reach the connection live. No database read, so connects stay cheap."""
        if self.shutting_down:
            raise ShuttingDown()
        feed = self._feeds.get(connection.workspace_id)
        if feed is None:
            feed = self._feeds[connection.workspace_id] = Feed(connection.workspace_id, self.loop)
            self._by_channel[feed.channel.encode()] = feed
            self.spawn(self._open_feed(feed))
        if feed.ready.done():
            feed.ready.result()  # raises if the feed could not be opened
        else:
            await asyncio.shield(feed.ready)
        connection.hold()
        connection.ends_at = lifetime_end(time.monotonic())
        feed.connections.add(connection)
        self.clients[connection.client_id] = connection
        metrics.open_connections(connection.stream).inc()
        last_seq = feed.last_seq
        await self.revocations.check_on_attach(connection)
        return last_seq

    def detach(self, connection: Connection) -> None:
        feed = self._feeds.get(connection.workspace_id)
        if feed is not None and connection in feed.connections:
            feed.connections.discard(connection)
            metrics.open_connections(connection.stream).dec()
            if not feed.connections:
                self._close_feed(feed)
        self.clients.pop(connection.client_id, None)

    async def _listen_for_revocations(self) -> None:
        """Subscribes to the access channel for the hub's life (redis-py subscribes
        again after a reconnect), retrying while Redis is away."""
        backoff = 0.1
        while True:
            try:
                await self._pubsub.subscribe(access_channel())
                self._has_channels.set()
                return
            except Exception:
                logger.warning("could not listen for revocations; retrying", exc_info=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _open_feed(self, feed: Feed) -> None:
        try:
            await self._pubsub.subscribe(feed.channel)
            self._has_channels.set()
            await asyncio.wait_for(asyncio.shield(feed.subscribed), timeout=10)
            position = await sync_to_async(history.position)(feed.workspace_id)
            feed.last_seq = position.current
            early, feed.early = feed.early, []
            for item in early:
                await self._route(feed, item)
            feed.ready.set_result(None)
        except Exception as exc:
            logger.exception("could not open the feed of workspace %s", feed.workspace_id)
            self._feeds.pop(feed.workspace_id, None)
            self._by_channel.pop(feed.channel.encode(), None)
            if not feed.ready.done():
                feed.ready.set_exception(exc)

    def _close_feed(self, feed: Feed) -> None:
        self._feeds.pop(feed.workspace_id, None)
        self._by_channel.pop(feed.channel.encode(), None)
        self.spawn(self._unsubscribe(feed.channel))

    async def _unsubscribe(self, channel: str) -> None:
        try:
            if channel not in {f.channel for f in self._feeds.values()}:
                await self._pubsub.unsubscribe(channel)
        except Exception:  # the connection is gone; nothing to unsubscribe from
            logger.debug("unsubscribe from %s failed", channel, exc_info=True)

    # --- incoming -----------------------------------------------------------------------

    async def _read_forever(self) -> None:
        backoff = 0.1
        while True:
            if not self._pubsub.subscribed:
                self._has_channels.clear()
                await self._has_channels.wait()
                continue
            try:
                message = await self._pubsub.get_message(timeout=None)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("Redis pub/sub failed; reconnecting", exc_info=True)
                self.revocations.messages_may_be_lost()
                self._last_access_check = 0.0  # check every stream's principal at the next tick
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                await self._catch_up_all()
                continue
            if message is None:
                continue
            try:
                await self._handle(message)
            except Exception:
                # One bad message must not stop every stream of the process.
                metrics.unreadable_messages.inc()
                logger.exception("dropped a pub/sub message the hub could not handle")

    async def _handle(self, message: dict) -> None:
        if message.get("channel") == self._access_channel:
            if message["type"] == "message":
                self.revocations.apply(decode(message["data"]), list(self.clients.values()))
            return
        feed = self._by_channel.get(message.get("channel"))
        if feed is None:
            return
        if message["type"] == "subscribe":
            if not feed.subscribed.done():
                feed.subscribed.set_result(None)
            return
        if message["type"] != "message":
            return
        item = decode(message["data"])
        if not feed.ready.done():
            feed.early.append(item)
            return
        await self._route(feed, item)

    async def _route(self, feed: Feed, item: Delivery | dict) -> None:
        if isinstance(item, dict):
            self._apply_control(feed, item)
            return
        if item.seq is None:
            self._fan_out(feed, item)
            return
        if item.seq <= feed.last_seq:
            return
        if item.seq > feed.last_seq + 1:
            missing = await sync_to_async(history.gap)(feed.workspace_id, after=feed.last_seq,
                                                       before=item.seq)
            for delivery in missing:
                self._fan_out(feed, delivery)
        feed.last_seq = item.seq
        self._fan_out(feed, item)

    def _fan_out(self, feed: Feed, delivery: Delivery) -> None:
        encoded: dict[str, bytes] = {}  # each wire format encoded once per event
        delivered = 0
        for connection in feed.connections:
            if connection.wants(delivery):
                frame = encoded.get(connection.wire)
                if frame is None:
                    frame = encoded[connection.wire] = delivery.encoded(connection.wire)
                connection.push(delivery, frame)
                delivered += 1
        if delivered:
            metrics.events_delivered.inc(delivered)
            metrics.delivery_lag.observe(max(0.0, time.time() - delivery.ts))

    def _apply_control(self, feed: Feed, control: dict) -> None:
        connection = self.clients.get(control.get("client_id", ""))
        if connection is None or connection.workspace_id != feed.workspace_id:
            return
        if control.get("action") == "subscribe":
            connection.subscribed_calls.add(control["call_id"])
        elif control.get("action") == "unsubscribe":
            connection.subscribed_calls.discard(control["call_id"])

    async def _catch_up_all(self) -> None:
        """After a pub/sub outage: deliver from the database what was published meanwhile."""
        for feed in list(self._feeds.values()):
            if not feed.ready.done():
                continue
            try:
                position = await sync_to_async(history.position)(feed.workspace_id)
                if position.current > feed.last_seq:
                    missing = await sync_to_async(history.gap)(
                        feed.workspace_id, after=feed.last_seq, before=position.current + 1
                    )
                    for delivery in missing:
                        self._fan_out(feed, delivery)
                    feed.last_seq = position.current
            except Exception:
                logger.warning("catch-up of workspace %s failed", feed.workspace_id, exc_info=True)

    # --- time ---------------------------------------------------------------------------

    async def _tick_forever(self) -> None:
        keepalive = settings.REALTIME_KEEPALIVE_SECONDS
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = time.monotonic()
            for connection in list(self.clients.values()):
                if now >= connection.ends_at:
                    self._end_lifetime(connection)
                elif now - connection.last_write >= keepalive and not connection.pending:
                    connection.push_keepalive()
            if now - self._last_refresh >= limits.REFRESH_SECONDS:
                self._last_refresh = now
                try:
                    await limits.refresh(self.redis, list(self.clients.values()))
                except Exception:
                    logger.warning("refreshing stream registrations failed", exc_info=True)
            if now - self._last_access_check >= settings.REALTIME_ACCESS_CHECK_SECONDS:
                self._last_access_check = now
                if not self._checking_access:  # beside the ticker: keep-alives never wait for it
                    self._checking_access = True
                    self.spawn(self._check_access())

    def _end_lifetime(self, connection: Connection) -> None:
        """The stream reached REALTIME_MAX_STREAM_SECONDS: it ends as in a deploy, and
        the client resumes from its cursor."""
        connection.ends_at = float("inf")
        connection.push_control("shutdown", {"reconnect": True, "retry_ms": settings.REALTIME_RETRY_MS},
                                closing="shutdown")

    async def _check_access(self) -> None:
        """The database's word on every stream's principal: the bound on a revocation
        whose message was lost."""
        try:
            self.revocations.prune()
            if self.clients:
                await self.revocations.check(list(self.clients.values()))
        except Exception:
            logger.warning("checking the streams' access failed", exc_info=True)
        finally:
            self._checking_access = False

    # --- stopping -----------------------------------------------------------------------

    def begin_shutdown(self, retry_ms: int) -> None:
        """Every stream gets `shutdown` and then ends; new streams are refused."""
        self.shutting_down = True
        for connection in list(self.clients.values()):
            connection.push_control("shutdown", {"reconnect": True, "retry_ms": retry_ms},
                                    closing="shutdown")

    @property
    def open_streams(self) -> int:
        return len(self.clients)


_hub: Hub | None = None


def get_hub() -> Hub:
    """The hub of the running event loop (a new loop, as in tests, gets a new hub)."""
    global _hub
    loop = asyncio.get_running_loop()
    if _hub is None or _hub.loop is not loop:
        _hub = Hub()
    return _hub


def current_hub() -> Hub | None:
    return _hub
