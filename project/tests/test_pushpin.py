"""Pushpin in front of the web processes (project/pushpin.py, running_server's
server="pushpin"), with Debian's real pushpin: what reaches a client through
it, its publish endpoint, its routes, its rate limit and its stop."""

import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from project.pushpin import (
    MESSAGE_RATE_UNLIMITED,
    PushpinMissing,
    free_loopback_ports,
    pushpin_binary,
    render_config,
    running_pushpin,
    session_members,
    stop_session,
)
from project.testing import PUSHPIN_TEST_SIG_KEY, running_server
from realtime.tests.streaming import WAIT, emit_marker, open_stream, stream_request

PUSHPIN_SERVICES = {"pushpin", "condure", "zurl", "pushpin-proxy", "pushpin-handler"}


@pytest.fixture
def pushpin_installed():
    """Skips without the binary on a developer's machine; fails in CI, which
    installs it (.ci/run), so that CI cannot skip these silently."""
    if shutil.which("pushpin"):
        return
    if os.environ.get("CI") == "true":
        pytest.fail("pushpin is not installed, and CI must run the Pushpin tests (.ci/run installs it)")
    pytest.skip("pushpin is not installed (apt-get install pushpin)")


class _PortEcho(BaseHTTPRequestHandler):
    """Answers every GET with the port it listens on."""

    def do_GET(self):
        body = str(self.server.server_address[1]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet: pytest shows stderr of failures
        pass


class _HeldStream(BaseHTTPRequestHandler):
    """A GRIP origin: every GET becomes a stream Pushpin holds on channel `test`."""

    def do_GET(self):
        body = b"held\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Grip-Hold", "stream")
        self.send_header("Grip-Channel", "test")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def origin(handler, port: int):
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)


