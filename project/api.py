"""The REST API at /api/v1/: one NinjaAPI, each app's router, one error shape."""

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404, HttpRequest
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from billing.views import router as billing_router
from calls.streams import router as call_stream_router
from calls.views import router as calls_router
from campaigns.contact_views import router as contacts_router
from campaigns.views import router as campaigns_router
from exports.views import router as exports_router
from notifications.views import router as notifications_router
from project.errors import (
    INTERNAL_ERROR_MESSAGE,
    ApiError,
    api_error_response,
    error_response,
    validation_error_response,
)
from project.parser import CallboardParser
from realtime.docs import add_event_components
from realtime.views import router as realtime_router
from schedules.views import router as schedules_router
from webhooks.views import router as webhooks_router
from workspaces.views import router as workspace_router

logger = logging.getLogger(__name__)

SSE_TICKET_SCHEME = {
    "type": "apiKey",
    "in": "query",
    "name": "ticket",
    "description": "A single-use ticket from POST /api/v1/auth/sse-ticket, for clients that cannot "
    "set headers (EventSource). Valid 30 s, for the workspace and principal that asked for it.",
}
# Published for clients although no operation refers to them: the streams'
# envelopes (the stream operations' 200 is `text/event-stream`).
PUBLISHED_SCHEMAS = ("Event", "ControlEvent")
SCHEMA_REF = "#/components/schemas/"


class CallboardAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        # The event envelopes, as a discriminated union on `type` (docs/reference/events.md#envelope).
        add_event_components(schema)
        schema["components"].setdefault("securitySchemes", {})["SseTicket"] = SSE_TICKET_SCHEME
        _drop_unreferenced_schemas(schema)
        return schema


def _refs(node) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node))
    return set()


def _drop_unreferenced_schemas(schema: dict) -> None:
    """ninja also lists the models of Query[...] parameters as components, though the
    parameters are written out inline: dead entries that linters flag."""
    components = schema["components"]["schemas"]
    wanted = {name for name in PUBLISHED_SCHEMAS if name in components}
    pending = _refs({key: value for key, value in schema.items() if key != "components"})
    pending |= {SCHEMA_REF + name for name in wanted}
    while pending:
        name = pending.pop().removeprefix(SCHEMA_REF)
        if name in components:
            new = {ref for ref in _refs(components[name]) if ref.removeprefix(SCHEMA_REF) not in wanted}
            wanted.add(name)
            pending |= new
    for name in set(components) - wanted:
        del components[name]


api = CallboardAPI(
    title="Callboard API",
    version="1",
    description="The REST API of Callboard. Errors share one shape: "
    '`{"error": {"code", "message", "details"}}`.',
    urls_namespace="api-v1",
    # Relative: the host that served this document (the paths carry /api/v1).
    servers=[{"url": "/", "description": "The deployment that serves this document."}],
    parser=CallboardParser(),
)
api.add_router("/", workspace_router)
api.add_router("/", realtime_router)
api.add_router("/", calls_router)
api.add_router("/", call_stream_router)
api.add_router("/", billing_router)
api.add_router("/", campaigns_router)
api.add_router("/", contacts_router)
api.add_router("/", schedules_router)
api.add_router("/", notifications_router)
api.add_router("/", exports_router)
api.add_router("/", webhooks_router)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError):
    return api_error_response(exc)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError):
    return validation_error_response(exc.errors)


@api.exception_handler(AuthenticationError)
def _authentication_error(request: HttpRequest, exc: AuthenticationError):
    return error_response(401, "not_authenticated", "Authentication credentials were not provided.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError):
    # ninja wraps whatever the body parser raised in "Cannot parse request body";
    # our parser's own refusals keep their code and fields.
    if isinstance(exc.__cause__, ApiError):
        return api_error_response(exc.__cause__)
    return error_response(exc.status_code, message=str(exc))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404):
    return error_response(404, "not_found", "Not found.")


@api.exception_handler(PermissionDenied)
def _permission_denied(request: HttpRequest, exc: PermissionDenied):
    return error_response(403, "forbidden", "You do not have permission to do this.")


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig):
    return error_response(413, "payload_too_large", "The request body is too large.")


@api.exception_handler(MultiPartParserError)
@api.exception_handler(TooManyFieldsSent)
@api.exception_handler(TooManyFilesSent)
def _bad_multipart(request: HttpRequest, exc: Exception):
    # Django answers these 400 itself, but below ninja they would reach the catch-all.
    return error_response(400, "invalid_multipart", f"The multipart body cannot be read: {str(exc)[:200]}")


@api.exception_handler(DatabaseOperationalError)
@api.exception_handler(DatabaseInterfaceError)
def _database_unavailable(request: HttpRequest, exc: Exception):
    # The database is down or restarting (docs/operations.md, "Failures"): the
    # request changed nothing that committed, and a retry will work once it is back.
    logger.warning("database unavailable in %s %s: %s", request.method, request.path, exc)
    return error_response(
        503, "database_unavailable", "The database is unavailable for a moment; retry shortly.",
        {"request_id": getattr(request, "request_id", None)}, headers={"Retry-After": "5"},
    )


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception):
    # The traceback goes to the log with the request id, never to the client.
    logger.exception("unhandled error in %s %s", request.method, request.path)
    return error_response(
        500, "internal_error", INTERNAL_ERROR_MESSAGE,
        {"request_id": getattr(request, "request_id", None)},
    )
