"""The one error shape: {"error": {"code", "message", "details"}} for every status."""

from http import HTTPStatus

from django.http import JsonResponse
from ninja import Field, Schema

# The code a bare status gets when nothing more specific raised it.
DEFAULT_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    402: "payment_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


INTERNAL_ERROR_MESSAGE = "Something went wrong on our side. Quote the request id."


class ApiError(Exception):
    """Raised anywhere below a view; the API turns it into the error shape."""

    status = 400
    code = "bad_request"
    message = "The request is not valid."

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 details: dict | None = None, headers: dict | None = None):
        self.message = message or self.message
        self.code = code or self.code
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(ApiError):
    pass


class NotAuthenticated(ApiError):
    status, code, message = 401, "not_authenticated", "Authentication credentials were not provided."


class PaymentRequired(ApiError):
    status, code, message = 402, "payment_required", "Payment is required."


class Forbidden(ApiError):
    status, code, message = 403, "forbidden", "You do not have permission to do this."


class NotFound(ApiError):
    status, code, message = 404, "not_found", "Not found."


class Conflict(ApiError):
    status, code, message = 409, "conflict", "The request conflicts with the current state."


class Gone(ApiError):
    status, code, message = 410, "gone", "This is no longer available."


class PayloadTooLarge(ApiError):
    status, code, message = 413, "payload_too_large", "The request body is too large."


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"
    message = "The body's Content-Type is not one this endpoint takes."


class TooManyRequests(ApiError):
    status, code, message = 429, "too_many_requests", "Too many requests."


class ServiceUnavailable(ApiError):
    status, code, message = 503, "service_unavailable", "Unavailable for a moment; retry shortly."


def error_body(status: int, code: str | None = None, message: str | None = None,
               details: dict | None = None) -> dict:
    return {
        "error": {
            "code": code or DEFAULT_CODES.get(status, "error"),
            "message": message or HTTPStatus(status).phrase + ".",
            "details": details or {},
        }
    }


def error_response(status: int, code: str | None = None, message: str | None = None,
                   details: dict | None = None, headers: dict | None = None) -> JsonResponse:
    response = JsonResponse(error_body(status, code, message, details), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def api_error_response(error: ApiError) -> JsonResponse:
    return error_response(error.status, error.code, error.message, error.details, error.headers)


class ErrorDetail(Schema):
    code: str = Field(description="A stable snake_case code to branch on.")
    message: str = Field(description="A sentence for people.")
    details: dict = Field(description="Structured context, e.g. `fields` of a validation error.")


class ErrorOut(Schema):
    """The body of every error response (OpenAPI)."""

    error: ErrorDetail


def documented_errors(*statuses: int) -> dict:
    """Response declarations for OpenAPI: `response={200: Out, **documented_errors(401, 403)}`."""
    return {status: ErrorOut for status in statuses}


def field_error(error: dict, *, default_location: str = "body") -> dict:
    """One pydantic/ninja error as {field, location, message, code}."""
    location, *path = error.get("loc", ()) or (default_location,)
    if location not in ("body", "query", "path", "header", "cookie", "form", "file"):
        location, path = default_location, [location, *path]
    # ninja puts the view's parameter name after "body" ("body", "payload", "name"):
    # the client never saw that name, so it is dropped.
    if location == "body" and len(path) > 1:
        path = path[1:]
    return {
        "field": ".".join(str(part) for part in path),
        "location": location,
        "message": error.get("msg", "Invalid value."),
        "code": error.get("type", "invalid"),
    }


def validation_error_response(errors: list[dict], *, default_location: str = "body") -> JsonResponse:
    fields = [field_error(error, default_location=default_location) for error in errors]
    return error_response(400, "validation_error", "The request is not valid.", {"fields": fields})
