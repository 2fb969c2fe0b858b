"""Stream admission across every process: caps per workspace and per principal,
and the registry of open connections that subscribe/unsubscribe consult.

Each open connection is a member of two Redis sorted sets (its workspace's and
its principal's) scored by an expiry that its process refreshes; a process
that dies stops refreshing, and its connections age out instead of counting
forever.
"""

import asyncio
import json
import time

from django.conf import settings

from realtime.channels import client_key, connections_key
from realtime.connection import Connection

REFRESH_SECONDS = 10.0
EXPIRY_SECONDS = 3 * REFRESH_SECONDS

# KEYS: workspace set, principal set, client key.
# ARGV: now, expiry, client id, workspace cap, principal cap, ttl, client record.
_ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return 2 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
redis.call('SET', KEYS[3], ARGV[7], 'EX', ARGV[6])
return 0
"""

ADMITTED, WORKSPACE_FULL, PRINCIPAL_FULL = 0, 1, 2


def _keys(connection: Connection) -> list[str]:
    return [
        connections_key("ws", connection.workspace_id),
        connections_key("principal", connection.subject_id),
        client_key(connection.client_id),
    ]


def client_record(connection: Connection) -> str:
    return json.dumps({"workspace_id": connection.workspace_id, "subject_id": connection.subject_id,
                       "stream": connection.stream})


async def admit(redis, connection: Connection) -> int:
    now = time.time()
    return int(await redis.eval(
        _ADMIT, 3, *_keys(connection), now, now + EXPIRY_SECONDS, connection.client_id,
        settings.REALTIME_MAX_STREAMS_PER_WORKSPACE, settings.REALTIME_MAX_STREAMS_PER_PRINCIPAL,
        int(EXPIRY_SECONDS), client_record(connection),
    ))


async def release(redis, connection: Connection) -> None:
    workspace_set, principal_set, client = _keys(connection)
    pipeline = redis.pipeline(transaction=False)
    pipeline.zrem(workspace_set, connection.client_id)
    pipeline.zrem(principal_set, connection.client_id)
    pipeline.delete(client)
    await pipeline.execute()


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
