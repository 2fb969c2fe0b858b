"""Pushpin (a GRIP proxy, Debian's `pushpin`) in front of the web processes:
its configuration, rendered into a work directory of its own, and a context
manager that runs it; `REALTIME_FRONT=pushpin` (docs/operations.md, "Pushpin
in front").

    python -m project.pushpin --port 8000 --publish-port 5561 \\
        --origins 8001,8002 --sig-key-env GRIP_SIG_KEY

runs one in the foreground (`make run-pushpin`'s Procfile.pushpin).

Debian's /etc/pushpin/pushpin.conf expects zurl (the HTTP client Pushpin
reaches the origins through) to run as a system service with its sockets in
/var/run/zurl; without that service every proxied request hangs. The config
here starts zurl among Pushpin's own services and puts every socket in the
work directory, so an unprivileged user can run several Pushpins at once:

- the ZeroMQ endpoints (publish, command) are ipc:// sockets in the run
  directory instead of tcp ports;
- the two HTTP ports, the proxy's and the publish endpoint's, are explicit.
  Pushpin's `port_offset` would not do: it shifts the tcp:// ZeroMQ specs and
  the publish port but not `http_port`, so two instances would still need
  their proxy ports chosen one by one, and offsets from the 5560s collide
  as soon as two runs pick the same one.
"""

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

PUSHPIN_BINARY = "pushpin"
# The handler's rate limiter delivers everything at once when message_rate is
# 0 or less (ratelimiter.cpp: rate -1, no batch size), measured on 1.36 in
# project/tests/test_pushpin.py. The default, 2,500 deliveries a second per
# route in 25 ms batches, would take seconds to fan one event out to a few
# thousand streams.
MESSAGE_RATE_UNLIMITED = 0
# Deliveries waiting in the limiter past which Pushpin drops. Unlimited rate
# leaves nothing waiting long; the bound stays, ten times the default, so that
# a burst cannot grow the handler's memory without end.
MESSAGE_HWM = 250_000
# Channels one held stream may subscribe to (default 20; extras are cut with
# "too many subscriptions"): a stream holds six channels of its own plus one
# per subscribed call (docs/operations.md, "Pushpin in front").
CONNECTION_SUBSCRIPTION_MAX = 64


class PushpinMissing(RuntimeError):
    pass


def pushpin_binary() -> str:
    found = shutil.which(PUSHPIN_BINARY)
    if not found:
        raise PushpinMissing("no `pushpin` binary on PATH: install Debian's pushpin "
                             "(apt-get install pushpin)")
    return found


def routes_text(origins: list[int], *, probe: tuple[str, int] | None = None) -> str:
    """Every request to the origins on 127.0.0.1, in one route line. Pushpin
    tries a line's targets in order and moves to the next only when one fails
    to connect (proxysession.cpp tryNextTarget): failover, not load sharing.
    WebSocket is passed through as WebSocket (no `over_http`), so the web
    process serves it as it does without Pushpin.

    With `probe` (host, port), requests for that host go to that port instead
    (running_pushpin's readiness probe, _holds_a_stream)."""
    if not origins:
        raise ValueError("Pushpin needs at least one origin port")
    probe_line = f"{probe[0]} 127.0.0.1:{probe[1]}\n" if probe else ""
    return probe_line + "* " + " ".join(f"127.0.0.1:{port}" for port in origins) + "\n"


