"""The body limit holds in the ASGI layer, before anything reads the body: a
declared oversized body is refused before it is sent, a chunked one as soon as
it passes the limit, and nothing of it reaches memory or a temporary file.
Real servers and raw sockets: Django's test client hands over the body whole."""

import asyncio
import json
import os
import select
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest
from asgiref.testing import ApplicationCommunicator

from project.asgi import application
from project.testing import SERVERS, running_server
from realtime.tests.streaming import metric_value

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIMIT = 64 * 1024
UPLOAD_LIMIT = 256 * 1024
WAIT = 15  # seconds: the bound of every wait for the server's answer
KEYS = "/api/v1/api-keys"


def start(tmp_path, name: str):
    # TMPDIR: where Django (or Twisted, under daphne) would spool a large body.
    server_tmp = tmp_path / "server-tmp"
    server_tmp.mkdir()
    env = {"API_MAX_BODY_BYTES": str(LIMIT), "API_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
           "TMPDIR": str(server_tmp)}
    return running_server(tmp_path, env=env, server=name), server_tmp


@pytest.fixture
def server(tmp_path):
    """uvicorn, the production server."""
    running, server_tmp = start(tmp_path, "uvicorn")
    with running as server:
        server.tmp = server_tmp
        yield server


@pytest.fixture(params=SERVERS)
def any_server(request, tmp_path):
    """Each ASGI server we support: the limit must hold below daphne's application too."""
    running, server_tmp = start(tmp_path, request.param)
    with running as server:
        server.tmp = server_tmp
        yield server


def _connect(server) -> socket.socket:
    url = urlsplit(server.url)
    return socket.create_connection((url.hostname, url.port), timeout=WAIT)


def _head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    """One whole response (the 413 carries a Content-Length)."""
    data = b""
    deadline = time.monotonic() + WAIT
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
        assert time.monotonic() < deadline, f"no whole answer within {WAIT} s: {data!r}"
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _length(data: bytes) -> int:
    for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 1 << 62


def _answered(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def _spooled_bytes(server) -> int:
    """Bytes in the files the server process holds open in its temporary directory
    (Twisted opens one, empty, for every chunked request)."""
    fd_dir = f"/proc/{server.process.pid}/fd"
    spooled = 0
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(f"{fd_dir}/{fd}").startswith(str(server.tmp)):
                spooled += os.stat(f"{fd_dir}/{fd}").st_size
        except OSError:
            continue  # closed meanwhile
    return spooled


def test_a_declared_oversized_body_is_refused_before_it_is_sent(any_server):
    server = any_server
    # given a request declaring 100 MB, whose body is never sent
    with _connect(server) as sock:
        sock.sendall(_head(KEYS, {"Content-Length": str(100 * 1024 * 1024)}))

        # when the server answers without waiting for the body
        status, body = _read_response(sock)

    # then it is a 413 in the error shape
    assert status == 413
    error = json.loads(body)["error"]
    assert error["code"] == "payload_too_large"
    assert error["details"] == {"limit_bytes": LIMIT}
    assert str(100 * 1024 * 1024) in error["message"]
    # and uvicorn counts it like any answered request (under daphne, Twisted answers)
    if server.log_path.name.startswith("uvicorn"):
        assert metric_value(server, 'callboard_http_requests_total{method="POST",route="body_limit",'
                                    'status="413"}') == 1


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(any_server):
    server = any_server
    # given a chunked body that would grow to 4 MB (past Django's 2.5 MB in
    # memory: it would spool the rest to a temporary file) and never ends
    chunk = b"x" * 16 * 1024
    sent = 0
    with _connect(server) as sock:
        sock.sendall(_head(KEYS, {"Transfer-Encoding": "chunked"}))

        # when it is sent a chunk at a time, watching for an answer
        while sent < 4 * 1024 * 1024 and not _answered(sock):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        select.select([sock], [], [], WAIT)
        spooled = _spooled_bytes(server)
        assert _answered(sock), f"no answer to {sent} bytes of a body that has not ended"
        status, body = _read_response(sock)

    # then the 413 came before the body ended, and nothing past the limit was
    # spooled to disk (daphne's Twisted keeps what came before it in a file)
    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"
    assert sent < 4 * 1024 * 1024
    assert spooled <= LIMIT


def test_a_body_under_the_limit_is_read(server, admin_key):
    # given a body just under the limit (too long a name: refused by validation)
    payload = {"name": "n" * (LIMIT - 100), "scopes": ["read"]}

    # when
    response = httpx.post(f"{server.url}{KEYS}", json=payload, timeout=WAIT,
                          headers={"Authorization": f"Bearer {admin_key.key}"})

    # then the body was read and validated, not refused for its size
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"]["fields"][0]["field"] == "name"


def test_a_valid_body_under_the_limit_is_served(any_server, admin_key):
    server = any_server
    # when a key is created through the real server
    response = httpx.post(f"{server.url}{KEYS}", json={"name": "ci", "scopes": ["read"]},
                          headers={"Authorization": f"Bearer {admin_key.key}"}, timeout=WAIT)

    # then
    assert response.status_code == 201, response.text


def test_an_upload_route_takes_a_body_up_to_its_own_limit(server, admin_key):
    # given a body over the API limit but under the upload limit, to the
    # campaign contacts upload (a route that does not exist yet: 404 once read)
    path = "/api/v1/campaigns/00000000-0000-0000-0000-000000000000/contacts"
    auth = {"Authorization": f"Bearer {admin_key.key}"}

    # when
    within = httpx.post(f"{server.url}{path}", content=b"x" * (LIMIT * 2), headers=auth, timeout=WAIT)
    beyond = httpx.post(f"{server.url}{path}", content=b"x" * (UPLOAD_LIMIT + 1), headers=auth,
                        timeout=WAIT)
    elsewhere = httpx.post(f"{server.url}{KEYS}", content=b"x" * (LIMIT * 2), headers=auth, timeout=WAIT)

    # then the upload route read it; past its own limit, and anywhere else, it is a 413
    assert within.status_code != 413, within.text
    assert beyond.status_code == 413
    assert beyond.json()["error"]["details"] == {"limit_bytes": UPLOAD_LIMIT}
    assert elsewhere.status_code == 413


def test_a_content_length_that_is_not_a_number_is_a_400():
    # given a request whose Content-Length no server parser would pass on: the
    # application is asked directly
    scope = {"type": "http", "method": "POST", "path": KEYS, "query_string": b"",
             "headers": [(b"content-length", b"abc")]}

    async def answer():
        app = ApplicationCommunicator(application, scope)
        return await app.receive_output(WAIT), await app.receive_output(WAIT)

    # when
    start, body = asyncio.run(answer())

    # then
    assert start["status"] == 400
    assert json.loads(body["body"])["error"]["code"] == "invalid_content_length"
