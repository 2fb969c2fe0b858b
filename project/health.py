"""Liveness and readiness probes for load balancers and orchestrators."""

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse

from project.redis_client import get_redis

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answering; says nothing of its dependencies."""
    return JsonResponse({"status": "ok"})


# A probe that hangs is worse than one that fails: an orchestrator gives up on it
# after a second or so and learns nothing.
READINESS_TIMEOUT_SECONDS = 2.0


def _check_database() -> None:
    pool = getattr(connection, "pool", None)
    if pool is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return
    # Straight from the pool, which checks the connection it hands out, with a
    # short wait: through Django a request waits DATABASE_POOL_TIMEOUT_SECONDS
    # (10 s) for a connection while the database is down.
    pool.open()
    with pool.connection(timeout=READINESS_TIMEOUT_SECONDS) as database:
        database.execute("SELECT 1")


def _check_redis() -> None:
    get_redis().ping()


_CHECKS = {"database": _check_database, "redis": _check_redis}


def readyz(request: HttpRequest) -> JsonResponse:
    """Ready only when the database and Redis both answer; 503 names what failed."""
    results, failed = {}, []
    for name, check in _CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure of a dependency means "not ready"
            logger.warning("readiness check %s failed: %s", name, exc)
            results[name] = f"unavailable: {type(exc).__name__}"
            failed.append(name)
    status = "ok" if not failed else "unavailable"
    return JsonResponse({"status": status, "checks": results, "failed": failed},
                        status=200 if not failed else 503)
