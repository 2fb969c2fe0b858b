"""The REST API at /api/v1/: one NinjaAPI, each app's router, one error shape."""

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from billing.views import router as billing_router
from calls.streams import router as call_stream_router
from calls.views import router as calls_router
from project.errors import (
    INTERNAL_ERROR_MESSAGE,
    ApiError,
    api_error_response,
    error_response,
    validation_error_response,
)
from realtime.docs import add_event_components
from realtime.views import router as realtime_router
from workspaces.views import router as workspace_router

logger = logging.getLogger(__name__)

class CallboardAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        # The event envelopes, as a discriminated union on `type` (docs/reference/events.md#envelope).
        add_event_components(schema)
        return schema


api = CallboardAPI(
    title="Callboard API",
    version="1",
    description="The REST API of Callboard. Errors share one shape: "
    '`{"error": {"code", "message", "details"}}`.',
    urls_namespace="api-v1",
)
api.add_router("/", workspace_router)
api.add_router("/", realtime_router)
api.add_router("/", calls_router)
api.add_router("/", call_stream_router)
api.add_router("/", billing_router)


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


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception):
    # The traceback goes to the log with the request id, never to the client.
    logger.exception("unhandled error in %s %s", request.method, request.path)
    return error_response(
        500, "internal_error", INTERNAL_ERROR_MESSAGE,
        {"request_id": getattr(request, "request_id", None)},
    )
