"""The process's shared Redis client (one connection pool per URL)."""

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=4)
def _client_for(url: str, timeout: float) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
    )


def get_redis() -> redis.Redis:
    return _client_for(settings.REDIS_URL, settings.REDIS_SOCKET_TIMEOUT_SECONDS)
