"""How often a client may fail a key, and how fast a principal may write.

- Failed bearer keys are counted per client address
  (`project.client_address`); at API_KEY_FAILURE_LIMIT failures in a window of
  API_KEY_FAILURE_WINDOW_SECONDS every further bearer attempt from that
  address is 429 `too_many_failed_attempts` until the window ends, before any
  key is looked up: a flood of junk keys costs one Redis read each, not a query.
- Writes (unsafe methods under /api/v1/) take a token from their principal's
  bucket: API_WRITE_RATE_PER_SECOND, bursts of API_WRITE_BURST. Runtime ingest
  keys have a bucket of their own (RUNTIME_INGEST_*), sized so a runtime
  reporting every call of a busy workspace never meets it.

The counters live in Redis (`project.ratelimit`), so they hold across processes.
"""

from django.conf import settings

from project.errors import TooManyRequests
from project.ratelimit import blocked_for, count_failure, retry_after_seconds, take_token


def _too_many(code: str, message: str, milliseconds: int) -> TooManyRequests:
    seconds = retry_after_seconds(milliseconds)
    return TooManyRequests(message, code=code, details={"retry_after": seconds},
                           headers={"Retry-After": str(seconds)})


def _failures_key(address: str) -> str:
    return f"bearer-failures:{address}"


def refuse_throttled_address(address: str) -> None:
    """Raises 429 when `address` has failed too many bearer keys lately."""
    if settings.API_KEY_FAILURE_LIMIT <= 0:
        return
    wait = blocked_for(_failures_key(address), limit=settings.API_KEY_FAILURE_LIMIT)
    if wait:
        raise _too_many("too_many_failed_attempts",
                        "Too many failed API key attempts from your address; retry later.", wait)


def note_failed_bearer(address: str) -> None:
    if settings.API_KEY_FAILURE_LIMIT > 0:
        count_failure(_failures_key(address), window_seconds=settings.API_KEY_FAILURE_WINDOW_SECONDS)


def take_write_token(subject_id: str, *, runtime: bool) -> None:
    """Raises 429 `rate_limited` when the principal `subject_id` has written
    faster than its bucket allows."""
    if runtime:
        bucket, rate, burst = ("runtime", settings.RUNTIME_INGEST_RATE_PER_SECOND,
                               settings.RUNTIME_INGEST_BURST)
    else:
        bucket, rate, burst = "writes", settings.API_WRITE_RATE_PER_SECOND, settings.API_WRITE_BURST
    if rate <= 0:
        return
    wait = take_token(f"{bucket}:{subject_id}", rate=rate, burst=burst)
    if wait:
        raise _too_many("rate_limited", "Too many requests; slow down and retry after the delay given.",
                        wait)
