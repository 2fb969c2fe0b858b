"""Structured logs: JSON lines with the request and workspace ids, and no secrets."""

import http.client
import io
import json
import logging
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings

from project.local_redis import free_loopback_port
from project.logging import JsonFormatter, RequestContextFilter, SecretRedactingFilter, redact_secrets
from project.testing import stop_process
from project.tests.urls_errors import SECRET_FAILURE_MESSAGE

API_KEY = "cbk_ab12cd34_Zm9vYmFyLWJhei1xdXV4X3NlY3JldC1tYXRlcmlhbC0xMjM"
API_KEY_SECRET = API_KEY.removeprefix("cbk_ab12cd34_")


def json_handler() -> tuple[logging.Handler, io.StringIO]:
    """A handler set up as the console handler of project.settings.LOGGING is."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.addFilter(SecretRedactingFilter())
    handler.setFormatter(JsonFormatter())
    return handler, stream


@contextmanager
def json_lines_of(logger_name: str):
    """Yields a function returning the JSON lines logged so far by that logger, as dicts."""
    handler, stream = json_handler()
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line]
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def request_log():
    with json_lines_of("callboard.request") as lines:
        yield lines


def test_an_authenticated_request_is_logged_with_its_request_and_workspace_ids(
        read_key, workspace, request_log):
    # when
    response = read_key.get("/api/v1/workspace")

    # then
    [line] = [line for line in request_log() if line["path"] == "/api/v1/workspace"]
    assert line["message"] == "GET /api/v1/workspace 200"
    assert line["logger"] == "callboard.request"
    assert line["request_id"] == response["X-Request-ID"]
    assert line["workspace_id"] == str(workspace.pk)
    assert (line["method"], line["route"], line["status"]) == ("GET", "api/v1/workspace", 200)


def test_an_anonymous_request_is_logged_without_a_workspace(db, request_log):
    # when
    response = Client().get("/api/v1/workspace", HTTP_X_REQUEST_ID="trace-me-42")

    # then
    [line] = [line for line in request_log() if line["path"] == "/api/v1/workspace"]
    assert line["request_id"] == "trace-me-42" == response["X-Request-ID"]
    assert line["workspace_id"] == "-"
    assert line["status"] == 401


def test_the_workspace_of_one_request_does_not_leak_into_the_next(read_key, request_log):
    # given an authenticated request
    read_key.get("/api/v1/workspace")

    # when an anonymous one follows
    Client().get("/healthz")

    # then
    [line] = [line for line in request_log() if line["path"] == "/healthz"]
    assert line["workspace_id"] == "-"


@override_settings(ROOT_URLCONF="project.tests.urls_errors")
def test_a_crash_is_logged_with_its_traceback_under_the_request_id_the_client_got(db):
    # given
    with json_lines_of("project.api") as lines:
        # when
        response = Client().get("/api/test/crash")

    # then the client got only the id, the log has the rest
    assert response.status_code == 500
    [line] = lines()
    assert line["level"] == "ERROR"
    assert line["request_id"] == response["X-Request-ID"]
    assert "Traceback" in line["exc_info"]
    assert SECRET_FAILURE_MESSAGE in line["exc_info"]


@pytest.mark.parametrize(
    ("text", "secret", "expected"),
    [
        (f"presented {API_KEY} twice", API_KEY_SECRET, "presented cbk_ab12cd34_[redacted] twice"),
        ("GET /api/v1/stream?ticket=SECRETTICKET123&since=5 200", "SECRETTICKET123",
         "GET /api/v1/stream?ticket=[redacted]&since=5 200"),
        ("Authorization: Bearer abc.DEF-ghi_123", "abc.DEF-ghi_123", "Authorization: Bearer [redacted]"),
        ("authorization: bearer lowercase-secret", "lowercase-secret", "authorization: Bearer [redacted]"),
        ("login password=hunter2 ok", "hunter2", "login password=[redacted] ok"),
        ("GET /x?token=t0k3n&api_key=k3y", "t0k3n", "GET /x?token=[redacted]&api_key=[redacted]"),
    ],
)
def test_secrets_are_redacted_from_text(text, secret, expected):
    # when
    redacted = redact_secrets(text)

    # then
    assert secret not in redacted
    assert redacted == expected


@pytest.mark.parametrize("text", [
    "GET /api/v1/api-keys?page_size=50 200",
    "key cbk_ab12cd34 has been revoked",
    "ticket count=3, tokens used=12",
])
def test_text_without_secrets_is_left_alone(text):
    # when / then
    assert redact_secrets(text) == text


def test_the_filter_redacts_secrets_passed_as_arguments():
    # given a record whose secret is in its arguments, not its format string
    record = logging.LogRecord("callboard", logging.INFO, __file__, 1,
                               "key %s used from %s", (API_KEY, "/healthz?ticket=T1CKET"), None)

    # when
    kept = SecretRedactingFilter().filter(record)

    # then
    assert kept is True
    assert record.getMessage() == "key cbk_ab12cd34_[redacted] used from /healthz?ticket=[redacted]"


def test_a_json_line_carries_no_secret_even_in_extra_fields():
    # given the console handler of the settings on a logger of our own
    handler, stream = json_handler()
    logger = logging.getLogger("callboard.test-redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        # when
        logger.warning("rejected %s", f"Bearer {API_KEY}",
                       extra={"path": "/stream?ticket=SECRETTICKET123", "header": f"Bearer {API_KEY}"})
    finally:
        logger.removeHandler(handler)

    # then
    line = json.loads(stream.getvalue())
    assert line["message"] == "rejected Bearer [redacted]"
    assert line["path"] == "/stream?ticket=[redacted]"
    assert API_KEY_SECRET not in stream.getvalue()
    assert "SECRETTICKET123" not in stream.getvalue()
    assert {"time", "level", "logger", "request_id", "workspace_id"} <= set(line)


# End to end: the real server -------------------------------------------------


def shared_database_url() -> str:
    """A URL for the database this test runs against (the test database, not the configured one)."""
    db = connection.settings_dict
    credentials = quote(db["USER"], safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"




def http_get(port: int, path: str, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("X-Request-ID"), response.read()
    finally:
        conn.close()


@contextmanager
def running_server(env: dict, log_path):
    """daphne via project.serve on a free loopback port, all its output in log_path."""
    port = free_loopback_port()
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "project.serve", "-b", "127.0.0.1", "-p", str(port),
             "project.asgi:application"],
            env=env, cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if http_get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"daphne did not answer within 20 s:\n{log_path.read_text()}")
            try:
                server.wait(timeout=0.1)
                pytest.fail(f"daphne exited with {server.returncode}:\n{log_path.read_text()}")
            except subprocess.TimeoutExpired:
                pass
        yield port
    finally:
        stop_process(server)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_real_server_logs_json_lines_without_secrets(admin_key, workspace, tmp_path):
    # given daphne sharing this test's database, logging everything
    if connection.vendor != "postgresql":
        pytest.skip("a server process can share the test database only on PostgreSQL")
    env = {
        **os.environ,
        "DEBUG": "false", "SECRET_KEY": "test", "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1", "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": shared_database_url(),
        "REDIS_URL": os.environ.get("REDIS_URL", settings.REDIS_URL),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = tmp_path / "daphne.log"
    secret = admin_key.key.removeprefix(admin_key.api_key.prefix + "_")

    # when requests carry a ticket in the query string and a key in a header and a query
    with running_server(env, log_path) as port:
        ticket_status, _, _ = http_get(port, "/healthz?ticket=SECRETTICKET123")
        key_in_query_status, _, _ = http_get(port, f"/healthz?note={admin_key.key}")
        status, request_id, body = http_get(
            port, "/api/v1/workspace", {"Authorization": f"Bearer {admin_key.key}"})

    # then the requests were served, with this test's rows
    assert (ticket_status, key_in_query_status, status) == (200, 200, 200)
    assert json.loads(body)["slug"] == "acme"
    # and no secret reached the output
    output = log_path.read_text()
    assert "SECRETTICKET123" not in output
    assert secret not in output
    # and every JSON-looking line is JSON
    lines = [line for line in output.splitlines() if line.strip()]
    records = []
    for line in lines:
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                pytest.fail(f"not a JSON line: {line!r}")
    messages = {(record["logger"], record["message"]) for record in records}
    # and daphne's own access lines are there, redacted
    assert ("callboard.access", "GET /healthz?ticket=[redacted] 200") in messages
    assert ("callboard.access", f"GET /healthz?note={admin_key.api_key.prefix}_[redacted] 200") in messages
    # and the request line names the workspace and the request id the client got
    [api_line] = [record for record in records if record["logger"] == "callboard.request"
                  and record["message"] == "GET /api/v1/workspace 200"]
    assert api_line["workspace_id"] == str(workspace.pk)
    assert api_line["request_id"] == request_id


def test_uvicorns_coloured_copy_of_a_message_stays_out_of_the_json():
    with json_lines_of("uvicorn.error") as lines:
        coloured = "Started server process [\x1b[36m%d\x1b[0m]"
        logging.getLogger("uvicorn.error").warning("Started server process [%d]", 42,
                                                   extra={"color_message": coloured})

        [line] = lines()

    assert line["message"] == "Started server process [42]"
    assert "color_message" not in line