def config_text(*, rundir: Path, logdir: Path, routes_path: Path, http_port: int, publish_port: int,
                sig_key: str) -> str:
    return f"""\
[global]
include={{libdir}}/internal.conf
rundir={rundir}
ipc_prefix=pushpin-
port_offset=0
stats_connection_ttl=120

[runner]
# zurl is one of Pushpin's own services here, not a system service (see module docstring).
services=condure,zurl,pushpin-proxy,pushpin-handler
http_port=127.0.0.1:{http_port}
logdir={logdir}
log_level=2
client_buffer_size=8192
client_maxconn=50000
condure_bin=condure
zurl_bin=zurl

[proxy]
zurl_out_specs=ipc://{{rundir}}/{{ipc_prefix}}zurl-in
zurl_out_stream_specs=ipc://{{rundir}}/{{ipc_prefix}}zurl-in-stream
zurl_in_specs=ipc://{{rundir}}/{{ipc_prefix}}zurl-out
routesfile={routes_path}
debug=false
auto_cross_origin=false
accept_x_forwarded_protocol=false
set_x_forwarded_protocol=proto-only
x_forwarded_for=
x_forwarded_for_trusted=
orig_headers_need_mark=
accept_pushpin_route=false
log_from=false
log_user_agent=false
sig_iss=pushpin
sig_key={sig_key}
upstream_key=
updates_check=off

[handler]
push_in_spec=ipc://{{rundir}}/{{ipc_prefix}}push-in
push_in_sub_specs=ipc://{{rundir}}/{{ipc_prefix}}push-in-sub
push_in_sub_connect=false
push_in_http_addr=127.0.0.1
push_in_http_port={publish_port}
push_in_http_max_headers_size=10000
push_in_http_max_body_size=1000000
stats_spec=ipc://{{rundir}}/{{ipc_prefix}}stats
command_spec=ipc://{{rundir}}/{{ipc_prefix}}command
message_rate={MESSAGE_RATE_UNLIMITED}
message_hwm={MESSAGE_HWM}
message_wait=5000
id_cache_ttl=60
connection_subscription_max={CONNECTION_SUBSCRIPTION_MAX}
subscription_linger=60
stats_subscription_ttl=60
stats_report_interval=10
stats_format=tnetstring
"""


def render_config(workdir: Path, *, http_port: int, publish_port: int, origins: list[int],
                  sig_key: str, probe: tuple[str, int] | None = None) -> Path:
    """Writes pushpin.conf and its routes file into `workdir` (with run/ and log/
    beside them); the path of pushpin.conf."""
    if not sig_key or "\n" in sig_key:
        raise ValueError("sig_key must be one non-empty line")
    workdir = Path(workdir).resolve()
    rundir, logdir = workdir / "run", workdir / "log"
    rundir.mkdir(parents=True, exist_ok=True)
    logdir.mkdir(parents=True, exist_ok=True)
    routes_path = workdir / "routes"
    routes_path.write_text(routes_text(origins, probe=probe))
    config_path = workdir / "pushpin.conf"
    config_path.write_text(config_text(rundir=rundir, logdir=logdir, routes_path=routes_path,
                                       http_port=http_port, publish_port=publish_port, sig_key=sig_key))
    return config_path


def pushpin_command(config_path: Path) -> list[str]:
    # --merge-output: the services' logs go to the runner's output, one log to read.
    return [pushpin_binary(), "--config", str(config_path), "--merge-output"]


@dataclass
class RunningPushpin:
    url: str
    publish_url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def session_members(session: int) -> list[int]:
    """The pids of the live processes of session `session`, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended while we looked
            continue
        # Fields after the command (which may hold spaces and parentheses):
        # state, ppid, pgrp, session.
        state, _ppid, _pgrp, sid = text.rpartition(")")[2].split()[:4]
        if int(sid) == session and state != "Z":
            members.append(int(stat.parent.name))
    return members


def stop_session(process: subprocess.Popen, timeout: float = 10) -> None:
    """Stops the Pushpin runner `process`, started in a session of its own, and
    every service it started. The runner puts each service (condure, zurl,
    pushpin-proxy, pushpin-handler) in a process group of its own, so a group
    signal would miss them; they all stay in the runner's session. SIGTERM to
    the runner, which stops its services itself; after `timeout`, SIGKILL to
    every process still in the session."""
    session = process.pid
    with suppress(ProcessLookupError):  # already gone
        process.terminate()
    deadline = time.monotonic() + timeout
    while session_members(session) and time.monotonic() < deadline:
        process.poll()  # reaps the runner, which would otherwise linger as a zombie
        time.sleep(0.05)
    for leftover in session_members(session):
        with suppress(ProcessLookupError):  # already gone
            os.kill(leftover, signal.SIGKILL)
    process.wait(timeout)


def free_loopback_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports: each probe stays bound until all are
    chosen, so none is handed out twice."""
    with ExitStack() as probes:
        bound = [probes.enter_context(socket.socket()) for _ in range(count)]
        for probe in bound:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in bound]


