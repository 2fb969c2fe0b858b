"""Sign-in lockout (the dashboard's /accounts/login/ and the admin's /admin/login/),
by django-axes with its cache handler on Redis (settings SIGNIN_*).

django-axes hooks Django's own authentication signals, so every sign-in form
that calls `authenticate(request, ...)` is covered, the admin's included,
and its cache handler keeps the counts in Redis with a TTL, no tables.
"""

import functools
import logging
import math

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off, get_failure_limit
from django.shortcuts import render
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# What a sign-in page asks the browser to wait while Redis is unreachable.
UNAVAILABLE_RETRY_AFTER_SECONDS = 30


class SignInLockoutBackend(AxesStandaloneBackend):
    """django-axes' gate, for sign-ins that come with a request.

    `authenticate()` without one (a shell, a management command, the test
    client's `login()`) is no client's attempt: there is no address to count,
    and axes' own backend would refuse it with an error."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out sign-in gets: 429 with Retry-After (the whole
    cool-off, an upper bound: it runs from the last counted failure)."""
    seconds = max(1, math.ceil(get_cool_off(request).total_seconds()))
    context = {"failure_limit": get_failure_limit(request, credentials),
               "retry_minutes": math.ceil(seconds / 60)}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


def unavailable_without_redis(view):
    """A sign-in view that answers 503 "try again shortly" while Redis is unreachable.

    Sign-in fails closed without Redis (the lockout cannot be checked there), and
    without this the reader got Django's 500 page."""

    @functools.wraps(view)
    def guarded(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError):
            logger.warning("sign-in refused: the lockout store (Redis) is unreachable", exc_info=True)
            response = render(request, "registration/signin_unavailable.html", status=503)
            response["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_SECONDS)
            return response

    return guarded