def command_name(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def publish(pushpin, items: list[dict]) -> httpx.Response:
    return httpx.post(pushpin.publish_url, json={"items": items}, timeout=WAIT)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("pushpin_installed")
def test_health_and_a_stream_through_pushpin_answer_as_the_server_does(tmp_path, workspace, read_key):
    # given uvicorn with Pushpin in front
    with running_server(tmp_path, server="pushpin") as server:
        assert server.url != server.origin_url

        # when a client asks both for /healthz
        through_pushpin = httpx.get(f"{server.url}/healthz", timeout=WAIT)
        direct = httpx.get(f"{server.origin_url}/healthz", timeout=WAIT)

        # then the answers are the same
        assert (through_pushpin.status_code, through_pushpin.json()) == (direct.status_code, direct.json())

        # when a client opens the workspace's stream through Pushpin and an event is emitted
        with open_stream(server, key=read_key.key) as stream:
            assert stream.response.headers["content-type"].startswith("text/event-stream")
            marker = emit_marker(workspace)

            # then the stream delivers it
            events = stream.until_event(marker)
        assert events[-1].data == marker

        # and a refused stream is refused through Pushpin as it is directly
        with stream_request(server, key="cbk_not-a-key") as refused:
            refused.read()
        assert refused.status_code == 401


@pytest.mark.e2e
@pytest.mark.usefixtures("pushpin_installed")
def test_the_server_behind_pushpin_is_told_where_to_publish(tmp_path, db):
    # given uvicorn with Pushpin in front
    with running_server(tmp_path, server="pushpin") as server:
        # when the web process's environment is read
        environ = dict(
            entry.split("=", 1) for entry in
            Path(f"/proc/{server.process.pid}/environ").read_text().split("\0") if "=" in entry
        )

    # then it names Pushpin's publish endpoint and the key Pushpin signs with
    assert environ["REALTIME_FRONT"] == "pushpin"
    assert environ["GRIP_URL"] + "/publish/" == server.publish_url
    assert environ["GRIP_SIG_KEY"] == PUSHPIN_TEST_SIG_KEY


@pytest.mark.usefixtures("pushpin_installed")
def test_the_publish_endpoint_accepts_a_grip_publish(tmp_path):
    # given a Pushpin (its origin need not exist to publish)
    (origin_port,) = free_loopback_ports(1)
    with running_pushpin(tmp_path, origins=[origin_port], sig_key="key") as pushpin:
        # when a GRIP publish is posted
        response = publish(pushpin, [{"channel": "test", "id": "1",
                                      "formats": {"http-stream": {"content": "event: x\ndata: {}\n\n"}}}])

    # then it is taken
    assert response.status_code == 200
    assert response.text.strip() == "Published"


@pytest.mark.usefixtures("pushpin_installed")
def test_a_held_stream_gets_a_large_publish_at_once(tmp_path):
    # given a stream held by a Pushpin whose rate limit is off (MESSAGE_RATE_UNLIMITED)
    count = 5000
    (origin_port,) = free_loopback_ports(1)
    with origin(_HeldStream, origin_port), \
            running_pushpin(tmp_path, origins=[origin_port], sig_key="key") as pushpin, \
            httpx.stream("GET", f"{pushpin.url}/held", timeout=WAIT) as response:
        lines = response.iter_lines()
        assert next(lines) == "held"

        # when one publish carries 5,000 items for it
        started = time.monotonic()
        publish(pushpin, [{"channel": "test", "formats": {"http-stream": {"content": f"{number}\n"}}}
                          for number in range(count)])
        received = [line for _, line in zip(range(count), lines, strict=False)]
        took = time.monotonic() - started

    # then every one arrives, in order, sooner than Pushpin's default rate
    # (2,500 a second) would let through
    assert MESSAGE_RATE_UNLIMITED <= 0
    assert received == [str(number) for number in range(count)]
    assert took < count / 2500, f"{count} items took {took:.2f}s"


@pytest.mark.usefixtures("pushpin_installed")
def test_a_route_with_two_origins_fails_over_in_order_and_does_not_spread_load(tmp_path):
    # given two origins that answer with their port, and a Pushpin routing to both
    first, second, gone = free_loopback_ports(3)
    with origin(_PortEcho, first), origin(_PortEcho, second):
        with running_pushpin(tmp_path / "both", origins=[first, second], sig_key="key") as pushpin:
            # when twenty requests go through
            answered_by = {httpx.get(f"{pushpin.url}/", timeout=WAIT).text for _ in range(20)}

        # then the first origin answers them all
        assert answered_by == {str(first)}

        # when the first origin listens nowhere
        with running_pushpin(tmp_path / "failover", origins=[gone, second], sig_key="key") as pushpin:
            answered_by = {httpx.get(f"{pushpin.url}/", timeout=WAIT).text for _ in range(5)}

        # then the second answers
        assert answered_by == {str(second)}


@pytest.mark.usefixtures("pushpin_installed")
def test_stopping_leaves_no_pushpin_process_behind(tmp_path):
    # given a running Pushpin and the processes of its session
    (origin_port,) = free_loopback_ports(1)
    with running_pushpin(tmp_path, origins=[origin_port], sig_key="key") as pushpin:
        started = session_members(pushpin.process.pid)
        assert {command_name(pid) for pid in started} == PUSHPIN_SERVICES

    # when it has been stopped (leaving the context)
    # then none of them is left, and the proxy port is closed
    assert session_members(pushpin.process.pid) == []
    assert not [pid for pid in started if Path(f"/proc/{pid}").exists()]
    with pytest.raises(httpx.TransportError):
        httpx.get(pushpin.url, timeout=1)


@pytest.mark.usefixtures("pushpin_installed")
def test_the_command_line_runs_pushpin_in_the_foreground_in_front_of_the_origins(tmp_path):
    # given an origin, and the command Procfile.pushpin runs
    origin_port, proxy_port, publish_port = free_loopback_ports(3)
    command = [sys.executable, "-m", "project.pushpin", "--port", str(proxy_port),
               "--publish-port", str(publish_port), "--origins", str(origin_port),
               "--sig-key-env", "TEST_GRIP_KEY", "--workdir", str(tmp_path / "pushpin")]
    with origin(_PortEcho, origin_port), (tmp_path / "out.log").open("wb") as out:
        # when it runs (in a session of its own, as honcho starts it)
        process = subprocess.Popen(command, env={**os.environ, "TEST_GRIP_KEY": "key"}, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            answer = wait_for_answer(f"http://127.0.0.1:{proxy_port}/")
            runner = command_name(process.pid)
            published = publish_to(f"http://127.0.0.1:{publish_port}/publish/")
        finally:
            stop_session(process)

    # then Pushpin itself is the process (no Python parent to outlive it), and it proxies and publishes
    assert runner == "pushpin"
    assert answer == str(origin_port), (tmp_path / "out.log").read_text()
    assert published == "Published"
    assert session_members(process.pid) == []


def wait_for_answer(url: str) -> str:
    deadline = time.monotonic() + WAIT
    while True:
        try:
            return httpx.get(url, timeout=1).text
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"nothing answered at {url}"
            time.sleep(0.1)


def publish_to(publish_url: str) -> str:
    return httpx.post(publish_url, json={"items": []}, timeout=WAIT).text.strip()


def test_the_config_listens_on_loopback_and_signs_with_the_callers_key(tmp_path):
    # when a config is rendered
    config = render_config(tmp_path, http_port=18001, publish_port=18002, origins=[18003, 18004],
                           sig_key="the-key").read_text()

    # then Pushpin listens on 127.0.0.1 only, runs zurl itself and routes to both origins
    assert "http_port=127.0.0.1:18001\n" in config
    assert "push_in_http_addr=127.0.0.1\npush_in_http_port=18002\n" in config
    assert "services=condure,zurl,pushpin-proxy,pushpin-handler\n" in config
    assert "sig_key=the-key\n" in config
    assert (tmp_path / "routes").read_text() == "* 127.0.0.1:18003 127.0.0.1:18004\n"


def test_a_missing_binary_says_how_to_install_it(monkeypatch, tmp_path):
    # given a PATH without pushpin
    monkeypatch.setenv("PATH", str(tmp_path))

    # when / then
    with pytest.raises(PushpinMissing, match="install Debian's pushpin"):
        pushpin_binary()
