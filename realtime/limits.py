"""Stream admission across every process: caps per workspace and per principal,
and the registry of open connections that subscribe/unsubscribe consult.

Each open connection is a member of two Redis sorted sets (its workspace's and
its principal's) scored by an expiry that its process refreshes; a process
that dies stops refreshing, and its connections age out instead of counting
forever.
"""

import asyncio
import json
import logging
import time

from django.conf import settings

from realtime.channels import client_key, connections_key
from realtime.connection import Connection

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 10.0
EXPIRY_SECONDS = 3 * REFRESH_SECONDS

# Admits a batch of connections in one round trip. KEYS: for each connection its
# workspace set, principal set and client key. ARGV: now, expiry, workspace cap,
# principal cap, ttl, then for each connection its client id and client record.
# Returns one verdict per connection, in order.
_ADMIT_BATCH = """
local now, expiry = ARGV[1], ARGV[2]
local workspace_cap, principal_cap, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local swept, verdicts = {}, {}
for i = 1, #KEYS / 3 do
  local workspace_set, principal_set, client = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  for _, set in ipairs({workspace_set, principal_set}) do
    if not swept[set] then
      redis.call('ZREMRANGEBYSCORE', set, '-inf', now)
      swept[set] = true
    end
  end
  if redis.call('ZCARD', workspace_set) >= workspace_cap then
    verdicts[i] = 1
  elseif redis.call('ZCARD', principal_set) >= principal_cap then
    verdicts[i] = 2
  else
    local client_id = ARGV[4 + 2 * i]
    redis.call('ZADD', workspace_set, expiry, client_id)
    redis.call('ZADD', principal_set, expiry, client_id)
    redis.call('EXPIRE', workspace_set, ttl)
    redis.call('EXPIRE', principal_set, ttl)
    redis.call('SET', client, ARGV[5 + 2 * i], 'EX', ttl)
    verdicts[i] = 0
  end
end
return verdicts
"""

ADMITTED, WORKSPACE_FULL, PRINCIPAL_FULL = 0, 1, 2
# Connections per round trip: bounds the script's time inside Redis (about 10 µs each).
BATCH_SIZE = 250


def _keys(connection: Connection) -> list[str]:
    return [
        connections_key("ws", connection.workspace_id),
        connections_key("principal", connection.subject_id),
        client_key(connection.client_id),
    ]


def client_record(connection: Connection) -> str:
    return json.dumps({"workspace_id": connection.workspace_id, "subject_id": connection.subject_id,
                       "stream": connection.stream})


async def admit_many(redis, connections: list[Connection]) -> list[int]:
    """One verdict per connection; a connection admitted is counted until released
    or, if its process dies, until its registration expires."""
    now = time.time()
    keys: list[str] = []
    members: list[str] = []
    for connection in connections:
        keys.extend(_keys(connection))
        members.extend((connection.client_id, client_record(connection)))
    verdicts = await redis.eval(
        _ADMIT_BATCH, len(keys), *keys, now, now + EXPIRY_SECONDS,
        settings.REALTIME_MAX_STREAMS_PER_WORKSPACE, settings.REALTIME_MAX_STREAMS_PER_PRINCIPAL,
        int(EXPIRY_SECONDS), *members,
    )
    return [int(verdict) for verdict in verdicts]


async def release_many(redis, connections: list[Connection]) -> None:
    """Frees the slots of ended connections: one ZREM per set, one DEL in all."""
    by_set: dict[str, list[str]] = {}
    clients: list[str] = []
    for connection in connections:
        workspace_set, principal_set, client = _keys(connection)
        by_set.setdefault(workspace_set, []).append(connection.client_id)
        by_set.setdefault(principal_set, []).append(connection.client_id)
        clients.append(client)
    pipeline = redis.pipeline(transaction=False)
    for key, ids in by_set.items():
        pipeline.zrem(key, *ids)
    pipeline.delete(*clients)
    await pipeline.execute()


class Gate:
    """Admissions and releases of one process, batched by group commit.

    Each Redis round trip costs the loop about 150 µs of redis-py. In a
    reconnect storm the connects arrive one per turn of the event loop (17,697
    script calls for 20,000 connects when a batch was one loop turn), so a
    batch is whatever asked while the previous one was out: at most one
    admission call and one release call in flight, none waiting when the
    process is quiet, and batches that grow with the load."""

    def __init__(self, redis, spawn):
        self.redis = redis
        self._spawn = spawn
        self._admissions = _GroupCommit(self._admit_batch, spawn)
        self._releases = _GroupCommit(self._release_batch, spawn)

    async def admit(self, connection: Connection) -> int:
        future = asyncio.get_running_loop().create_future()
        self._admissions.add((connection, future))
        return await future

    def release(self, connection: Connection) -> None:
        self._releases.add(connection)

    async def _admit_batch(self, batch: list[tuple[Connection, asyncio.Future]]) -> None:
        try:
            verdicts = await admit_many(self.redis, [connection for connection, _ in batch])
        except Exception as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (connection, future), verdict in zip(batch, verdicts, strict=True):
            if not future.done():
                future.set_result(verdict)
            elif verdict == ADMITTED:  # the client left while it waited: free its slot now
                self.release(connection)

    async def _release_batch(self, batch: list[Connection]) -> None:
        try:
            await release_many(self.redis, batch)
        except Exception:  # the slots expire by themselves within EXPIRY_SECONDS
            logger.warning("releasing %d stream slots failed", len(batch), exc_info=True)


class _GroupCommit:
    """Items wait while a batch is in flight and leave together when it returns,
    in slices of BATCH_SIZE (bounding one script's time inside Redis)."""

    def __init__(self, commit, spawn):
        self._commit = commit
        self._spawn = spawn
        self._waiting: list = []
        self._scheduled = False
        self._in_flight = 0

    def add(self, item) -> None:
        self._waiting.append(item)
        if not self._scheduled and not self._in_flight:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        waiting, self._waiting = self._waiting, []
        for start in range(0, len(waiting), BATCH_SIZE):
            self._in_flight += 1
            self._spawn(self._run(waiting[start:start + BATCH_SIZE]))

    async def _run(self, batch: list) -> None:
        try:
            await self._commit(batch)
        finally:
            self._in_flight -= 1
            if not self._in_flight and self._waiting and not self._scheduled:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._flush)


REFRESH_SLICE = 500


async def refresh(redis, connections: list[Connection]) -> None:
    """Extends the expiry of this process's connections: one ZADD per set with
    all its members, one EXPIRE per client record, in slices that yield to the
    event loop between them (a single pipeline for 10,000 streams stalled every
    stream for about two seconds)."""
    expiry = time.time() + EXPIRY_SECONDS
    ttl = int(EXPIRY_SECONDS)
    for start in range(0, len(connections), REFRESH_SLICE):
        members: dict[str, dict[str, float]] = {}
        pipeline = redis.pipeline(transaction=False)
        for connection in connections[start:start + REFRESH_SLICE]:
            workspace_set, principal_set, client = _keys(connection)
            members.setdefault(workspace_set, {})[connection.client_id] = expiry
            members.setdefault(principal_set, {})[connection.client_id] = expiry
            pipeline.expire(client, ttl)
        for key, scores in members.items():
            pipeline.zadd(key, scores)
            pipeline.expire(key, ttl)
        await pipeline.execute()
        await asyncio.sleep(0)
