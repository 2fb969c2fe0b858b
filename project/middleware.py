"""Request-wide middleware. Each one works in sync and async stacks alike, so an
async streaming view never pays a thread hop for them."""

import logging
import re
import secrets
import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from project import metrics
from project.errors import INTERNAL_ERROR_MESSAGE, error_response
from project.request_context import request_id_var, workspace_id_var

access_log = logging.getLogger("callboard.request")

_INCOMING_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
# Headers a rewritten error keeps from the original response.
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "X-Request-ID")


class HybridMiddleware:
    """`before` may answer early; `after` sees every response, early ones too."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self._is_async:
            return self._acall(request)
        response = self.before(request) or self.get_response(request)
        return self.after(request, response)

    async def _acall(self, request: HttpRequest):
        response = self.before(request) or await self.get_response(request)
        return self.after(request, response)

    def before(self, request: HttpRequest) -> HttpResponse | None:
        return None

    def after(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        return response


def is_api_path(path: str) -> bool:
    return path.startswith("/api/")


def accept_request_id(incoming: str) -> str:
    """The client's X-Request-ID when it is sane, else a new one."""
    return incoming if _INCOMING_REQUEST_ID.match(incoming) else secrets.token_hex(16)


def record_request(*, method: str, path: str, route: str, status: int, seconds: float,
                   streaming: bool) -> None:
    """The access-log line and the metrics of one answered request."""
    metrics.observe_http_request(method, route, status, seconds)
    access_log.info(
        "%s %s %s", method, path, status,
        extra={"method": method, "path": path, "route": route, "status": status,
               "duration_ms": round(seconds * 1000, 2), "streaming": streaming},
    )


class RequestContextMiddleware(HybridMiddleware):
    """Gives the request an id, and logs and counts it when it is answered."""

    def before(self, request):
        request.request_id = accept_request_id(request.headers.get("X-Request-ID", ""))
        request.started_at = time.perf_counter()
        request_id_var.set(request.request_id)
        workspace_id_var.set("-")
        return None

    def after(self, request, response):
        response["X-Request-ID"] = request.request_id
        record_request(method=request.method, path=request.path, route=_route_of(request),
                       status=response.status_code, seconds=time.perf_counter() - request.started_at,
                       streaming=response.streaming)
        return response


def _route_of(request: HttpRequest) -> str:
    """The URL pattern, not the path: bounded label values for metrics."""
    match = getattr(request, "resolver_match", None)
    return match.route if match and match.route else "unmatched"


class ApiErrorShapeMiddleware(HybridMiddleware):
    """Under /api/, no error leaves as HTML or plain text: it gets the error shape."""

    def after(self, request, response):
        if not is_api_path(request.path) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        kept = {name: response[name] for name in _KEPT_HEADERS if response.has_header(name)}
        if response.status_code >= 500:
            shaped = error_response(
                response.status_code, message=INTERNAL_ERROR_MESSAGE,
                details={"request_id": getattr(request, "request_id", None)}, headers=kept,
            )
        else:
            shaped = error_response(response.status_code, headers=kept)
        # Django logged the original already; the replacement must not be logged again.
        shaped._has_been_logged = getattr(response, "_has_been_logged", False)
        return shaped


class ContentSecurityPolicyMiddleware(HybridMiddleware):
    """Every HTML page (the dashboard, sign-in, the admin, the API docs) gets the
    policy in CONTENT_SECURITY_POLICY; JSON, streams and static files need none.

    A constant policy on one header, so a hybrid middleware here rather than
    django-csp, whose middleware is sync-style (a thread hop per request under
    ASGI) and builds the header for every response."""

    def __init__(self, get_response):
        super().__init__(get_response)
        self.policy = settings.CONTENT_SECURITY_POLICY

    def after(self, request, response):
        if (self.policy and response.get("Content-Type", "").startswith("text/html")
                and not response.has_header("Content-Security-Policy")):
            response["Content-Security-Policy"] = self.policy
        return response
