"""Helpers for tests that run real processes (daphne, Celery workers) and read
their streams over real sockets."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
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


test_database_url.__test__ = False  # a helper: pytest collects it where a test module imports it


@dataclass
class ServerProcess:
    """A running web process. Behind Pushpin (server="pushpin") `url` is
    Pushpin's, `origin_url` the web process's own and `publish_url` Pushpin's
    GRIP publish endpoint; `process` and `log_path` stay the web process's."""

    url: str
    process: subprocess.Popen
    log_path: Path
    origin_url: str | None = None
    publish_url: str | None = None
    pushpin_log_path: Path | None = None

    def log(self) -> str:
        log = self.log_path.read_text(errors="replace")
        if self.pushpin_log_path and self.pushpin_log_path.exists():
            log += "\n--- pushpin ---\n" + self.pushpin_log_path.read_text(errors="replace")
        return log


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

# The GRIP signing key of the Pushpins running_server(server="pushpin") starts.
PUSHPIN_TEST_SIG_KEY = "test-grip-sig-key-of-32-characters-at-least"


@contextmanager
def running_server(tmp_path: Path, *, env: dict | None = None, startup_timeout: float = 30,
                   server: str | None = None, port: int | None = None):
    """A real ASGI server (uvicorn via project.serve_uvicorn, or daphne via
    project.serve) on a free loopback port (or `port`, to restart one in place),
    sharing this test run's database and Redis; stopped with SIGTERM at the end.
    server="pushpin" is uvicorn with a Pushpin in front (_running_behind_pushpin)."""
    from project.local_redis import free_loopback_port

    server = server or default_server
    if server == "pushpin":
        with _running_behind_pushpin(tmp_path, env=env, startup_timeout=startup_timeout,
                                     port=port) as fronted:
            yield fronted
        return

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
def _running_behind_pushpin(tmp_path: Path, *, env: dict | None, startup_timeout: float, port: int | None):
    """uvicorn told it has Pushpin in front (REALTIME_FRONT=pushpin, GRIP_URL,
    GRIP_SIG_KEY), and that Pushpin, on ports of their own. Pushpin's ports are
    chosen before uvicorn starts: its environment names the publish endpoint."""
    from project.pushpin import free_loopback_ports, running_pushpin

    origin_port, proxy_port, publish_port = free_loopback_ports(3)
    grip_env = {"REALTIME_FRONT": "pushpin", "GRIP_URL": f"http://127.0.0.1:{publish_port}",
                "GRIP_SIG_KEY": PUSHPIN_TEST_SIG_KEY, **(env or {})}
    with running_server(tmp_path, env=grip_env, startup_timeout=startup_timeout, server="uvicorn",
                        port=port or origin_port) as origin:
        origin_port = int(origin.url.rpartition(":")[2])
        with running_pushpin(tmp_path / f"pushpin-{origin_port}", origins=[origin_port],
                             sig_key=grip_env["GRIP_SIG_KEY"], startup_timeout=startup_timeout,
                             http_port=proxy_port, publish_port=publish_port) as pushpin:
            fronted = replace(origin, url=pushpin.url, origin_url=origin.url, publish_url=pushpin.publish_url,
                              pushpin_log_path=pushpin.log_path)
            _wait_until_healthy(fronted, startup_timeout)
            yield fronted


@contextmanager
def running_worker(tmp_path: Path, *, env: dict | None = None, startup_timeout: float = 30,
                   beat: bool = False):
    """A real Celery worker (solo pool) on this test run's database and Redis
    broker, with the beat inside it when `beat`; stopped with SIGTERM at the end.
    Yields its log path."""
    with worker_process(tmp_path, env=env or {}, beat=beat, startup_timeout=startup_timeout) as worker:
        yield worker.log_path


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


# --- faults: private services a test may kill ------------------------------------------


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pool_children(self) -> list[int]:
        """The pids of its pool's processes (prefork), from /proc."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []


@contextmanager
def worker_process(tmp_path: Path, *, env: dict, name: str = "worker", pool: str = "solo",
                   beat: bool = False, startup_timeout: float = 30):
    """A real Celery worker on this test run's database and Redis broker (`env`
    may name others), with the beat inside it when `beat`; yields its process, whose
    log has a name of its own (a test that kills workers may start several)."""
    log_path = tmp_path / f"celery-{name}.log"
    process_env = {
        **os.environ, "DEBUG": "false", "SECRET_KEY": os.environ.get("SECRET_KEY", "test-secret"),
        "DATABASE_URL": test_database_url(), "LOG_LEVEL": "INFO", **env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "project", "worker", "--pool", pool, "--concurrency", "1",
             "--hostname", f"{name}-{os.getpid()}@127.0.0.1",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO",
             *(["--beat", "--schedule", str(tmp_path / f"celerybeat-schedule-{name}")] if beat else [])],
            cwd=settings.BASE_DIR, env=process_env, stdout=log, stderr=subprocess.STDOUT,
        )
    worker = WorkerProcess(process=process, log_path=log_path)
    try:
        _wait_for_log_line(worker, b"ready.", startup_timeout, "the worker did not start")
        yield worker
    finally:
        stop_process(process)


@contextmanager
def beat_process(tmp_path: Path, *, env: dict, name: str = "beat", startup_timeout: float = 30):
    """A real `celery beat` of its own (its schedule and pid files under `tmp_path`,
    so that several can run at once, as a deployment with more than one beat does)
    on this test run's database and Redis broker; yields its process."""
    log_path = tmp_path / f"celery-{name}.log"
    process_env = {
        **os.environ, "DEBUG": "false", "SECRET_KEY": os.environ.get("SECRET_KEY", "test-secret"),
        "DATABASE_URL": test_database_url(), "LOG_LEVEL": "INFO", **env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "project", "beat", "-l", "INFO",
             "--schedule", str(tmp_path / f"celerybeat-schedule-{name}"),
             "--pidfile", str(tmp_path / f"celerybeat-{name}.pid")],
            cwd=settings.BASE_DIR, env=process_env, stdout=log, stderr=subprocess.STDOUT,
        )
    beat = WorkerProcess(process=process, log_path=log_path)
    try:
        # The banner's last line, printed as the scheduler starts (celery.beat's own
        # "Starting..." is below the level project.settings logs it at).
        _wait_for_log_line(beat, b"maxinterval ->", startup_timeout, "the beat did not start")
        yield beat
    finally:
        stop_process(process)


