"""Rate limits that hold across processes: counters and token buckets in Redis.

Each check is one Lua script, so it is atomic under any number of processes,
and it reads the clock of Redis (TIME), so processes whose clocks disagree
share one idea of a window. Every key carries a TTL: an idle bucket or a
stale counter disappears by itself.

When Redis cannot be reached a limit lets the request through (fails open)
and logs it: the limits protect fairness and the database, not secrets (an
API key holds 256 random bits, so a guess is hopeless whatever the rate), and
an outage of the limiter should not take the API down with it. After a
failure the limits are skipped for BACKOFF_SECONDS, so a hung Redis costs a
process one socket timeout per back-off, not one per request.
"""

import logging
import math
import time

from redis.exceptions import RedisError

from project.redis_client import get_redis

logger = logging.getLogger(__name__)

PREFIX = "callboard:ratelimit:"
BACKOFF_SECONDS = 5.0

# KEYS[1]: the bucket. ARGV: rate (tokens a second), burst (the bucket's size).
# Returns 0 when a token was taken, else the milliseconds until one is there.
_BUCKET_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 't', 'v')
local last, tokens = tonumber(state[1]), tonumber(state[2])
if last == nil or tokens == nil then
  last, tokens = now, burst
end
tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 't', tostring(now), 'v', tostring(tokens))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait
"""

# KEYS[1]: the counter. ARGV[1]: the window in seconds. The window starts at
# the first failure; the count is the number of failures in it.
_COUNT_FAILURE = """
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return count
"""

# KEYS[1]: the counter. ARGV[1]: the limit. Returns the milliseconds until the
# window ends when the limit is reached, else 0.
_BLOCKED_FOR = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count < tonumber(ARGV[1]) then
  return 0
end
return math.max(redis.call('PTTL', KEYS[1]), 1)
"""

_skip_until = 0.0
_scripts: dict = {}


def retry_after_seconds(milliseconds: int) -> int:
    """Retry-After is whole seconds, at least 1."""
    return max(1, math.ceil(milliseconds / 1000))


def _run(script: str, key: str, *args) -> int:
    global _skip_until
    if time.monotonic() < _skip_until:
        return 0
    client = get_redis()
    try:
        # EVALSHA: the script's text crosses the wire once per process, not per call.
        if script not in _scripts:
            _scripts[script] = client.register_script(script)
        return int(_scripts[script](keys=[PREFIX + key], args=args, client=client))
    except RedisError:
        _skip_until = time.monotonic() + BACKOFF_SECONDS
        logger.warning("rate limits skipped for %.0f s: Redis failed", BACKOFF_SECONDS, exc_info=True)
        return 0


def take_token(key: str, *, rate: float, burst: int) -> int:
    """Takes one token from the bucket `key` (refilled at `rate` a second up to
    `burst`): 0 when taken, else the milliseconds until one will be there."""
    return _run(_BUCKET_SCRIPT, key, rate, burst)


def count_failure(key: str, *, window_seconds: int) -> int:
    """Counts one failure in the window that started with the first; returns the count."""
    return _run(_COUNT_FAILURE, key, window_seconds)


def blocked_for(key: str, *, limit: int) -> int:
    """The milliseconds until the window of `key` ends when it holds `limit`
    failures or more, else 0."""
    return _run(_BLOCKED_FOR, key, limit)
