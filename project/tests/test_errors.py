"""One error shape for every status under /api/: {"error": {"code", "message", "details"}}."""

import re
import uuid

import pytest
from django.test import Client, override_settings

from project.tests.urls_errors import SECRET_FAILURE_MESSAGE
from workspaces import services

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
GENERATED_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")

with_test_endpoints = override_settings(ROOT_URLCONF="project.tests.urls_errors")


def assert_error_shape(response, status: int, code: str) -> dict:
    """The response is the one error shape with this status and code; returns its "error"."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert SNAKE_CASE.match(error["code"])
    assert isinstance(error["message"], str) and error["message"].strip()
    assert isinstance(error["details"], dict)
    assert response.has_header("X-Request-ID")
    return error


# 400 -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({"name": "", "scopes": ["read"]}, "name", "string_too_short"),
        ({"name": "x" * 101, "scopes": ["read"]}, "name", "string_too_long"),
        ({"scopes": ["read"]}, "name", "missing"),
        ({"name": "ci", "scopes": []}, "scopes", "too_short"),
        ({"name": "ci", "scopes": ["root"]}, "scopes.0", "enum"),
    ],
)
def test_an_invalid_body_is_a_400_naming_the_field(admin_key, payload, field, code):
    # given an admin key and a body that breaks one rule

    # when
    response = admin_key.post("/api/v1/api-keys", payload)

    # then
    error = assert_error_shape(response, 400, "validation_error")
    [entry] = error["details"]["fields"]
    assert set(entry) == {"field", "location", "message", "code"}
    assert (entry["field"], entry["location"], entry["code"]) == (field, "body", code)
    assert entry["message"].strip()


def test_every_invalid_field_is_listed(admin_key):
    # given a body where both fields are wrong

    # when
    response = admin_key.post("/api/v1/api-keys", {"name": "", "scopes": []})

    # then
    error = assert_error_shape(response, 400, "validation_error")
    fields = sorted(error["details"]["fields"], key=lambda entry: entry["field"])
    assert [(entry["field"], entry["location"], entry["code"]) for entry in fields] == [
        ("name", "body", "string_too_short"),
        ("scopes", "body", "too_short"),
    ]
    assert all(set(entry) == {"field", "location", "message", "code"} for entry in fields)


def test_an_invalid_query_parameter_is_a_400_located_in_the_query(admin_key):
    # when
    response = admin_key.get("/api/v1/api-keys", {"page_size": 0})

    # then
    error = assert_error_shape(response, 400, "validation_error")
    [entry] = error["details"]["fields"]
    assert (entry["field"], entry["location"], entry["code"]) == (
        "page_size", "query", "greater_than_equal")


def test_a_body_that_is_not_json_is_a_400_in_the_error_shape(admin_key):
    # when
    response = admin_key.post("/api/v1/api-keys", "{this is not json")

    # then
    assert_error_shape(response, 400, "bad_request")


# 401 and 403 ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "not_authenticated"),
        ("Basic dXNlcjpwYXNz", "invalid_authorization"),
        ("Bearer ", "invalid_authorization"),
        ("Bearer cbk_abcdefgh_" + "x" * 43, "invalid_api_key"),
        ("Bearer not-a-key-at-all", "invalid_api_key"),
    ],
)
def test_a_request_without_valid_credentials_is_a_401(workspace, authorization, code):
    # given
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}

    # when
    response = Client().get("/api/v1/workspace", **headers)

    # then
    assert_error_shape(response, 401, code)


def test_a_revoked_key_is_a_401(read_key, workspace):
    # given
    services.api_key_revoke(workspace=workspace, key_id=read_key.api_key.pk)

    # when
    response = read_key.get("/api/v1/workspace")

    # then
    assert_error_shape(response, 401, "api_key_revoked")


def test_a_key_without_the_needed_scope_is_a_403(read_key):
    # when
    response = read_key.post("/api/v1/api-keys", {"name": "ci", "scopes": ["read"]})

    # then
    error = assert_error_shape(response, 403, "insufficient_scope")
    assert "admin" in error["message"]


def test_a_key_sent_to_another_workspace_is_a_403(read_key, other_workspace):
    # when
    response = read_key.get("/api/v1/workspace", headers={"HTTP_X_WORKSPACE": other_workspace.slug})

    # then
    assert_error_shape(response, 403, "workspace_forbidden")


def test_a_session_post_without_csrf_token_is_a_403(owner, signed_in):
    # given a browser session that does not send the CSRF token
    browser = signed_in(owner)

    # when
    response = browser.post("/api/v1/auth/sse-ticket", {}, content_type="application/json")

    # then
    assert_error_shape(response, 403, "csrf_failed")


# 404 and 405 ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(
    "path", ["/api/v1/does-not-exist", "/api/v2/x", "/api/", "/api/v1/workspace/extra"],
)
def test_an_unknown_api_path_is_a_json_404(db, method, path):
    # when
    response = getattr(Client(), method)(path)

    # then
    error = assert_error_shape(response, 404, "not_found")
    assert path in error["message"]
    assert b"<html" not in response.content.lower()


@pytest.mark.parametrize("key_id", [uuid.uuid4(), "not-a-uuid"])
def test_an_unknown_resource_id_is_a_404(admin_key, key_id):
    # when
    response = admin_key.post(f"/api/v1/api-keys/{key_id}/revoke")

    # then
    assert_error_shape(response, 404, "not_found")


def test_a_method_the_endpoint_does_not_allow_is_a_405_keeping_allow(read_key):
    # when
    response = read_key.client.delete("/api/v1/workspace",
                                      HTTP_AUTHORIZATION=f"Bearer {read_key.key}")

    # then
    assert_error_shape(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET"


# 413: the body limit holds in the ASGI layer, tested on a real server in
# test_body_limit.py (the test client hands Django the body whole).


# 402, 409, 429, 500 (test-only endpoints) -----------------------------------


@with_test_endpoints
@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/api/test/payment-required", 402, "insufficient_balance"),
        ("post", "/api/test/conflict", 409, "campaign_running"),
        ("get", "/api/test/too-many-requests", 429, "too_many_requests"),
    ],
)
def test_errors_raised_by_an_endpoint_keep_their_status_and_code(db, method, path, status, code):
    # when
    response = getattr(Client(), method)(path)

    # then
    assert_error_shape(response, status, code)


@with_test_endpoints
def test_a_payment_required_error_carries_its_details(db):
    # when
    response = Client().get("/api/test/payment-required")

    # then
    error = assert_error_shape(response, 402, "insufficient_balance")
    assert error["message"] == "The balance is exhausted."
    assert error["details"] == {"balance": "0.00"}


@with_test_endpoints
def test_too_many_requests_keeps_retry_after(db):
    # when
    response = Client().get("/api/test/too-many-requests")

    # then
    assert_error_shape(response, 429, "too_many_requests")
    assert response["Retry-After"] == "7"


@with_test_endpoints
def test_the_real_endpoints_still_answer_next_to_the_test_ones(read_key):
    # when
    response = read_key.get("/api/v1/workspace")

    # then
    assert response.status_code == 200
    assert response.json()["slug"] == "acme"


@with_test_endpoints
@pytest.mark.parametrize("path", ["/api/test/crash", "/api/test-plain/crash"],
                         ids=["api-endpoint", "plain-view-under-api"])
def test_a_crash_is_a_500_without_the_traceback_quoting_the_request_id(db, path):
    # given a client that sees server errors as a user would, not as exceptions
    client = Client(raise_request_exception=False)

    # when
    response = client.get(path)

    # then
    error = assert_error_shape(response, 500, "internal_error")
    text = response.content.decode()
    assert "Traceback" not in text
    assert SECRET_FAILURE_MESSAGE not in text
    assert "RuntimeError" not in text
    assert error["details"]["request_id"] == response["X-Request-ID"]


# X-Request-ID --------------------------------------------------------------


@pytest.mark.parametrize("incoming", ["abc-123", "req_2024.07.01-xyz", "A" * 64,
                                      "0f8fad5b-d9cb-469f-a165-70867728950e"])
def test_a_sane_incoming_request_id_is_echoed(db, incoming):
    # when
    response = Client().get("/api/v1/does-not-exist", HTTP_X_REQUEST_ID=incoming)

    # then
    assert response["X-Request-ID"] == incoming


@pytest.mark.parametrize(
    "incoming",
    ["has spaces in it", "line\nbreak", "crlf\r\nSet-Cookie: a=b", "A" * 65, "x" * 200,
     "<script>alert(1)</script>", "quote\"d", "ünïcode", ""],
)
def test_an_unsafe_incoming_request_id_is_replaced(db, incoming):
    # when
    response = Client().get("/healthz", HTTP_X_REQUEST_ID=incoming)

    # then
    assert response["X-Request-ID"] != incoming
    assert GENERATED_REQUEST_ID.match(response["X-Request-ID"])


def test_every_request_gets_its_own_request_id(db):
    # when
    first = Client().get("/healthz")
    second = Client().get("/healthz")

    # then
    assert GENERATED_REQUEST_ID.match(first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


# Text PostgreSQL cannot store ------------------------------------------------


@pytest.mark.parametrize(
    ("raw_body", "field"),
    [
        (b'{"name": "ci\\u0000", "scopes": ["read"]}', "name"),
        (b'{"name": "ci\\ud800", "scopes": ["read"]}', "name"),
        (b'{"name": "ci", "scopes": ["read", "\\udc00x"]}', "scopes.1"),
        # a lone surrogate written as raw (CESU-8) bytes rather than an escape
        (b'{"name": "ci\xed\xa0\x80", "scopes": ["read"]}', "name"),
        (b'{"name": "ci", "scopes": ["read"], "extra": {"k\\u0000": 1}}', "extra.k\x00"),
    ],
)
def test_a_nul_or_a_lone_surrogate_in_a_body_is_a_400_naming_the_field(admin_key, workspace, raw_body, field):
    # given text that PostgreSQL can store neither as text nor in JSON (it reached a 500)
    keys_before = workspace.api_keys.count()

    # when
    response = admin_key.client.post("/api/v1/api-keys", raw_body, content_type="application/json",
                                     HTTP_AUTHORIZATION=f"Bearer {admin_key.key}")

    # then
    error = assert_error_shape(response, 400, "validation_error")
    [entry] = error["details"]["fields"]
    assert (entry["field"], entry["location"], entry["code"]) == (field, "body", "unstorable_text")
    assert workspace.api_keys.count() == keys_before


def test_a_nul_in_a_query_parameter_is_a_400(read_key):
    # when
    response = read_key.get("/api/v1/calls", {"agent": "help\x00desk"})

    # then
    error = assert_error_shape(response, 400, "validation_error")
    [entry] = error["details"]["fields"]
    assert (entry["field"], entry["location"], entry["code"]) == ("agent", "query", "unstorable_text")


def test_an_escaped_backslash_u_is_ordinary_text(admin_key):
    # when the body holds the six characters \u0000, not a NUL
    response = admin_key.post("/api/v1/api-keys", {"name": "ci \\u0000 \\ud800", "scopes": ["read"]})

    # then
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "ci \\u0000 \\ud800"