def _wait_for_log_line(started: WorkerProcess, line: bytes, timeout: float, failure: str) -> None:
    deadline = time.monotonic() + timeout
    while line not in started.log_path.read_bytes():
        if started.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{failure}:\n{started.log()}")
        time.sleep(0.1)


def _postgres_bin() -> Path:
    """POSTGRES_BIN, else Debian's newest /usr/lib/postgresql/<version>/bin."""
    if os.environ.get("POSTGRES_BIN"):
        return Path(os.environ["POSTGRES_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


POSTGRES_BIN = _postgres_bin()
# A throwaway cluster: nothing it holds needs to survive a crash of the machine.
_POSTGRES_OPTIONS = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                     "-c shared_buffers=16MB -c max_connections=50")


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb into a temporary directory, trust
    auth, a free loopback port), for a test that stops and restarts it: the
    system PostgreSQL is never touched. As root the server runs as `postgres`."""

    def __init__(self):
        from project.local_redis import free_loopback_port

        self.port = free_loopback_port()
        self.dir = Path(tempfile.mkdtemp(prefix="callboard-pg-"))
        self.data = self.dir / "data"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/callboard"

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        command = [str(POSTGRES_BIN / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    def create(self) -> "PrivatePostgres":
        """initdb, start, and an empty database `callboard`."""
        if not (POSTGRES_BIN / "initdb").exists():
            raise RuntimeError(f"no PostgreSQL binaries in {POSTGRES_BIN} (set POSTGRES_BIN)")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
                  "-E", "UTF8", "--locale", "C")
        self.start()
        with psycopg.connect(f"postgres://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as admin:
            admin.execute("CREATE DATABASE callboard")
        return self

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", "-t", "60",
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 {_POSTGRES_OPTIONS}",
                  "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session (clients see their connections drop), as a
        restart or failover does; `immediate` is a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-m", mode, "stop")

    def log(self) -> str:
        path = self.dir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with suppress(RuntimeError):  # already gone
                self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def manage(self, *args: str, env: dict | None = None, timeout: float = 180) -> str:
        """`manage.py ARGS` against this cluster; its stdout."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, capture_output=True, text=True,
            timeout=timeout, check=False,
            env={**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY", "test-secret"),
                 "DATABASE_URL": self.url, **(env or {})},
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout


@contextmanager
def private_postgres(*, migrated: bool = True):
    """A PrivatePostgres, migrated unless told not to; destroyed on leaving."""
    cluster = PrivatePostgres()
    try:
        cluster.create()
        if migrated:
            cluster.manage("migrate", "--noinput")
        yield cluster
    finally:
        cluster.destroy()


@contextmanager
def private_redis():
    """A PrivateRedis (project/local_redis.py) a test may kill and restart on its port."""
    from project.local_redis import PrivateRedis

    with PrivateRedis() as redis_server:
        yield redis_server


def at_once(work, times: int, *, timeout: float = 60) -> list:
    """`work()` in `times` threads let go together (a barrier), each closing its own
    database connection when done: what each returned, in the order they finished.
    The first error a thread met is raised here, and TimeoutError when a thread
    is still at work after `timeout` seconds."""
    start = threading.Barrier(times)
    results: list = []
    errors: list[BaseException] = []

    def run():
        from django.db import connection

        try:
            start.wait(timeout)
            results.append(work())
        except BaseException as error:  # raised below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if errors:
        raise errors[0]
    if any(thread.is_alive() for thread in threads):
        raise TimeoutError(f"{sum(thread.is_alive() for thread in threads)} of {times} threads "
                           f"did not finish within {timeout} s")
    return results


def wait_for(predicate, *, timeout: float, message, interval: float = 0.1):
    """Polls `predicate` until it returns something truthy (returned) or `timeout`
    passes (AssertionError with `message`, or what `message()` says then)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{message() if callable(message) else message} (within {timeout}s)")
        time.sleep(interval)

RATE_LIMIT_KEY_PATTERNS = ("callboard:ratelimit:*", "callboard:signin:*")


def forget_rate_limits() -> None:
    """Clears every rate-limit count and sign-in lockout in Redis: they outlive a
    test (a suite's worth of 401s from 127.0.0.1 would throttle the tests after)."""
    from project import ratelimit
    from project.redis_client import get_redis

    client = get_redis()
    for pattern in RATE_LIMIT_KEY_PATTERNS:
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
    ratelimit._skip_until = 0.0


def emitted(workspace, type: str) -> list[dict]:
    """The payloads of the events of `type` the workspace recorded, in cursor order:
    how every test reads what a service emitted (committed or not, the rows are
    written in the service's transaction)."""
    from realtime.models import Event

    return [row.data for row in Event.objects.filter(workspace=workspace, type=type).order_by("seq")]