@contextmanager
def running_pushpin(workdir: Path, *, origins: list[int], sig_key: str, startup_timeout: float = 30,
                    http_port: int | None = None, publish_port: int | None = None):
    """A Pushpin in front of `origins` (ports on 127.0.0.1), configured in
    `workdir`, on free loopback ports unless given; yields a RunningPushpin once
    its publish endpoint answers and it holds a stream (a probe origin of its
    own answers with a GRIP hold). Leaving stops it and every process it
    started (one session: stop_session)."""
    if http_port is None or publish_port is None:
        free_http, free_publish = free_loopback_ports(2)
        http_port, publish_port = http_port or free_http, publish_port or free_publish
    workdir = Path(workdir)
    # A host name nobody else sends: the readiness probe's route, out of reach of other clients.
    probe_host = f"probe-{secrets.token_hex(8)}.invalid"
    probe_origin = ThreadingHTTPServer(("127.0.0.1", 0), _ProbeHold)
    probe_thread = threading.Thread(target=probe_origin.serve_forever, daemon=True)
    probe_thread.start()
    try:
        config_path = render_config(workdir, http_port=http_port, publish_port=publish_port, origins=origins,
                                    sig_key=sig_key, probe=(probe_host, probe_origin.server_address[1]))
        command = pushpin_command(config_path)
        log_path = workdir / "pushpin.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        pushpin = RunningPushpin(url=f"http://127.0.0.1:{http_port}",
                                 publish_url=f"http://127.0.0.1:{publish_port}/publish/",
                                 process=process, log_path=log_path)
        try:
            _wait_until_ready(pushpin, probe_host, startup_timeout)
        except BaseException:
            stop_session(process)
            raise
    finally:
        # Its route stays, for a host name no client sends.
        probe_origin.shutdown()
        probe_origin.server_close()
        probe_thread.join(5)
    try:
        yield pushpin
    finally:
        stop_session(process)


def _wait_until_ready(pushpin: RunningPushpin, probe_host: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pushpin.process.poll() is not None:
            raise RuntimeError(f"pushpin exited with {pushpin.process.returncode}:\n{pushpin.log()}")
        if _publish_answers(pushpin.publish_url) and _holds_a_stream(pushpin.url, probe_host):
            return
        time.sleep(0.1)
    raise RuntimeError(f"pushpin was not ready within {timeout}s:\n{pushpin.log()}")


def _publish_answers(publish_url: str) -> bool:
    """An empty publish: any HTTP answer means the handler is listening."""
    try:
        httpx.post(publish_url, json={"items": []}, timeout=1)
        return True
    except httpx.TransportError:
        return False


class _ProbeHold(BaseHTTPRequestHandler):
    """The readiness probe's origin: every GET becomes a stream Pushpin holds."""

    def do_GET(self):
        body = _PROBE_BODY + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Grip-Hold", "stream")
        self.send_header("Grip-Channel", self.headers.get("Host", "probe"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


_PROBE_BODY = b"held by pushpin"


def _holds_a_stream(url: str, probe_host: str) -> bool:
    """A stream held from an origin's GRIP answer, the way the web processes'
    streams are. The proxy port accepting and the handler answering publishes
    are not enough: until the handler has connected to the proxy's accept
    socket, a GRIP hold is answered "Accept service unavailable." (seen on 1.36
    within the first 100 ms). Pushpin's built-in test handler was the probe
    first, and a GRIP hold from an origin still met that answer once after it."""
    try:
        with httpx.stream("GET", f"{url}/", headers={"Host": probe_host}, timeout=1) as response:
            return (response.status_code == 200
                    and next(response.iter_lines(), "") == _PROBE_BODY.decode())
    except httpx.TransportError:
        return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Runs Pushpin in front of Callboard's web processes.")
    parser.add_argument("--port", type=int, required=True, help="the proxy's port on 127.0.0.1")
    parser.add_argument("--publish-port", type=int, default=5561,
                        help="the GRIP publish endpoint's port on 127.0.0.1 (default 5561, Pushpin's)")
    parser.add_argument("--origins", required=True, help="the web processes' ports, comma-separated")
    parser.add_argument("--sig-key-env", default="GRIP_SIG_KEY",
                        help="the environment variable holding the GRIP signing key")
    parser.add_argument("--workdir", default=".run/pushpin", help="where the config, sockets and logs go")
    args = parser.parse_args(argv)
    sig_key = os.environ.get(args.sig_key_env, "")
    if not sig_key:
        parser.error(f"{args.sig_key_env} is not set: Pushpin signs what it forwards with it")
    try:
        origins = [int(port) for port in args.origins.split(",") if port.strip()]
        config_path = render_config(Path(args.workdir), http_port=args.port, publish_port=args.publish_port,
                                    origins=origins, sig_key=sig_key)
        command = pushpin_command(config_path)
    except (PushpinMissing, ValueError) as error:
        sys.exit(f"project.pushpin: {error}")
    # The runner in our place: honcho's SIGTERM (to this process's group) reaches
    # it directly, and it stops its services itself.
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
