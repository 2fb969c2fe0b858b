"""Helpers for tests that run real processes (daphne, Celery workers) and read
their streams over real sockets."""

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
from django.conf import settings


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """Asks the process to stop (SIGTERM), and kills it if it has not within `timeout`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_database_url() -> str:
    """A DATABASE_URL for a subprocess, pointing at the database this test run uses."""
    from django.db import connection

    config = connection.settings_dict
    if config["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{config['NAME']}"
    credentials = quote(config.get("USER") or "postgres", safe="")
    if config.get("PASSWORD"):
        credentials += ":" + quote(config["PASSWORD"], safe="")
    return (f"postgres://{credentials}@{config.get('HOST') or '127.0.0.1'}:"
            f"{config.get('PORT') or 5432}/{config['NAME']}")


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _server_command(server: str, port: int) -> list[str]:
    if server == "uvicorn":
        return [sys.executable, "-m", "project.serve_uvicorn", "--host", "127.0.0.1", "--port", str(port)]
    return [sys.executable, "-m", "project.serve", "-b", "127.0.0.1", "-p", str(port),
            "project.asgi:application"]


# The metrics token of the servers running_server starts (DEBUG is off there).
SERVER_METRICS_TOKEN = "test-metrics-token"  # noqa: S105

# The server running_server starts when a test names none: uvicorn, as in
# production (docs/architecture.md); the stream tests run under both.
SERVERS = ("uvicorn", "daphne")
default_server = "uvicorn"


@contextmanager
def running_server(tmp_path: Path, *, env: dict | None = None, startup_timeout: float = 30,
                   server: str | None = None, port: int | None = None):
    """A real ASGI server (uvicorn via project.serve_uvicorn, or daphne via
    project.serve) on a free loopback port (or `port`, to restart one in place),
    sharing this test run's database and Redis; stopped with SIGTERM at the end."""
    from project.local_redis import free_loopback_port

    server = server or default_server

    port = port or free_loopback_port()
    log_path = tmp_path / f"{server}-{port}.log"
    for restart in range(1, 100):  # a server restarted on its port keeps its earlier log
        if not log_path.exists():
            break
        log_path = tmp_path / f"{server}-{port}-{restart}.log"
    process_env = {
        **os.environ, "DEBUG": "false", "SECRET_KEY": os.environ.get("SECRET_KEY", "test-secret"),
        "DATABASE_URL": test_database_url(), "LOG_LEVEL": "WARNING",
        # A loopback server spoken to in plain HTTP: no redirect to HTTPS.
        "SECURE_SSL_REDIRECT": "false", "METRICS_TOKEN": SERVER_METRICS_TOKEN, **(env or {}),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            _server_command(server, port),
            cwd=settings.BASE_DIR, env=process_env, stdout=log, stderr=subprocess.STDOUT,
        )
    server = ServerProcess(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        _wait_until_healthy(server, startup_timeout)
        yield server
    finally:
        stop_process(process)


@contextmanager
def running_worker(tmp_path: Path, *, env: dict | None = None, startup_timeout: float = 30,
                   beat: bool = False):
    """A real Celery worker (solo pool) on this test run's database and Redis
    broker, with the beat inside it when `beat`; stopped with SIGTERM at the end.
    Yields its log path."""
    log_path = tmp_path / "celery-worker.log"
    process_env = {
        **os.environ, "DEBUG": "false", "SECRET_KEY": os.environ.get("SECRET_KEY", "test-secret"),
        "DATABASE_URL": test_database_url(), "LOG_LEVEL": "INFO", **(env or {}),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "project", "worker", "--pool", "solo",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO",
             *(["--beat", "--schedule", str(tmp_path / "celerybeat-schedule")] if beat else [])],
            cwd=settings.BASE_DIR, env=process_env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + startup_timeout
        while b"ready." not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.1)
        yield log_path
    finally:
        stop_process(process)


def _wait_until_healthy(server: ServerProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited with {server.process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within {timeout}s:\n{server.log()}")


@dataclass
class SseEvent:
    event: str
    data: dict
    id: str | None = None


def sse_events(response: httpx.Response):
    """Parses a text/event-stream response into SseEvents as they arrive."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if "event" in fields:
                yield SseEvent(event=fields["event"], data=json.loads(fields.get("data", "null")),
                               id=fields.get("id"))
            fields = {}
        elif not line.startswith(":") and ":" in line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


class SseReader:
    """Reads one stream's events across several calls (a response's lines can be
    iterated only once)."""

    def __init__(self, response: httpx.Response):
        self._events = sse_events(response)

    def next(self) -> SseEvent:
        return next(self._events)

    def until(self, predicate, *, limit: int = 10_000) -> list[SseEvent]:
        """Events up to the first for which `predicate(event)` holds (included), the
        end of the stream, or `limit` events; the response's read timeout bounds
        the wait for each one."""
        events: list[SseEvent] = []
        for event in self._events:
            events.append(event)
            if predicate(event) or len(events) >= limit:
                break
        return events
