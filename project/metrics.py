"""Prometheus metrics. With PROMETHEUS_MULTIPROC_DIR set (make run sets it),
every process writes its samples there and /metrics adds them up, so the
numbers are right however many daphne and Celery processes run."""

import functools
import hmac
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from project.errors import error_response

http_requests = Counter(
    "callboard_http_requests_total",
    "HTTP requests answered, by method, URL pattern and status.",
    ["method", "route", "status"],
)
http_request_duration = Histogram(
    "callboard_http_request_duration_seconds",
    "Time to the first byte of the response, by method and URL pattern.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


# A loop over many workspaces' rows (the charge run, the sweeper) skips a row it
# cannot handle, logs its id and counts it here, so one bad row stops nobody else.
background_failures = Counter(
    "callboard_background_failures_total",
    "Rows a background loop skipped after an error (each logged with its id), by loop.",
    ["loop"],
)


@functools.lru_cache(maxsize=4096)
def _request_series(method: str, route: str, status: int):
    # prometheus_client's labels() validates and locks on every call: 7 % of a
    # reconnect storm's CPU. The label sets are few (routes are URL patterns).
    return http_requests.labels(method, route, str(status)), http_request_duration.labels(method, route)


def observe_http_request(method: str, route: str, status: int, seconds: float) -> None:
    requests, duration = _request_series(method, route, status)
    requests.inc()
    duration.observe(seconds)


def _registry():
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text for the bearer of METRICS_TOKEN. Without a token the metrics
    (routes, volumes, error rates) are open only in development (DEBUG): a
    deployment that forgot the token says so instead of publishing them."""
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), token.encode()):
            return error_response(401, "not_authenticated", "A valid metrics token is required.")
    elif not settings.DEBUG:
        return error_response(
            403, "metrics_token_required",
            "Metrics are served only to the bearer of METRICS_TOKEN, and it is not set: "
            "set it and scrape with `Authorization: Bearer <token>`.",
        )
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
