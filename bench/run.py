"""Realtime benchmarks: our engine and stock django-eventstream 5.3.4, same run, same machine.

    python bench/run.py                 # default sizes (make bench)
    python bench/run.py --quick         # small sizes, about 3 minutes (make bench ARGS=--quick)
    python bench/run.py --scenarios fanout,burst --engines ours --repeat 3

Each scenario starts a fresh server (ours: `python -m project.serve`; stock:
daphne with bench/stock) on a free 127.0.0.1 port, a publisher process and
the load generator processes (bench/loadgen.py), against one private Redis and
a fresh database made for this run. Results go to
bench/results/<scenario>-<timestamp>.json; the table is printed at the end and
written to bench/results/summary-<timestamp>.md. bench/README.md explains
every scenario and its caveats.
"""

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loadgen import merge_hists, percentile_from_hist  # noqa: E402
from project.local_redis import PrivateRedis, free_loopback_port  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
ALL_SCENARIOS = ["idle", "fanout", "many", "burst", "storm", "replay", "connects", "decode", "ingest",
                 "ingest-mixed", "rest", "rest_streams", "upload", "curves", "soak", "campaign", "schedules"]
# Which servers each scenario measures (bench/README.md says why); --engines picks among them.
# ours: our engine under uvicorn (project.serve_uvicorn, the production server);
# ours-daphne: the same engine under daphne (project.serve); ours-pushpin: ours under
# uvicorn with REALTIME_FRONT=pushpin behind a Pushpin that holds the streams (issue
# #21). ours-pushpin is not among the default --engines: the default run would pass
# 20 minutes with it, so it runs when named (bench/README.md).
DEFAULT_VARIANTS = {
    "idle": ["ours", "ours-pushpin", "ours-daphne", "stock"],
    "fanout": ["ours", "ours-pushpin", "ours-daphne", "stock"],
    "many": ["ours", "ours-pushpin", "ours-daphne", "stock"],
    "burst": ["ours", "ours-daphne", "stock", "stock+storage"],
    # Stock with storage holds a thread per stream: its 10,000-stream storm alone took
    # minutes. It runs when asked for (--scenarios storm --engines stock+storage); the
    # default run stays within 20 minutes.
    "storm": ["ours", "ours-pushpin", "ours-daphne"],
    "replay": ["ours", "ours-daphne"],
    "connects": ["ours", "floor"],
    "decode": ["ours", "ours-daphne", "stock"],
    "ingest": ["ours", "ours-daphne"],
    "ingest-mixed": ["ours"],
    # The REST floor: the same app and database under gunicorn's sync workers (WSGI).
    "rest": ["ours", "wsgi-floor"],
    # Streams beside REST load in one process of ours: what it measures is our process.
    "rest_streams": ["ours"],
    "upload": ["ours"],
    "curves": ["ours", "stock"],
    "soak": ["ours"],
    "campaign": ["ours"],
    "schedules": ["ours"],
    "exports": ["ours"],
    "webhooks": ["ours"],
    # Two web processes behind one Pushpin, the first killed mid-run (issue #21).
    "pushpin_failover": ["ours-pushpin"],
}
VARIANT_COLUMNS = ["ours", "ours-pushpin", "ours-daphne", "stock", "stock+storage", "floor", "wsgi-floor"]
# Scenarios that draw a shape (cost as work grows), not a contract number: one run of
# every variant (run F, with three of ours, took 22 minutes against a bound of 20).
SHAPES = {"curves"}
# Scenarios measured once per run: one soak is --soak-minutes long; one upload run is
# four uploads of up to 100,000 rows and one refused, each on a fresh server.
ONCE = {"curves", "soak", "campaign", "upload"}


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- processes ----------------------------------------------------------------------------


def proc_status(pid: int) -> dict:
    fields = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "Threads", "VmHWM"):
                fields[key] = int(value.split()[0])
    return {"rss_kb": fields.get("VmRSS"), "threads": fields.get("Threads"), "hwm_kb": fields.get("VmHWM")}


def proc_cpu_split(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of the process (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            parts = stat.read().rsplit(")", 1)[1].split()
        return int(parts[11]) / CLK_TCK, int(parts[12]) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of the process (all its threads)."""
    return sum(proc_cpu_split(pid))


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / CLK_TCK, sum(values) / CLK_TCK


def proc_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


class JsonProcess:
    """A child that answers one JSON line per JSON command line (loadgen, publisher)."""

    def __init__(self, name: str, argv: list[str], env: dict, log_path: Path):
        self.name = name
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.PIPE,  # noqa: S603
                                        stdout=subprocess.PIPE, stderr=self._log)
        self._buffer = b""
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.process.stdout, selectors.EVENT_READ)
        hello = self.read(timeout=60)
        if not hello.get("ready"):
            raise RuntimeError(f"{name} did not start: {hello}")
        self.pid = self.process.pid

    def send(self, **command) -> None:
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        self.process.stdin.flush()

    def read(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.name} did not answer within {timeout:.0f}s")
            if not self._selector.select(timeout=remaining):
                continue
            chunk = os.read(self.process.stdout.fileno(), 1 << 20)
            if not chunk:
                raise RuntimeError(f"{self.name} exited (code {self.process.poll()})")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        reply = json.loads(line)
        if reply.get("ok") is False:
            raise RuntimeError(f"{self.name}: {reply.get('error')}")
        return reply

    def call(self, limit: float, **command) -> dict:
        self.send(**command)
        return self.read(limit)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.send(cmd="quit")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._selector.close()
        self._log.close()


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- database -----------------------------------------------------------------------------


class Database:
    """A fresh database for ours: PostgreSQL (BENCH_DATABASE_URL, else DATABASE_URL's
    server with the database callboard_bench) or a SQLite file. Stock always gets a
    SQLite file: with storage it holds one connection per open stream (a thread
    each), which would exhaust a shared PostgreSQL server's max_connections."""

    def __init__(self, stamp: str):
        url = os.environ.get("BENCH_DATABASE_URL") or ""
        base = os.environ.get("DATABASE_URL") or ""
        if not url and base.startswith(("postgres://", "postgresql://")):
            url = urlunparse(urlparse(base)._replace(path="/callboard_bench"))
        if url:
            parsed = urlparse(url)
            name = parsed.path.lstrip("/")
            if "bench" not in name:
                raise SystemExit(f"refusing to recreate database {name!r}: its name must contain 'bench'")
            self.kind = "postgresql"
            self.ours_url = url
            self.names = {"ours": name}
            self.admin_url = urlunparse(parsed._replace(path="/postgres"))
            self.port = parsed.port or 5432
        else:
            self.kind = "sqlite"
        RESULTS.mkdir(parents=True, exist_ok=True)
        self.files = {"ours": RESULTS / f"ours-{stamp}.sqlite3", "stock": RESULTS / f"stock-{stamp}.sqlite3"}
        if self.kind == "sqlite":
            self.ours_url = f"sqlite:///{self.files['ours']}"
        self.stock_url = f"sqlite:///{self.files['stock']}"

    def kind_of(self, which: str) -> str:
        return self.kind if which == "ours" else "sqlite"

    def _remove_files(self) -> None:
        for path in self.files.values():
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

    def recreate(self) -> None:
        self._reset(create=True)

    def drop(self) -> None:
        self._reset(create=False)

    def _reset(self, *, create: bool) -> None:
        self._remove_files()
        if self.kind == "sqlite":
            return
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            for name in self.names.values():
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                if create:
                    connection.execute(f'CREATE DATABASE "{name}"')

    def seeded_url(self, suffix: str) -> str:
        """A database kept across runs beside this run's (its name + `_` + suffix),
        for data that takes long to make and no scenario changes (the REST reads;
        rest_streams adds its stream events to the realtime history, which none reads)."""
        if self.kind != "postgresql":
            raise RuntimeError("this scenario needs PostgreSQL (BENCH_DATABASE_URL or DATABASE_URL)")
        return urlunparse(urlparse(self.ours_url)._replace(path=f"/{self.names['ours']}_{suffix}"))

    def ensure(self, url: str, *, fresh: bool = False) -> None:
        """Creates the database of `url` when it is missing (`fresh`: anew in any case)."""
        import psycopg

        name = urlparse(url).path.lstrip("/")
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            if fresh:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                connection.execute(f'CREATE DATABASE "{name}"')

    def connections(self, pid: int, which: str, name: str | None = None) -> dict:
        """Database connections the process `pid` holds (in `name`, else the run's database)."""
        if self.kind_of(which) == "sqlite":
            target = str(self.files[which])
            count = 0
            with contextlib.suppress(OSError):
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    with contextlib.suppress(OSError):
                        if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                            count += 1
            return {"db_connections": count}
        ports = _tcp_local_ports_to(pid, self.port)
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            total, mine = connection.execute(
                "SELECT count(*), count(*) FILTER (WHERE client_port = ANY(%s)) "
                "FROM pg_stat_activity WHERE datname = %s", [list(ports), name or self.names[which]],
            ).fetchone()
        return {"db_connections": mine, "db_connections_all_clients": total}


def _socket_inodes(pid: int) -> set[str]:
    """Inodes of the sockets the process holds open."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    return inodes


def _tcp_local_ports_to(pid: int, remote_port: int) -> set[int]:
    """Local ports of the process's TCP sockets connected to `remote_port`."""
    inodes = _socket_inodes(pid)
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            next(lines)
            for line in lines:
                parts = line.split()
                if parts[9] in inodes and int(parts[2].rsplit(":", 1)[1], 16) == remote_port:
                    ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


# --- servers ------------------------------------------------------------------------------


class Setup:
    """What every scenario shares: Redis, databases, the workspace and key."""

    def __init__(self, args, stamp: str):
        self.args = args
        self.stamp = stamp
        self.logs = RESULTS / "logs" / stamp
        self.logs.mkdir(parents=True, exist_ok=True)
        self.redis = PrivateRedis().start()
        self.db = Database(stamp)
        self.secret = "bench-secret-key-of-this-run-only-" + stamp
        # ours-pushpin: the key Pushpin signs its requests with (HS256 wants 32 characters at least).
        self.grip_sig_key = "bench-grip-sig-key-of-this-run-only-" + stamp
        self.db.recreate()
        env = self.ours_env()
        log(f"database: {self.db.kind}; migrating ours and stock")
        subprocess.run([PY, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,  # noqa: S603
                       stdout=subprocess.DEVNULL)
        subprocess.run([PY, "-m", "django", "migrate", "--noinput"], cwd=ROOT,  # noqa: S603
                       env=self.stock_env(True),
                       check=True, stdout=subprocess.DEVNULL)
        made = {}
        for name in ("Bench", "Bench Other"):
            # read for the streams, runtime for the ingest scenarios; credit for the calls
            # the ingest and REST scenarios place (a workspace at zero places none)
            output = subprocess.run([PY, "manage.py", "createworkspace", name, "--api-key", "--json",  # noqa: S603
                                     "--scopes", "read,runtime", "--credit", "1000000"],
                                    cwd=ROOT, env=env, check=True,
                                    capture_output=True, text=True).stdout
            made[name] = json.loads(output)
        self.workspace = made["Bench"]["workspace_id"]
        self.api_key = made["Bench"]["api_key"]
        self.other_workspace = made["Bench Other"]["workspace_id"]

    def base_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
        # Production settings, but plain HTTP on loopback: no redirect to HTTPS.
        env.update({"REDIS_URL": self.redis.url, "SECRET_KEY": self.secret, "DEBUG": "false",
                    "SECURE_SSL_REDIRECT": "false",
                    "LOG_LEVEL": self.args.server_log_level, "PYTHONPATH": str(ROOT)})
        return env

    def ours_env(self) -> dict:
        env = self.base_env()
        env.update({"DATABASE_URL": self.db.ours_url, "DJANGO_SETTINGS_MODULE": "project.settings",
                    "REALTIME_MAX_STREAMS_PER_WORKSPACE": str(self.args.max_streams),
                    "REALTIME_MAX_STREAMS_PER_PRINCIPAL": str(self.args.max_streams)})
        return env

    def stock_env(self, storage: bool) -> dict:
        env = self.base_env()
        env.update({"BENCH_STOCK_DATABASE_URL": self.db.stock_url,
                    "DJANGO_SETTINGS_MODULE": "bench.stock.settings",
                    "BENCH_STOCK_STORAGE": "1" if storage else "0"})
        return env

    def close(self) -> None:
        self.redis.stop()
        if not self.args.keep_db:
            with contextlib.suppress(Exception):
                self.db.drop()


class Variant:
    def __init__(self, name: str, setup: Setup):
        self.name = name
        self.setup = setup
        # wsgi-floor serves our app (our settings and database) under another server.
        self.engine = ("ours" if name.startswith("ours") or name == "wsgi-floor"
                       else "floor" if name == "floor" else "stock")
        self.storage = name == "stock+storage"

    def env(self) -> dict:
        return self.setup.ours_env() if self.engine == "ours" else self.setup.stock_env(self.storage)

    @property
    def path(self) -> str:
        return {"ours": "/api/v1/events/stream", "stock": "/events/", "floor": "/"}[self.engine]

    @property
    def headers(self) -> list[str]:
        return [f"Authorization: Bearer {self.setup.api_key}"] if self.engine == "ours" else []

    @property
    def target(self) -> str:
        return self.setup.workspace if self.engine == "ours" else "bench"

    @property
    def other_target(self) -> str:
        return self.setup.other_workspace if self.engine == "ours" else "other"

    @property
    def db_which(self) -> str:
        return "ours" if self.engine == "ours" else "stock"


class Server:
    """The server under test on a free loopback port (`port`, where the clients
    connect). For ours-pushpin that is a Pushpin in front of `origins` web
    processes of ours (REALTIME_FRONT=pushpin): `pid` is then the first web
    process, the one Pushpin's failover route sends every request to while it
    is up, and what a scenario measures (RSS, CPU, fds, threads) is summed over
    every serving process, Pushpin's included, with a breakdown by process."""

    def __init__(self, variant: Variant, tag: str, env: dict | None = None, origins: int | None = None):
        self.variant = variant
        # A database other than the run's, when the env names one (the REST scenario's).
        self.database = urlparse(env["DATABASE_URL"]).path.lstrip("/") if env else None
        # The environment the server runs in; its publisher gets the same one (world()).
        self.env = env or variant.env()
        self.front = None  # the RunningPushpin in front (ours-pushpin)
        self.origins: list[subprocess.Popen] = []  # the web processes behind it
        self.origin_ports: list[int] = []
        self.origin_logs: list[Path] = []
        self.pushpin_processes: dict[str, int] = {}  # Pushpin's processes by role (their command name)
        self._logs = []
        self._stack = contextlib.ExitStack()
        args = variant.setup.args
        if variant.name == "ours-pushpin":
            self._start_behind_pushpin(tag, origins or args.pushpin_origins)
            return
        self.port = free_loopback_port()
        if args.listen_backlog:
            bind = ["-e", f"tcp:port={self.port}:interface=127.0.0.1:backlog={args.listen_backlog}"]
        else:
            bind = ["-b", "127.0.0.1", "-p", str(self.port)]
        if variant.name == "ours-daphne":
            argv = [PY, "-m", "project.serve", *bind, "project.asgi:application"]
        elif variant.name == "wsgi-floor":
            # One sync worker: the same one process as ours (--workers), one request at a time.
            argv = [PY, "-m", "gunicorn", "bench.wsgi_floor:application", "--workers", "1",
                    "--worker-class", "sync", "--bind", f"127.0.0.1:{self.port}",
                    "--backlog", str(args.listen_backlog or 2048), "--log-level", "warning"]
        elif variant.engine == "floor":
            argv = [PY, "-m", "uvicorn", "bench.floor:app", "--host", "127.0.0.1", "--port", str(self.port),
                    "--backlog", str(args.listen_backlog or 2048), "--loop", "uvloop", "--http", "httptools",
                    "--no-access-log", "--log-level", "warning", "--lifespan", "off"]
        elif variant.engine == "ours":
            argv = self._uvicorn_argv(self.port)
        else:
            argv = [PY, "-m", "daphne", *bind, "bench.stock.asgi:application"]
        self.log_path = variant.setup.logs / f"{tag}-server.log"
        self.process = self._spawn(argv, self.env, self.log_path)
        self.pid = self.process.pid
        try:
            self._wait_listening(self.process, self.port, self.log_path, 30)
            if variant.name == "wsgi-floor":
                # gunicorn's master only watches: its worker serves, so it is the one measured.
                self.pid = self._worker_pid(10)
        except BaseException:
            self.stop()
            raise

    def _uvicorn_argv(self, port: int) -> list[str]:
        return [PY, "-m", "project.serve_uvicorn", "--host", "127.0.0.1", "--port", str(port),
                "--backlog", str(self.variant.setup.args.listen_backlog or 2048)]

    def _spawn(self, argv: list[str], env: dict, log_path: Path) -> subprocess.Popen:
        log_file = log_path.open("wb")
        self._logs.append(log_file)
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log_file,  # noqa: S603
                                stderr=subprocess.STDOUT)

    def _start_behind_pushpin(self, tag: str, count: int) -> None:
        """`count` web processes of ours told Pushpin is in front, then the Pushpin
        (project.pushpin.running_pushpin: its config, readiness probe and stop)."""
        from project.pushpin import free_loopback_ports, running_pushpin

        setup = self.variant.setup
        http_port, publish_port, *origin_ports = free_loopback_ports(2 + count)
        self.port, self.origin_ports = http_port, origin_ports
        self.env = {**self.env, "REALTIME_FRONT": "pushpin",
                    "GRIP_URL": f"http://127.0.0.1:{publish_port}",
                    "GRIP_SIG_KEY": setup.grip_sig_key}
        self.log_path = setup.logs / f"{tag}-server.log"
        # Pushpin's ZeroMQ ipc sockets live in its work directory, and a socket's path
        # must fit in sun_path (107 bytes): under the logs directory the handler died on
        # an assertion. A short directory in /tmp; its log is copied to the logs at stop.
        workdir = Path(tempfile.mkdtemp(prefix="ppbench-"))
        self._stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        self._stack.callback(_keep_log, workdir / "pushpin.log", setup.logs / f"{tag}-pushpin.log")
        try:
            for n, port in enumerate(origin_ports):
                log_path = self.log_path if n == 0 else setup.logs / f"{tag}-server{n + 1}.log"
                self.origin_logs.append(log_path)
                self.origins.append(self._spawn(self._uvicorn_argv(port), self.env, log_path))
            self.process, self.pid = self.origins[0], self.origins[0].pid
            for process, port, log_path in zip(self.origins, origin_ports, self.origin_logs, strict=True):
                self._wait_listening(process, port, log_path, 30)
            self.front = self._stack.enter_context(running_pushpin(
                workdir, origins=origin_ports, sig_key=setup.grip_sig_key,
                http_port=http_port, publish_port=publish_port))
            self.pushpin_processes = pushpin_roles(self.front.process.pid)
        except BaseException:
            self.stop()
            raise

    def serving_pids(self) -> dict[str, int]:
        """Every process that serves the streams, by role."""
        if self.front is None:
            return {"server": self.pid}
        django = {f"django-{n + 1}": process.pid for n, process in enumerate(self.origins)}
        return {**django, **self.pushpin_processes}

    def django_pids(self) -> list[int]:
        return [process.pid for process in self.origins] if self.front is not None else [self.pid]

    @property
    def holder_pid(self) -> int:
        """The process holding the clients' sockets: Pushpin's condure, or the server."""
        return self.pushpin_processes.get("condure", self.pid)

    def cpu_split(self) -> tuple[float, float]:
        """User and system CPU seconds of every serving process."""
        splits = [proc_cpu_split(pid) for pid in self.serving_pids().values()]
        return sum(user for user, _ in splits), sum(system for _, system in splits)

    def cpu(self) -> float:
        return sum(self.cpu_split())

    def cpu_by_process(self) -> dict[str, float]:
        return {role: proc_cpu(pid) for role, pid in self.serving_pids().items()}

    def _worker_pid(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            children = process_tree(self.process.pid)[1:]
            if children:
                return children[0]
            time.sleep(0.1)
        raise RuntimeError("gunicorn started no worker")

    @staticmethod
    def _wait_listening(process: subprocess.Popen, port: int, log_path: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {log_path.read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                return
            time.sleep(0.1)
        raise RuntimeError(f"server did not listen within {timeout}s")

    def sample(self) -> dict:
        """RSS, threads and fds, summed over the serving processes; behind Pushpin also
        each process's RSS (`by_process`) and the web processes' together (`django_rss_kb`)."""
        statuses = {role: proc_status(pid) for role, pid in self.serving_pids().items()}
        fds = sum(proc_fds(pid) for pid in self.serving_pids().values())
        if self.front is None:
            status = statuses["server"]
            return {"rss_kb": status["rss_kb"], "threads": status["threads"], "fds": fds}
        django = [status["rss_kb"] or 0 for role, status in statuses.items() if role.startswith("django-")]
        return {"rss_kb": sum(status["rss_kb"] or 0 for status in statuses.values()),
                "threads": sum(status["threads"] or 0 for status in statuses.values()), "fds": fds,
                "django_rss_kb": sum(django),
                "by_process": {role: status["rss_kb"] for role, status in statuses.items()}}

    def db_connections(self) -> dict:
        counts = [self.variant.setup.db.connections(pid, self.variant.db_which, self.database)
                  for pid in self.django_pids() if proc_status(pid)["rss_kb"] is not None]
        if not counts:
            return {"db_connections": 0}
        total = {"db_connections": sum(count["db_connections"] for count in counts)}
        if "db_connections_all_clients" in counts[0]:
            total["db_connections_all_clients"] = counts[0]["db_connections_all_clients"]
        return total

    def kill_origin(self, index: int) -> None:
        """SIGKILL to one web process behind Pushpin: no shutdown, no goodbye."""
        process = self.origins[index]
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=10)

    def stop(self) -> None:
        # Pushpin first (it would otherwise go on asking the web processes), then them.
        self._stack.close()
        for process in self.origins or [getattr(self, "process", None)]:
            if process is not None:
                stop_process(process)
        for log_file in self._logs:
            log_file.close()


def _keep_log(source: Path, target: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.copyfile(source, target)


def pushpin_roles(session: int) -> dict[str, int]:
    """Pushpin's processes, by their command name: the runner (`pushpin`) and the
    services it started in its session (condure, zurl, pushpin-proxy, pushpin-handler)."""
    from project.pushpin import session_members

    roles = {}
    for pid in session_members(session):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/comm") as comm:
            roles[comm.read().strip()] = pid
    return roles


class Sampler:
    """Samples the server in the background: peak RSS, threads, fds, DB connections, CPU;
    and where the machine's CPU went meanwhile (server, load generators, publisher,
    our Redis, and everything else: PostgreSQL and other people's processes)."""

    def __init__(self, server: Server, interval: float = 0.25, db_every: int = 4,
                 helpers: dict | None = None):
        self.server = server
        self.helpers = helpers or {}
        self.interval = interval
        self.db_every = db_every
        self.peak = {"rss_kb": 0, "threads": 0, "fds": 0, "db_connections": 0, "django_rss_kb": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _helper_cpu(self) -> dict:
        return {name: sum(proc_cpu(pid) for pid in pids) for name, pids in self.helpers.items()}

    def __enter__(self):
        user, self.sys0 = self.server.cpu_split()
        self.cpu0 = user + self.sys0
        self.by_process0 = self.server.cpu_by_process()
        self.helpers0 = self._helper_cpu()
        self.machine0 = machine_cpu()
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def _run(self):
        round_ = 0
        while not self._stop.wait(self.interval):
            sample = self.server.sample()
            if round_ % self.db_every == 0:
                with contextlib.suppress(Exception):
                    sample.update(self.server.db_connections())
            round_ += 1
            for key in self.peak:
                if sample.get(key) is not None:
                    self.peak[key] = max(self.peak[key], sample[key])

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)
        user, system = self.server.cpu_split()
        self.cpu_s = user + system - self.cpu0
        # The kernel's share (TCP, epoll, copies): what no Python change can remove.
        self.sys_s = system - self.sys0
        self.wall_s = time.monotonic() - self.t0
        by_process = self.server.cpu_by_process()
        self.by_process_pct = {role: round(100 * (by_process[role] - self.by_process0.get(role, 0.0))
                                           / self.wall_s, 1) for role in by_process}
        busy, total = machine_cpu()
        self.machine_busy_pct = 100 * (busy - self.machine0[0]) / max(1e-9, total - self.machine0[1])
        helpers = self._helper_cpu()
        self.helper_pct = {name: round(100 * (helpers[name] - self.helpers0[name]) / self.wall_s, 1)
                           for name in helpers}
        # In "% of one core" like server_cpu_pct; the machine has os.cpu_count() of them.
        machine_core_pct = 100 * (busy - self.machine0[0]) / self.wall_s
        self.other_pct = round(
            machine_core_pct - 100 * self.cpu_s / self.wall_s - sum(self.helper_pct.values()), 1)

    def result(self) -> dict:
        return {"server_cpu_s": round(self.cpu_s, 3), "server_cpu_system_s": round(self.sys_s, 3),
                "server_cpu_pct": round(100 * self.cpu_s / self.wall_s, 1) if self.wall_s else None,
                "server_rss_peak_kb": self.peak["rss_kb"], "server_threads_peak": self.peak["threads"],
                "server_db_connections_peak": self.peak["db_connections"],
                # Behind Pushpin: the web processes' share and each process's (% of one core).
                **({"django_cpu_pct": round(sum(value for role, value in self.by_process_pct.items()
                                                if role.startswith("django-")), 1),
                    "django_rss_peak_kb": self.peak["django_rss_kb"],
                    "server_cpu_by_process_pct": self.by_process_pct}
                   if self.server.front is not None else {}),
                # Of both cores together: server, load generators, publisher, Redis, PostgreSQL
                # and whatever else runs on this shared machine.
                "machine_cpu_busy_pct": round(self.machine_busy_pct, 1),
                **{f"{name}_cpu_pct": value for name, value in self.helper_pct.items()},
                "other_processes_cpu_pct": self.other_pct}


def _py_spy() -> str | None:
    return shutil.which("py-spy", path=str(Path(PY).parent) + os.pathsep + os.environ.get("PATH", ""))


class Profiler:
    """py-spy on the server for the duration of a phase (with --profile)."""

    def __init__(self, server: Server, tag: str, enabled: bool):
        self.enabled = enabled and _py_spy() is not None
        self.server = server
        self.path = server.variant.setup.logs / f"{tag}-profile.txt"
        self.process = None

    def __enter__(self):
        if self.enabled:
            self.process = subprocess.Popen(  # noqa: S603
                [_py_spy(), "record", "--pid", str(self.server.pid), "--format", "raw", "--rate", "200",
                 "--nonblocking", "--output", str(self.path), "--duration", "600"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def summary(self, top: int = 15) -> dict | None:
        if not self.process or not self.path.exists():
            return None
        return summarize_profile(self.path, top)


PROJECT_DIRS = ("realtime/", "workspaces/", "project/", "calls/", "django_eventstream/")


def _package(path: str) -> str:
    """A frame's file grouped: our apps by module, libraries by package."""
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in path:
            rest = path.split(marker, 1)[1]
            parts = rest.split("/")
            if parts[0] == "django" and len(parts) > 2:
                return "django/" + parts[1] + ("/" + parts[2] if parts[1] in ("db", "core") else "")
            return parts[0].removesuffix(".py")
    return path.rsplit(":", 1)[0]


def summarize_profile(path: Path, top: int = 15) -> dict:
    """From py-spy's collapsed stacks: self time by function and by package, and the
    inclusive share of every function of the project (and of django_eventstream)."""
    self_fn: dict[str, int] = {}
    self_pkg: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        count = int(count)
        total += count
        frames = stack.split(";")
        leaf = frames[-1]
        name, _, where = leaf.partition(" (")
        file = where.rstrip(")").rsplit(":", 1)[0]
        self_fn[f"{name} ({file})"] = self_fn.get(f"{name} ({file})", 0) + count
        self_pkg[_package(file)] = self_pkg.get(_package(file), 0) + count
        seen = set()
        for frame in frames:
            name, _, where = frame.partition(" (")
            file = where.rstrip(")").rsplit(":", 1)[0]
            if any(file.startswith(d) or f"/{d}" in file for d in PROJECT_DIRS) or file.startswith(
                    ("daphne/", "twisted/")):
                key = f"{name} ({file})"
                if key not in seen:
                    seen.add(key)
                    inclusive[key] = inclusive.get(key, 0) + count

    def share(counts):
        return [(name, round(100 * n / total, 1)) for name, n in
                sorted(counts.items(), key=lambda kv: -kv[1])[:top]] if total else []
    return {"samples": total, "file": str(path.relative_to(ROOT)), "self_by_package": share(self_pkg),
            "self_by_function": share(self_fn), "inclusive_project": share(inclusive)}


# --- clients ------------------------------------------------------------------------------


class Clients:
    """The load generator processes, each holding a share of the streams."""

    def __init__(self, variant: Variant, server: Server, procs: int, tag: str,
                 headers: list[str] | None = None):
        self.workers = []
        argv = [PY, "-m", "bench.loadgen", "--host", "127.0.0.1", "--port", str(server.port),
                "--path", variant.path]
        headers = variant.headers if headers is None else headers
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_LOADGEN_HEADERS": json.dumps(headers)}
        for i in range(procs):
            self.workers.append(
                JsonProcess(f"loadgen-{i}", argv, env, variant.setup.logs / f"{tag}-loadgen.log"))

    def _all(self, limit: float, commands: list[dict]) -> list[dict]:
        for worker, command in zip(self.workers, commands, strict=True):
            worker.send(**command)
        return [worker.read(limit) for worker in self.workers]

    def call(self, limit: float, **command) -> list[dict]:
        return self._all(limit, [dict(command) for _ in self.workers])

    def open(self, n: int, concurrency: int, timeout: float, retries: int = 0,
             retry_delay: float = 0.5) -> dict:
        shares = _split(n, len(self.workers))
        conc = _split(concurrency, len(self.workers))
        replies = self._all(timeout + 30, [
            {"cmd": "open", "n": s, "concurrency": max(1, c), "timeout": timeout, "retries": retries,
             "retry_delay": retry_delay}
            for s, c in zip(shares, conc, strict=True)])
        return _merge_open(replies)

    def reopen(self, concurrency: int, timeout: float, retries: int = 0, retry_delay: float = 0.5) -> dict:
        conc = _split(concurrency, len(self.workers))
        replies = self._all(timeout + 30, [{"cmd": "reopen", "concurrency": max(1, c), "timeout": timeout,
                                            "retries": retries, "retry_delay": retry_delay}
                                           for c in conc])
        merged = _merge_open(replies)
        merged["with_cursor"] = sum(r["with_cursor"] for r in replies)
        return merged

    def reset(self, expect: int) -> None:
        self.call(30, cmd="reset", expect=expect)

    def wait(self, timeout: float, idle: float) -> dict:
        return _merge_stats(self.call(timeout + 30, cmd="wait", timeout=timeout, idle=idle))

    def stats(self) -> dict:
        return _merge_stats(self.call(30, cmd="stats"))

    def close(self) -> int:
        return sum(r["closed"] for r in self.call(60, cmd="close"))

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


def _split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


def _merge_open(replies: list[dict]) -> dict:
    def add(key):
        out: dict[str, int] = {}
        for reply in replies:
            for k, v in reply[key].items():
                out[k] = out.get(k, 0) + v
        return out
    start = min(r["t_start_wall"] for r in replies)
    all_ready = max(r["t_start_wall"] + r["all_ready_s"] for r in replies) - start
    established = sum(r["established"] for r in replies)
    return {
        "requested": sum(r["requested"] for r in replies), "established": established,
        "attempts": sum(r["attempts"] for r in replies),
        "all_ready_s": round(all_ready, 3),
        "connects_per_s": round(established / all_ready, 1) if all_ready > 0 else None,
        "connect_p50_ms": statistics.median(
            [r["connect_p50_ms"] for r in replies if r["connect_p50_ms"] is not None] or [0]),
        "connect_p99_ms": max(
            [r["connect_p99_ms"] for r in replies if r["connect_p99_ms"] is not None] or [0]),
        "statuses": add("statuses"), "failures": add("failures"),
        "error_sample": next((r["error_sample"] for r in replies if r["error_sample"]), ""),
        "client_cpu_s": [r["client_cpu_s"] for r in replies], "t_start_wall": start,
    }


def _merge_stats(replies: list[dict]) -> dict:
    merged = {key: sum(r[key] for r in replies) for key in (
        "streams", "open", "deliveries", "unique", "duplicates", "order_violations", "id_regressions",
        "unexpected", "missing", "complete_streams", "bytes", "server_closes")}
    hist = merge_hists(r["hist"] for r in replies)
    def pick(key, fn):
        values = [r[key] for r in replies if r[key] is not None]
        return fn(values) if values else None
    controls: dict[str, int] = {}
    failures: dict[str, int] = {}
    for reply in replies:
        for k, v in reply["controls"].items():
            controls[k] = controls.get(k, 0) + v
        for k, v in reply["failures"].items():
            failures[k] = failures.get(k, 0) + v
    merged.update({
        "expect_each": replies[0]["expect_each"],
        "first_recv": pick("first_recv", min), "last_recv": pick("last_recv", max),
        "complete_last": pick("complete_last", max),
        "p50_ms": _round(percentile_from_hist(hist, 50)), "p95_ms": _round(percentile_from_hist(hist, 95)),
        "p99_ms": _round(percentile_from_hist(hist, 99)), "max_ms": pick("lat_max_ms", max),
        "controls": controls, "failures": failures,
        "client_cpu_pct": [r["client_cpu_pct"] for r in replies],
    })
    replays = sorted(ms for r in replies for ms in r.get("replay_ms", []))
    merged["replay_p50_ms"] = replays[len(replays) // 2] if replays else None
    merged["replay_p99_ms"] = replays[min(len(replays) - 1, len(replays) * 99 // 100)] if replays else None
    merged["replay_max_ms"] = replays[-1] if replays else None
    return merged


def _round(value, digits=1):
    return None if value is None else round(value, digits)


@contextlib.contextmanager
def world(variant: Variant, tag: str, procs: int, publisher: bool = True, env: dict | None = None,
          headers: list[str] | None = None, origins: int | None = None):
    """A fresh server, its publisher and the load generators; all stopped at the end.
    `env` puts server and publisher on another database (the REST seed's), `headers`
    are then the streams' (a key of that database); `origins`: web processes behind
    Pushpin (ours-pushpin; --pushpin-origins unless given)."""
    server = Server(variant, tag, env=env, origins=origins)
    clients = pub = None
    try:
        if publisher:
            # The server's own environment: behind Pushpin it names the publish endpoint,
            # which the publisher's relay posts each committed event to.
            pub = JsonProcess("publisher", [PY, "-m", "bench.publish", "--engine", variant.engine],
                              server.env, variant.setup.logs / f"{tag}-publisher.log")
        clients = Clients(variant, server, procs, tag, headers=headers)
        yield server, clients, pub
    finally:
        for thing in (clients, pub):
            if thing is not None:
                with contextlib.suppress(Exception):
                    thing.stop()
        server.stop()
        with contextlib.suppress(Exception):
            import redis

            redis.Redis.from_url(variant.setup.redis.url).flushall()


def client_sockets(pid: int, port: int) -> int:
    """Accepted client connections the server process still holds (any state but LISTEN)."""
    inodes = _socket_inodes(pid)
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            next(lines)
            for line in lines:
                parts = line.split()
                if parts[3] != "0A" and parts[9] in inodes and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    count += 1
    return count


def helper_pids(variant: Variant, clients: "Clients", pub) -> dict:
    """The load generators, the publisher and our Redis: where the CPU beside the
    server's went (Sampler)."""
    redis_process = variant.setup.redis._process
    return {"loadgen": [w.pid for w in clients.workers], "publisher": [pub.pid] if pub else [],
            "redis": [redis_process.pid] if redis_process else []}


def wait_for_quiet(server: Server, timeout: float, busy_below: float = 0.1, window: float = 0.3) -> float:
    """Seconds until the server's CPU (every serving process's) stays below
    `busy_below` of a core for `window` s. The kernel drops a reset socket from its
    tables before the server has run the stream's teardown; a storm measured before
    that would bill N disconnects to N connects."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        cpu0 = server.cpu()
        time.sleep(window)
        if server.cpu() - cpu0 < busy_below * window:
            break
    return round(time.monotonic() - started, 2)


def wait_for_streams_closed(server: Server, timeout: float, base_fds: int | None = None) -> float:
    """Seconds until the server holds no client connection any more: none left in the
    kernel's TCP table and, with `base_fds`, its fds back near that (a socket reset by
    the client leaves the table at once but stays an fd until the server closes it;
    up to 110 more for the Redis connection pool)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if client_sockets(server.holder_pid, server.port) == 0 and (
                base_fds is None or server.sample()["fds"] <= base_fds + 110):
            break
        time.sleep(0.1)
    return round(time.monotonic() - started, 2)


# --- scenarios ----------------------------------------------------------------------------


def scenario_idle(variant: Variant, args, tag: str) -> dict:
    """N idle streams: memory and threads per stream, DB connections at 1,000 and at N."""
    n = args.streams
    with world(variant, tag, args.client_procs, publisher=False) as (server, clients, _):
        clients.open(1, 1, 30)
        time.sleep(1.5)
        base = server.sample()
        base_db = server.db_connections()
        first = min(n, 1000) - 1
        opened = clients.open(first, args.connect_concurrency, args.connect_timeout, args.retries,
                              args.retry_delay)
        time.sleep(1.5)
        at_1000 = server.sample()
        db_1000 = server.db_connections()
        opened_rest = (clients.open(n - 1 - first, args.connect_concurrency, args.connect_timeout,
                                    args.retries, args.retry_delay) if n > first + 1 else None)
        time.sleep(args.settle)
        cpu0, t0 = server.cpu(), time.monotonic()
        by_process0 = server.cpu_by_process()
        time.sleep(args.idle_hold)
        held_s = time.monotonic() - t0
        idle_cpu = (server.cpu() - cpu0) / held_s
        idle_by_process = {role: round(100 * (cpu - by_process0[role]) / held_s, 1)
                           for role, cpu in server.cpu_by_process().items()}
        full = server.sample()
        db_full = server.db_connections()
        still = clients.stats()
        clients.close()
        close_drain_s = wait_for_streams_closed(server, 60, base["fds"])
        time.sleep(1)
        after = server.sample()
        after["client_sockets"] = client_sockets(server.holder_pid, server.port)
        after["redis_connections"] = len(_tcp_local_ports_to(server.pid, variant.setup.redis.port))
    established = 1 + opened["established"] + (opened_rest["established"] if opened_rest else 0)
    per_stream = (full["rss_kb"] - base["rss_kb"]) / max(1, established - 1)
    front = (held_memory(base, full, after, established) | {"idle_cpu_by_process_pct": idle_by_process}
             if "by_process" in full else {})
    return {
        **front,
        "streams_requested": n, "streams_established": established, "streams_open_after_hold": still["open"],
        "rss_base_mb": round(base["rss_kb"] / 1024, 1), "rss_at_1000_mb": round(at_1000["rss_kb"] / 1024, 1),
        "rss_full_mb": round(full["rss_kb"] / 1024, 1),
        "rss_after_close_mb": round(after["rss_kb"] / 1024, 1),
        "rss_per_stream_kb": round(per_stream, 1),
        "threads_base": base["threads"], "threads_at_1000": at_1000["threads"],
        "threads_full": full["threads"],
        "threads_after_close": after["threads"], "fds_base": base["fds"], "fds_full": full["fds"],
        "fds_after_close": after["fds"], "client_sockets_after_close": after["client_sockets"],
        "redis_connections_after_close": after["redis_connections"], "close_drain_s": close_drain_s,
        "db_connections_base": base_db["db_connections"], "db_connections_at_1000": db_1000["db_connections"],
        "db_connections_full": db_full["db_connections"],
        "idle_server_cpu_pct": round(100 * idle_cpu, 1),
        "open_connects_per_s": (opened_rest or opened)["connects_per_s"],
        "open_attempts": 1 + opened["attempts"] + (opened_rest["attempts"] if opened_rest else 0),
        "open_failures": {**opened["failures"], **(opened_rest["failures"] if opened_rest else {})},
        "open_statuses": {**opened["statuses"], **(opened_rest["statuses"] if opened_rest else {})},
        "error_sample": opened["error_sample"] or (opened_rest or {}).get("error_sample", ""),
    }


def held_memory(base: dict, full: dict, after: dict, established: int) -> dict:
    """Behind Pushpin, where the idle streams' memory went: the web processes' RSS
    (issue #21: flat while Pushpin holds the streams) and Pushpin's, at 1 stream,
    with all, and after they closed; MB, and KB per stream beyond the first."""
    def mb(kb):
        return round(kb / 1024, 1)

    def per_stream(kb):
        return round(kb / max(1, established - 1), 2)

    django = [sample["django_rss_kb"] for sample in (base, full, after)]
    pushpin = [sample["rss_kb"] - sample["django_rss_kb"] for sample in (base, full, after)]
    return {
        "django_rss_base_mb": mb(django[0]), "django_rss_full_mb": mb(django[1]),
        "django_rss_after_close_mb": mb(django[2]), "django_rss_growth_mb": mb(django[1] - django[0]),
        "django_rss_per_stream_kb": per_stream(django[1] - django[0]),
        "pushpin_rss_base_mb": mb(pushpin[0]), "pushpin_rss_full_mb": mb(pushpin[1]),
        "pushpin_rss_after_close_mb": mb(pushpin[2]),
        "pushpin_rss_per_stream_kb": per_stream(pushpin[1] - pushpin[0]),
        "rss_full_by_process_mb": {role: mb(kb or 0) for role, kb in full["by_process"].items()},
    }


def _warm_up(clients: Clients, pub, target: str, rate: float) -> None:
    """The first events pay for imports, caches and the feed; not measured."""
    clients.reset(5)
    pub.call(60, cmd="publish", target=target, count=5, rate=rate, start_n=0)
    clients.wait(timeout=15, idle=2)


def _measured_delivery(variant, args, tag, server, clients, pub, target, streams, rate, duration) -> dict:
    """`rate` events/s for `duration` s to the open `streams`: what arrived, how late,
    and what it cost the server and the machine meanwhile."""
    count = max(1, int(rate * duration))
    clients.reset(count)
    with Sampler(server, helpers=helper_pids(variant, clients, pub)) as sampler, \
            Profiler(server, tag, args.profile) as profiler:
        published = pub.call(duration * 3 + 120, cmd="publish", target=target, count=count,
                             rate=rate, start_n=0)
        stats = clients.wait(timeout=max(30, duration * 2), idle=args.idle_timeout)
    span = (stats["last_recv"] - published["t_first"]) if stats["last_recv"] else None
    # Sustained rate: what arrived over the time events were offered. The span up to the
    # last receipt adds the last event's latency, so it can never reach the offered rate.
    offered_s = published["t_last"] - published["t_first"] + 1 / rate if rate else None
    return {
        "rate_offered": rate, "events_published": published["published"],
        "publisher_rate": published["achieved_rate"], "publisher_max_behind_ms": published["max_behind_ms"],
        "expected_deliveries": published["published"] * streams,
        "deliveries": stats["deliveries"], "unique": stats["unique"], "duplicates": stats["duplicates"],
        "order_violations": stats["order_violations"], "id_regressions": stats["id_regressions"],
        "missing": published["published"] * streams - stats["unique"],
        "deliveries_per_s": round(stats["unique"] / offered_s, 0) if offered_s else 0,
        "deliveries_per_s_to_last_receipt": round(stats["unique"] / span, 0) if span else 0,
        "p50_ms": stats["p50_ms"], "p95_ms": stats["p95_ms"], "p99_ms": stats["p99_ms"],
        "max_ms": stats["max_ms"],
        "controls": stats["controls"], "server_closes": stats["server_closes"],
        "client_cpu_pct": stats["client_cpu_pct"], **sampler.result(),
        # Contention-independent: what one delivery costs the server, everything included.
        "server_cpu_us_per_delivery": (round(sampler.cpu_s / stats["deliveries"] * 1e6, 1)
                                       if stats["deliveries"] else None),
        "profile": profiler.summary(),
    }


def _delivery_phase(variant, args, tag, subscribers, rate, duration) -> dict:
    with world(variant, tag, args.client_procs) as (server, clients, pub):
        before_open = server.sample()
        opened = clients.open(subscribers, args.connect_concurrency, args.connect_timeout, args.retries,
                              args.retry_delay)
        time.sleep(1)
        after_open = server.sample()
        _warm_up(clients, pub, variant.target, rate)
        measured = _measured_delivery(variant, args, tag, server, clients, pub, variant.target,
                                      opened["established"], rate, duration)
    return {
        "subscribers": subscribers, "streams_established": opened["established"],
        "open_attempts": opened["attempts"], "open_connects_per_s": opened["connects_per_s"],
        "open_failures": opened["failures"], "open_statuses": opened["statuses"],
        **measured,
        "rss_per_stream_kb": round((after_open["rss_kb"] - before_open["rss_kb"])
                                   / max(1, opened["established"]), 1),
        "threads_open": after_open["threads"],
    }


def scenario_curves(variant, args, tag) -> dict:
    """Cost as the audience grows: at each size, the same event rate to every
    stream; RSS per stream and server CPU per delivered event (bench/plot.py draws them)."""
    points = []
    for size in [int(n) for n in args.curve_sizes.split(",")]:
        log(f"  {size:,} subscribers")
        phase = _delivery_phase(variant, args, f"{tag}-{size}", size, args.curve_rate, args.curve_duration)
        points.append({key: phase.get(key) for key in (
            "subscribers", "streams_established", "rss_per_stream_kb", "threads_open",
            "server_cpu_us_per_delivery", "deliveries_per_s", "p50_ms", "p99_ms", "missing")})
    return {"points": points, "rate": args.curve_rate}


def scenario_fanout(variant, args, tag) -> dict:
    """S subscribers of one workspace, R events/s for D seconds."""
    return _delivery_phase(variant, args, tag, args.subscribers, args.rate, args.duration)


def scenario_many(variant, args, tag) -> dict:
    """Many subscribers at a low rate (5,000 x 4 events/s)."""
    return _delivery_phase(variant, args, tag, args.many_subscribers, args.many_rate, args.many_duration)


def scenario_burst(variant, args, tag) -> dict:
    """B events as fast as the publisher can to one stream: complete, in order, no duplicate."""
    count = args.burst
    atomic = variant.engine == "ours" and args.burst_atomic
    with world(variant, tag, 1) as (server, clients, pub):
        opened = clients.open(1, 1, 30)
        clients.reset(count)
        with Sampler(server, interval=0.05, helpers=helper_pids(variant, clients, pub)) as sampler:
            published = pub.call(300, cmd="publish", target=variant.target, count=count, rate=0,
                                 start_n=0, atomic=atomic)
            stats = clients.wait(timeout=args.burst_timeout, idle=args.idle_timeout)
    done = stats["complete_last"] or stats["last_recv"]
    return {
        "events_published": published["published"], "publish_s": published["elapsed_s"],
        "published_in_one_transaction": atomic, "stream_established": opened["established"],
        "received_unique": stats["unique"], "deliveries": stats["deliveries"],
        "duplicates": stats["duplicates"], "order_violations": stats["order_violations"],
        "id_regressions": stats["id_regressions"], "missing": published["published"] - stats["unique"],
        "complete": stats["unique"] == published["published"] and stats["duplicates"] == 0
        and stats["order_violations"] == 0,
        "last_event_after_publish_start_s": round(done - published["t_first"], 3) if done else None,
        # The publisher's own time excluded: how long after its last call the last event arrived.
        "last_event_after_publish_end_s": round(done - published["t_last"], 3) if done else None,
        "p99_ms": stats["p99_ms"], "max_ms": stats["max_ms"], "controls": stats["controls"],
        "server_closes": stats["server_closes"], **sampler.result(),
    }


def scenario_storm(variant, args, tag) -> dict:
    """N streams drop at once; K events are published meanwhile; all N reconnect at once
    with Last-Event-ID: reconnects/s, time until all are back, catch-up, duplicates."""
    return _reconnect_phase(variant, args, tag, args.storm, args.storm_missed, args.storm_concurrency)


def scenario_replay(variant, args, tag) -> dict:
    """A few streams come back far behind, as after an overflow close (more events missed
    than REALTIME_BUFFER_HARD_LIMIT, 5,000): the time until each has replayed them all."""
    return _reconnect_phase(variant, args, tag, args.replay_streams, args.replay_missed,
                            args.replay_streams)


def _reconnect_phase(variant, args, tag, n, missed, concurrency) -> dict:
    with world(variant, tag, args.client_procs) as (server, clients, pub):
        base_fds = server.sample()["fds"]
        opened = clients.open(n, args.connect_concurrency, args.connect_timeout, args.retries,
                              args.retry_delay)
        clients.reset(1)
        pub.call(60, cmd="publish", target=variant.target, count=1, rate=0, start_n=0)
        primed = clients.wait(timeout=60, idle=args.idle_timeout)
        db_before = server.db_connections()
        clients.close()
        drained_s = wait_for_streams_closed(server, 60, base_fds)
        drained_s += wait_for_quiet(server, 60)
        clients.reset(missed)
        pub.call(120, cmd="publish", target=variant.target, count=missed, rate=0, start_n=0)
        helpers = helper_pids(variant, clients, pub)
        with Sampler(server, interval=0.2, db_every=2, helpers=helpers) as sampler, \
                Profiler(server, tag, args.profile) as profiler:
            back = clients.reopen(concurrency, args.connect_timeout, args.retries,
                                  args.retry_delay)
            stats = clients.wait(timeout=60, idle=args.idle_timeout)
    catch_up = (stats["complete_last"] - back["t_start_wall"]) if stats["complete_last"] else None
    return {
        "streams": n, "initially_established": opened["established"],
        "initial_connects_per_s": opened["connects_per_s"],
        "primed_with_cursor": primed["complete_streams"], "server_drain_s": drained_s,
        "reconnected": back["established"], "reconnect_with_cursor": back["with_cursor"],
        "reconnect_attempts": back["attempts"], "refused_attempts": back["attempts"] - back["requested"],
        "reconnect_all_back_s": back["all_ready_s"], "reconnects_per_s": back["connects_per_s"],
        "reconnect_p50_ms": back["connect_p50_ms"], "reconnect_p99_ms": back["connect_p99_ms"],
        "reconnect_failures": back["failures"], "reconnect_statuses": back["statuses"],
        "error_sample": back["error_sample"],
        "missed_events": missed, "expected_replays": missed * back["established"],
        "replayed_unique": stats["unique"], "duplicates": stats["duplicates"],
        "order_violations": stats["order_violations"],
        "missing": missed * back["established"] - stats["unique"],
        "streams_caught_up": stats["complete_streams"],
        "catch_up_all_s": round(catch_up, 3) if catch_up is not None else None,
        "replay_p50_ms": stats["replay_p50_ms"], "replay_p99_ms": stats["replay_p99_ms"],
        "replay_max_ms": stats["replay_max_ms"],
        "controls": stats["controls"], "db_connections_before": db_before["db_connections"],
        **sampler.result(), "profile": profiler.summary(),
    }


def scenario_pushpin_failover(variant, args, tag) -> dict:
    """Issue #21: two web processes behind one Pushpin, the first killed (SIGKILL)
    in the middle of a steady publish. Pushpin's route fails over in order, so the
    first one answered every opening and next link until then; the streams are held
    by Pushpin, not by it. Every stream must stay open and get every event, in
    order, once; what reaches the web processes after the kill (each stream's next
    link, every GRIP_REFRESH_SECONDS) must go to the second one."""
    streams, rate, duration = args.failover_streams, args.failover_rate, args.failover_duration
    kill_after = duration * args.failover_kill_at
    # The web processes log every request they answer (the access log, at INFO): which
    # one answered the next links after the kill is read from their logs.
    env = {**variant.env(), "LOG_LEVEL": "INFO"}
    with world(variant, tag, args.client_procs, env=env, origins=2) as (server, clients, pub):
        opened = clients.open(streams, args.connect_concurrency, args.connect_timeout, args.retries,
                              args.retry_delay)
        time.sleep(1)
        _warm_up(clients, pub, variant.target, rate)
        count = max(1, int(rate * duration))
        clients.reset(count)
        second = server.origins[1].pid
        second_cpu0 = proc_cpu(second)
        pub.send(cmd="publish", target=variant.target, count=count, rate=rate, start_n=0)
        time.sleep(kill_after)
        second_cpu_at_kill = proc_cpu(second)
        server.kill_origin(0)
        killed_at = time.time()
        first_refuses = port_refuses(server.origin_ports[0])
        first_log_at_kill = requests_logged(server.origin_logs[0])
        second_log_at_kill = requests_logged(server.origin_logs[1])
        published = pub.read(duration * 3 + 120)
        stats = clients.wait(timeout=max(30, duration * 2), idle=args.idle_timeout)
        second_cpu_end = proc_cpu(second)
        second_alive = server.origins[1].poll() is None
    second_log_end = requests_logged(server.origin_logs[1])
    established = opened["established"]
    return {
        "streams": streams, "streams_established": established,
        "open_failures": opened["failures"], "open_statuses": opened["statuses"],
        "rate_offered": rate, "events_published": published["published"],
        "publisher_rate": published["achieved_rate"],
        "killed_after_s": round(killed_at - published["t_first"], 2),
        "published_after_kill_s": round(published["t_last"] - killed_at, 2),
        "expected_deliveries": published["published"] * established,
        "unique": stats["unique"], "duplicates": stats["duplicates"],
        "order_violations": stats["order_violations"], "id_regressions": stats["id_regressions"],
        "missing": published["published"] * established - stats["unique"],
        "streams_complete": stats["complete_streams"], "streams_open_at_end": stats["open"],
        "streams_ended_by_server": stats["server_closes"],
        # Zero only when every stream is still open and got every event: the loss itself
        # is at least this many (the load generator counts the two, not their overlap).
        "streams_lost": max(established - stats["open"], established - stats["complete_streams"]),
        "p50_ms": stats["p50_ms"], "p99_ms": stats["p99_ms"], "max_ms": stats["max_ms"],
        "controls": stats["controls"],
        # Failover sends nothing to the second process while the first is up; after the
        # kill it answers the next links (and any opening) alone.
        "second_origin_cpu_before_kill_s": round(second_cpu_at_kill - second_cpu0, 2),
        "second_origin_cpu_after_kill_s": round(second_cpu_end - second_cpu_at_kill, 2),
        "second_origin_alive_at_end": second_alive,
        "first_origin_refused_connections_after_kill": first_refuses,
        # From the access logs: openings and next links each web process answered.
        "first_origin_requests_before_kill": first_log_at_kill,
        "second_origin_requests_before_kill": second_log_at_kill,
        "second_origin_next_links_after_kill": (second_log_end["next_links"]
                                                - second_log_at_kill["next_links"]),
    }


def port_refuses(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:`port` any more (a connect is refused)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def requests_logged(log_path: Path) -> dict:
    """Stream openings and next links in a web process's access log (LOG_LEVEL=INFO)."""
    from realtime.grip import NEXT_PATH

    counts = {"openings": 0, "next_links": 0}
    with contextlib.suppress(OSError), log_path.open(errors="replace") as lines:
        for line in lines:
            if NEXT_PATH in line:
                counts["next_links"] += 1
            elif "/api/v1/events/stream" in line:
                counts["openings"] += 1
    return counts


def scenario_connects(variant, args, tag) -> dict:
    """N streams drop and come back at once, with nothing to replay: the cost of a
    connect alone, for our stream beside the bare floor app (bench/floor.py)."""
    n = args.storm
    with world(variant, tag, args.client_procs, publisher=False) as (server, clients, _):
        base_fds = server.sample()["fds"]
        opened = clients.open(n, args.connect_concurrency, args.connect_timeout, args.retries,
                              args.retry_delay)
        clients.close()
        wait_for_streams_closed(server, 60, base_fds)
        wait_for_quiet(server, 60)
        with Sampler(server, interval=0.2, helpers=helper_pids(variant, clients, None)) as sampler:
            back = clients.reopen(args.storm_concurrency, args.connect_timeout, args.retries,
                                  args.retry_delay)
    return {
        "streams": n, "initially_established": opened["established"], "reconnected": back["established"],
        "refused_attempts": back["attempts"] - back["requested"],
        "reconnects_per_s": back["connects_per_s"], "reconnect_all_back_s": back["all_ready_s"],
        "reconnect_p50_ms": back["connect_p50_ms"], "reconnect_p99_ms": back["connect_p99_ms"],
        "server_cpu_us_per_connect": (round(sampler.cpu_s / back["established"] * 1e6)
                                      if back["established"] else None),
        **sampler.result(),
    }


def scenario_decode(variant, args, tag) -> dict:
    """Clients watch workspace A; E events go to workspace B. CPU the server spends on them."""
    count, rate = args.decode_events, args.decode_rate
    with world(variant, tag, 1) as (server, clients, pub):
        clients.open(args.decode_streams, args.connect_concurrency, 60, args.retries, args.retry_delay)
        clients.reset(0)
        time.sleep(1)
        quiet = max(2.0, count / rate)
        cpu0, t0 = proc_cpu(server.pid), time.monotonic()
        time.sleep(quiet)
        idle_rate = (proc_cpu(server.pid) - cpu0) / (time.monotonic() - t0)
        import redis

        channels = sorted(c.decode() for c in redis.Redis.from_url(variant.setup.redis.url).pubsub_channels())
        foreign_channel = (f"callboard:rt:ws:{variant.other_target}" if variant.engine == "ours"
                           else "events_channel")
        cpu0, t0 = proc_cpu(server.pid), time.monotonic()
        published = pub.call(count / rate * 3 + 120, cmd="publish", target=variant.other_target, count=count,
                             rate=rate, start_n=0)
        time.sleep(1)
        busy_cpu = proc_cpu(server.pid) - cpu0
        window = time.monotonic() - t0
        stats = clients.stats()
    extra = max(0.0, busy_cpu - idle_rate * window)
    return {
        "watching_streams": args.decode_streams, "foreign_events": published["published"],
        "server_cpu_idle_pct": round(100 * idle_rate, 2),
        "server_cpu_during_pct": round(100 * busy_cpu / window, 2),
        "server_cpu_ms_per_1000_foreign_events": round(
            1000 * extra / max(1, published["published"]) * 1000, 1),
        "server_subscribed_channels": channels, "foreign_channel": foreign_channel,
        "foreign_channel_subscribed": foreign_channel in channels,
        "events_received_by_watchers": stats["deliveries"],
    }


def seed_calls(variant: Variant, *options: str) -> dict:
    """Calls in the watched workspace (bench/seed_calls.py, in the run's database)."""
    output = subprocess.run([PY, "bench/seed_calls.py", "--workspace", variant.setup.workspace, *options],  # noqa: S603
                            cwd=ROOT, env=variant.env(), check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def scenario_ingest(variant: Variant, args, tag: str, *, ephemeral_share: float) -> dict:
    """Runtimes posting batches to POST /runtime/events while each call's own stream is
    read: accepted events/s, ingest request to stream receipt, DB connections."""
    calls = seed_calls(variant, "--active", str(args.ingest_calls))["active"]
    server = Server(variant, tag)
    # More web processes take the runtimes' posts (the streams stay on the first).
    extra = [Server(variant, f"{tag}-web{n}") for n in range(1, args.ingest_web_procs)]
    redis_process = variant.setup.redis._process
    try:
        extra_cpu0 = [proc_cpu(other.pid) for other in extra]
        ports = ",".join(str(each.port) for each in [server, *extra])
        argv = [PY, "-m", "bench.ingestgen", "--port", str(server.port), "--ingest-ports", ports,
                "--runtime-key", variant.setup.api_key, "--read-key", variant.setup.api_key,
                "--calls", ",".join(calls), "--senders", str(args.ingest_senders),
                "--batch", str(args.ingest_batch), "--duration", str(args.ingest_duration),
                "--ephemeral-share", str(ephemeral_share)]
        log_file = (variant.setup.logs / f"{tag}-ingestgen.log").open("wb")
        generator = subprocess.Popen(argv, cwd=ROOT, env=variant.env(), stdout=subprocess.PIPE,  # noqa: S603
                                     stderr=log_file)
        with (Sampler(server, helpers={"redis": [redis_process.pid] if redis_process else []}) as sampler,
              Profiler(server, tag, args.profile) as profiler):
            output, _ = generator.communicate(timeout=args.ingest_duration + 120)
        log_file.close()
        if generator.returncode != 0:
            raise RuntimeError("ingestgen failed: " + Path(log_file.name).read_text()[-2000:])
        result = json.loads(output)
        result.update(sampler.result())
        result["profile"] = profiler.summary()
        result["web_processes"] = 1 + len(extra)
        result["server_cpu_s"] += sum(proc_cpu(o.pid) - c for o, c in zip(extra, extra_cpu0, strict=True))
        per_event = result["server_cpu_s"] / max(1, result["accepted"])
        result["server_cpu_us_per_event"] = round(1e6 * per_event, 1)
    finally:
        for each in [server, *extra]:
            each.stop()
        with contextlib.suppress(Exception):
            import redis

            redis.Redis.from_url(variant.setup.redis.url).flushall()
    return result


def scenario_ingest_persisted(variant: Variant, args, tag: str) -> dict:
    return scenario_ingest(variant, args, tag, ephemeral_share=0.0)


def scenario_ingest_mixed(variant: Variant, args, tag: str) -> dict:
    return scenario_ingest(variant, args, tag, ephemeral_share=0.5)


def _scans(plan: str) -> list[str]:
    """The scan nodes of a plan: which index (or a sequential scan) served it."""
    return [line.strip().removeprefix("-> ").strip() for line in plan.splitlines()
            if "Scan" in line and " on " in line]


# What the REST scenario asks for, by kind: the detail, the first page of every
# list a dashboard reads on open, and the calls list through each of its filters.
REST_KINDS = ["detail", "calls", "calls_filtered", "ledger", "campaigns", "contacts", "notifications",
              "events"]
# A seed of an older seeder exits with this; the database is made anew.
SEED_STALE = 3


def rest_paths(seeded: dict) -> dict[str, list[str]]:
    from bench.restgen import list_paths

    ids = seeded["ids"]
    return {
        "detail": [f"/api/v1/calls/{pk}" for pk in ids],
        "calls": ["/api/v1/calls"],
        "calls_filtered": list_paths(seeded["queries"]),
        "ledger": ["/api/v1/billing/ledger"],
        "campaigns": ["/api/v1/campaigns"],
        "contacts": [f"/api/v1/campaigns/{seeded['campaign_id']}/contacts"],
        "notifications": ["/api/v1/notifications"],
        "events": [f"/api/v1/calls/{pk}/events" for pk in ids],
    }


def rest_seed(setup: Setup, args) -> tuple[dict, dict]:
    """The seeded database of the REST scenario (bench/seed_rest.py), made once and
    reused by later runs while it holds the same sizes; its facts and server env."""
    if getattr(setup, "rest_seed", None) is not None:
        return setup.rest_seed, setup.rest_env
    url = setup.db.seeded_url(f"rest_{args.rest_calls}")
    env = {**setup.ours_env(), "DATABASE_URL": url}
    fresh = args.rest_reseed
    for _ in range(2):
        setup.db.ensure(url, fresh=fresh)
        subprocess.run([PY, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,  # noqa: S603
                       stdout=subprocess.DEVNULL)
        log(f"  REST data: {args.rest_calls:,} calls in each of two workspaces ({urlparse(url).path[1:]})")
        done = subprocess.run([PY, "bench/seed_rest.py", "--calls", str(args.rest_calls), "--plans"],  # noqa: S603
                              cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != SEED_STALE:
            break
        log("  it holds another seed: made anew")
        fresh = True
    if done.returncode != 0:
        raise RuntimeError("bench/seed_rest.py failed: " + done.stderr[-2000:])
    seeded = json.loads(done.stdout)
    log("  reused the seeded rows" if seeded["reused"] else f"  seeded in {seeded['seeded_in_s']} s")
    setup.rest_seed, setup.rest_env = seeded, env
    return seeded, env


def _rest_kind(server: Server, seeded: dict, env: dict, args, tag: str, kind: str, paths: list[str]) -> dict:
    paths_file = server.variant.setup.logs / f"{tag}-{kind}-paths.json"
    paths_file.write_text(json.dumps(paths))
    argv = [PY, "-m", "bench.restgen", "--port", str(server.port), "--key", seeded["api_key"],
            "--paths-file", str(paths_file), "--clients", str(args.rest_clients),
            "--duration", str(args.rest_duration)]
    with Sampler(server) as sampler, Profiler(server, f"{tag}-{kind}", args.profile) as profiler:
        output = subprocess.run(argv, cwd=ROOT, env=env, check=True,  # noqa: S603
                                capture_output=True, text=True, timeout=args.rest_duration + 60).stdout
    measured = json.loads(output)
    sampled = sampler.result()
    return {**{key: measured[key] for key in ("requests_per_s", "p50_ms", "p95_ms", "p99_ms", "non_200",
                                              "client_cpu_pct")},
            "server_cpu_pct": sampled["server_cpu_pct"],
            "machine_cpu_busy_pct": sampled["machine_cpu_busy_pct"],
            "db_connections_peak": sampled["server_db_connections_peak"],
            "profile": profiler.summary()}


def scenario_rest(variant: Variant, args, tag: str) -> dict:
    """The reads a dashboard makes on open, with --rest-calls calls in each of two
    workspaces: per kind (REST_KINDS), --rest-clients clients for --rest-duration
    seconds, requests/s and latency; and the plan of each calls list query."""
    seeded, env = rest_seed(variant.setup, args)
    server = Server(variant, tag, env=env)
    result = {"calls_in_workspace": args.rest_calls, "clients": args.rest_clients}
    kinds = [kind.strip() for kind in args.rest_kinds.split(",") if kind.strip()]
    try:
        for kind, paths in rest_paths(seeded).items():
            if kind not in kinds:
                continue
            measured = _rest_kind(server, seeded, env, args, tag, kind, paths)
            result.update({f"{kind}_{key}": value for key, value in measured.items()})
    finally:
        server.stop()
    plans = seeded.get("plans") or {}
    result["plans"] = {name: {part: _scans(text) for part, text in parts.items()}
                       for name, parts in plans.items()}
    # Every page (and the detail) read through an index, never a scan and sort of the
    # workspace's calls. A count may scan: counting 75 % of a table, a sequential
    # scan is what the planner should choose.
    result["pages_by_index"] = bool(plans) and all(
        "Seq Scan" not in parts["page"] and "Index" in parts["page"] for parts in plans.values())
    result["counts_by_index"] = sorted(
        name for name, parts in plans.items() if "count" in parts and "Seq Scan" not in parts["count"])
    return result


# --- streams beside REST load -------------------------------------------------------------


def rest_mix(paths: dict[str, list[str]], kinds: list[str]) -> list[str]:
    """One list of paths for the REST clients: the kinds' paths in turn, each kind's
    list cycled to the longest (detail and calls: every other request is the first page)."""
    lists = [paths[kind] for kind in kinds if paths.get(kind)]
    if not lists:
        raise ValueError(f"no paths for the REST kinds {kinds}")
    longest = max(len(each) for each in lists)
    return [each[turn % len(each)] for turn in range(longest) for each in lists]


def p99_ratio(with_ms, without_ms) -> float | None:
    """p99 with the REST load over the p99 without it (None when either is missing)."""
    if not isinstance(with_ms, int | float) or not isinstance(without_ms, int | float) or without_ms <= 0:
        return None
    return round(with_ms / without_ms, 2)


class RestLoad:
    """bench.restgen against a server for the length of a `with` block: it warms up
    before the block's body runs and counts from there for `seconds`."""

    def __init__(self, server: Server, env: dict, key: str, paths: list[str], args, tag: str, seconds: float):
        self.paths_file = server.variant.setup.logs / f"{tag}-rest-paths.json"
        self.paths_file.write_text(json.dumps(paths))
        self.warmup = 1.0
        self.seconds = seconds
        self.argv = [PY, "-m", "bench.restgen", "--port", str(server.port), "--key", key,
                     "--paths-file", str(self.paths_file), "--clients", str(args.rest_clients),
                     "--duration", str(seconds), "--warmup", str(self.warmup)]
        self.env = env
        self.log_path = server.variant.setup.logs / f"{tag}-restgen.log"
        self.result: dict = {}

    def __enter__(self):
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=subprocess.PIPE,  # noqa: S603
                                        stderr=self._log)
        # Its interpreter starts (about 0.3 s), then it warms up: what comes after is counted.
        time.sleep(self.warmup + 0.5)
        if self.process.poll() is not None:
            raise RuntimeError("restgen exited: " + self.log_path.read_text()[-2000:])
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            self.process.kill()
        try:
            output, _ = self.process.communicate(timeout=self.seconds + 60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        self._log.close()
        if exc[0] is None:
            if self.process.returncode != 0:
                raise RuntimeError("restgen failed: " + self.log_path.read_text()[-2000:])
            self.result = json.loads(output)
        return False


REST_STREAMS_PHASE_KEYS = ("p50_ms", "p95_ms", "p99_ms", "max_ms", "deliveries", "unique", "missing",
                           "duplicates", "order_violations", "deliveries_per_s", "publisher_rate",
                           "server_cpu_pct", "server_cpu_system_s", "machine_cpu_busy_pct", "loadgen_cpu_pct",
                           "publisher_cpu_pct",
                           "redis_cpu_pct", "other_processes_cpu_pct", "server_db_connections_peak",
                           "controls", "server_closes", "profile")


def scenario_rest_streams(variant: Variant, args, tag: str) -> dict:
    """Issue #20: streams in the same process do not get slower while REST is under
    load. One server of ours on the REST seed's database (rest_seed); its seeded
    workspace gets --rest-streams-subscribers streams and --rest-streams-rate events/s
    for --rest-streams-duration s twice: alone, then while --rest-clients clients read
    --rest-streams-kinds (the detail and the first page of the calls, in turn) from the
    same process. The fan-out latency of both, the REST requests/s and latency of the second."""
    seeded, env = rest_seed(variant.setup, args)
    kinds = [kind.strip() for kind in args.rest_streams_kinds.split(",") if kind.strip()]
    paths = rest_mix(rest_paths(seeded), kinds)
    # The streams and the REST clients share the seed's read key and its workspace: the
    # one the dashboard reads, of --rest-calls calls (the other seeded workspace has no key).
    key, target = seeded["api_key"], seeded["workspace_id"]
    subscribers, rate, duration = (args.rest_streams_subscribers, args.rest_streams_rate,
                                   args.rest_streams_duration)
    result = {"subscribers": subscribers, "rate": rate, "duration": duration,
              "rest_clients": args.rest_clients, "rest_kinds": kinds, "calls_in_workspace": args.rest_calls}
    with world(variant, tag, args.client_procs, env=env,
               headers=[f"Authorization: Bearer {key}"]) as (server, clients, pub):
        opened = clients.open(subscribers, args.connect_concurrency, args.connect_timeout, args.retries,
                              args.retry_delay)
        result.update({"streams_established": opened["established"], "open_failures": opened["failures"],
                       "open_statuses": opened["statuses"]})
        time.sleep(1)
        _warm_up(clients, pub, target, rate)
        alone = _measured_delivery(variant, args, f"{tag}-without", server, clients, pub, target,
                                   opened["established"], rate, duration)
        wait_for_quiet(server, 10)
        # The control: the same REST load on a second process of ours. What the streams
        # lose then is the machine's (two cores shared with Postgres and the load
        # generators), not the process's; the same-process phase is set against it.
        beside_server = Server(variant, f"{tag}-beside", env=env)
        try:
            with RestLoad(beside_server, env, key, paths, args, f"{tag}-beside", duration + 2) as beside_load:
                beside = _measured_delivery(variant, args, f"{tag}-beside", server, clients, pub, target,
                                            opened["established"], rate, duration)
        finally:
            beside_server.stop()
        wait_for_quiet(server, 10)
        # The clients run 2 s past the publishing: the last events' deliveries stay under load.
        with RestLoad(server, env, key, paths, args, tag, duration + 2) as load:
            loaded = _measured_delivery(variant, args, f"{tag}-with", server, clients, pub, target,
                                        opened["established"], rate, duration)
    for prefix, measured in (("without_", alone), ("beside_", beside), ("with_", loaded)):
        result.update({prefix + name: measured.get(name) for name in REST_STREAMS_PHASE_KEYS})
    for prefix, rest in (("rest_", load.result), ("beside_rest_", beside_load.result)):
        result.update({prefix + name: rest.get(name) for name in (
            "requests", "requests_per_s", "p50_ms", "p95_ms", "p99_ms", "non_200", "client_cpu_pct")})
    # Under REST load the server's CPU is mostly the REST requests': per delivery only alone.
    result["without_server_cpu_us_per_delivery"] = alone["server_cpu_us_per_delivery"]
    result["p99_ratio"] = p99_ratio(result["with_p99_ms"], result["without_p99_ms"])
    result["beside_p99_ratio"] = p99_ratio(result["beside_p99_ms"], result["without_p99_ms"])
    # Above 1 by what sharing the process costs the streams beyond sharing the machine.
    result["same_process_p99_ratio"] = p99_ratio(result["with_p99_ms"], result["beside_p99_ms"])
    return result


# --- contacts upload -----------------------------------------------------------------------


# campaigns.uploads.MAX_ROWS (importing it here would need Django set up).
UPLOAD_MAX_ROWS = 100_000


def _upload_workspace(setup: Setup) -> dict:
    """A workspace of its own with a write key (the others' keys read and report)."""
    if getattr(setup, "upload", None) is None:
        output = subprocess.run([PY, "manage.py", "createworkspace", "Bench Upload", "--api-key", "--json",  # noqa: S603
                                 "--scopes", "read,write"], cwd=ROOT, env=setup.ours_env(), check=True,
                                capture_output=True, text=True).stdout
        setup.upload = json.loads(output)
    return setup.upload


def _seed_campaigns(setup: Setup, workspace_id: str, count: int) -> list[str]:
    output = subprocess.run([PY, "bench/seed_campaigns.py", "--workspace", workspace_id,  # noqa: S603
                             "--count", str(count)], cwd=ROOT, env=setup.ours_env(), check=True,
                            capture_output=True, text=True).stdout
    return json.loads(output)["campaigns"]


def _forget_peak_rss(pid: int) -> None:
    """Resets the process's VmHWM (peak RSS) to its current RSS (proc(5), clear_refs)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/clear_refs", "w") as refs:
        refs.write("5")


def _one_upload(variant: Variant, tag: str, key: str, campaigns: list[str], path: Path,
                content_type: str) -> dict:
    """A fresh server; a 3-row warm-up upload (code, phonenumbers' metadata); then the file,
    with the server's RSS before, its peak (VmHWM, reset after the warm-up) and sampled."""
    from bench.uploadgen import upload, write_csv

    server = Server(variant, tag)
    try:
        warm = write_csv(variant.setup.logs / f"{tag}-warm.csv", 3)
        upload(server.port, key, campaigns.pop(), warm, "text/csv")
        time.sleep(0.5)
        before = server.sample()["rss_kb"]
        _forget_peak_rss(server.pid)
        with Sampler(server, interval=0.05, db_every=10**9) as sampler:
            done = upload(server.port, key, campaigns.pop(), path, content_type)
        peak = max(proc_status(server.pid)["hwm_kb"] or 0, sampler.result()["server_rss_peak_kb"])
        return {"status": done["status"], "answer": done["answer"], "seconds": done["seconds"],
                "bytes": done["bytes"], "rss_before_mb": round(before / 1024, 1),
                "rss_peak_mb": round(peak / 1024, 1), "rss_growth_mb": round((peak - before) / 1024, 1),
                "server_cpu_s": sampler.result()["server_cpu_s"]}
    finally:
        server.stop()


def scenario_upload(variant: Variant, args, tag: str) -> dict:
    """POST /campaigns/{id}/contacts with generated files of --upload-sizes rows (CSV body
    and JSON), each to a fresh server: rows/s, and the web process's RSS before and at
    its peak, which must not grow with the file. Then a file one row over the limit:
    how soon it is refused (413), having written nothing."""
    from bench.uploadgen import write_csv, write_json

    setup = variant.setup
    made = _upload_workspace(setup)
    sizes = [int(size) for size in args.upload_sizes.split(",")]
    campaigns = _seed_campaigns(setup, made["workspace_id"], 4 * len(sizes) + 2)
    result: dict = {"sizes": sizes}
    forms = (("csv", write_csv, "text/csv"), ("json", write_json, "application/json"))
    for kind, write, content_type in forms:
        for size in sizes:
            path = write(setup.logs / f"{tag}-{size}.{kind}", size)
            measured = _one_upload(variant, f"{tag}-{kind}-{size}", made["api_key"], campaigns, path,
                                   content_type)
            accepted = measured["answer"].get("accepted")
            if measured["status"] != 200 or accepted != size:
                raise RuntimeError(f"{kind} {size}: {measured['status']} {str(measured['answer'])[:300]}")
            prefix = f"{kind}_{size}"
            result[f"{prefix}_rows_per_s"] = round(size / measured["seconds"])
            result[f"{prefix}_seconds"] = round(measured["seconds"], 2)
            result[f"{prefix}_mb"] = round(measured["bytes"] / 2**20, 2)
            for key in ("rss_before_mb", "rss_peak_mb", "rss_growth_mb", "server_cpu_s"):
                result[f"{prefix}_{key}"] = measured[key]
            path.unlink()
        small, large = sizes[0], sizes[-1]
        # What the larger file cost beyond the smaller one, in the web process's peak.
        result[f"{kind}_growth_difference_mb"] = round(
            result[f"{kind}_{large}_rss_growth_mb"] - result[f"{kind}_{small}_rss_growth_mb"], 1)
    over = write_csv(setup.logs / f"{tag}-over.csv", UPLOAD_MAX_ROWS + 1)
    refused = _one_upload(variant, f"{tag}-over", made["api_key"], campaigns, over, "text/csv")
    over.unlink()
    result["over_limit_status"] = refused["status"]
    result["over_limit_code"] = refused["answer"].get("error", {}).get("code")
    result["over_limit_seconds"] = round(refused["seconds"], 2)
    return result


# --- the soak ------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (a Celery worker's pool children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in _listdir(f"/proc/{current}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{current}/task/{task}/children") as children:
                todo.extend(int(child) for child in children.read().split())
    return found


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def least_squares_slope(points: list[tuple[float, float]]) -> float | None:
    """Slope of the least-squares line through (x, y) points; None below 3 points."""
    if len(points) < 3:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def celery_process(setup: Setup, tag: str, role: str, env: dict,
                   concurrency: int = 2) -> tuple[subprocess.Popen, object]:
    """A Celery worker (prefork, 2 children as the Procfile runs it, unless told) or the beat."""
    if role == "worker":
        argv = [PY, "-m", "celery", "-A", "project", "worker", "--concurrency", str(concurrency),
                "--loglevel", "WARNING", "--hostname", f"soak-{tag}@%h"]
    else:
        argv = [PY, "-m", "celery", "-A", "project", "beat", "--loglevel", "WARNING",
                "--schedule", str(setup.logs / f"{tag}-celerybeat-schedule")]
    log_file = (setup.logs / f"{tag}-{role}.log").open("wb")
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log_file,  # noqa: S603
                               stderr=subprocess.STDOUT)
    return process, log_file


def stop_system(started: list, setup: Setup) -> None:
    """Stops what a whole-system scenario started (last first: the web server, or a
    Celery process with its log) and empties the run's Redis for the next scenario."""
    for thing in reversed(started):
        if isinstance(thing, Server):
            thing.stop()
        else:
            stop_process(thing[0], timeout=30)
            thing[1].close()
    with contextlib.suppress(Exception):
        import redis

        redis.Redis.from_url(setup.redis.url).flushall()


class RssSampler:
    """RSS of every process of the system under test, every `interval` seconds, from
    /proc: the web process(es), the worker's parent and each pool child, the beat;
    and our Redis's used_memory (keys left behind show here, not in a process)."""

    def __init__(self, roots: dict[str, int], redis_url: str, interval: float):
        self.roots = roots
        self.interval = interval
        self.redis_url = redis_url
        self.series: dict[str, list[tuple[float, float]]] = {}
        # Messages waiting in the Celery queue: a worker that cannot keep up shows here
        # (and in Redis's memory), not in its own RSS.
        self.backlog: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.t0 = time.monotonic()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self):
        import redis

        client = redis.Redis.from_url(self.redis_url)
        while True:
            at = time.monotonic() - self.t0
            for name, pid in self.roots.items():
                tree = process_tree(pid)
                for n, member in enumerate(tree):
                    rss = proc_status(member)["rss_kb"]
                    if rss is None:
                        continue
                    label = name if n == 0 else f"{name}-child-{member}"
                    self.series.setdefault(label, []).append((at, rss / 1024))
                if len(tree) > 1:
                    total = sum(proc_status(member)["rss_kb"] or 0 for member in tree)
                    self.series.setdefault(f"{name}-all", []).append((at, total / 1024))
            with contextlib.suppress(Exception):
                self.series.setdefault("redis-used-memory", []).append(
                    (at, client.info("memory")["used_memory"] / 2**20))
                self.backlog.append((at, client.llen("celery")))
            if self._stop.wait(self.interval):
                return

    def summary(self, warmup_s: float) -> dict:
        out = {}
        for label, points in sorted(self.series.items()):
            after = [(t / 60, mb) for t, mb in points if t >= warmup_s]
            slope = least_squares_slope(after)
            out[label] = {
                "rss_start_mb": round(points[0][1], 1),
                "rss_after_warmup_mb": round(after[0][1], 1) if after else None,
                "rss_end_mb": round(points[-1][1], 1),
                "slope_mb_per_min": round(slope, 3) if slope is not None else None,
                "samples": len(points),
            }
        return out

    def thinned(self, keep: int = 120) -> dict:
        """At most `keep` samples per process, for the JSON (a plot's worth)."""
        return {label: [(round(t, 1), round(mb, 2)) for t, mb in points[::max(1, len(points) // keep)]]
                for label, points in self.series.items()}


def soak_workspace(setup: Setup) -> dict:
    """A workspace of its own, with a key that reads streams and places calls."""
    if getattr(setup, "soak", None) is None:
        output = subprocess.run([PY, "manage.py", "createworkspace", "Bench Soak", "--api-key", "--json",  # noqa: S603
                                 "--scopes", "read,write", "--credit", "10000000"],
                                cwd=ROOT, env=setup.ours_env(), check=True, capture_output=True,
                                text=True).stdout
        setup.soak = json.loads(output)
    return setup.soak


def scenario_soak(variant: Variant, args, tag: str) -> dict:
    """The whole system for --soak-minutes: web, Celery worker and beat; --soak-streams
    workspace streams read all along; --soak-rate calls/s placed through the REST API
    and played by the simulated runtime (Celery). RSS of every process sampled every
    --soak-interval s; per process the RSS after --soak-warmup-minutes and at the end,
    and the least-squares slope after warm-up."""
    setup = variant.setup
    made = soak_workspace(setup)
    metrics_dir = setup.logs / f"{tag}-prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    # The deployment's settings (docs/operations.md): one Prometheus directory for all
    # processes, the simulated runtime at real speed.
    env_extra = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "VOICE_RUNTIME": "simulated",
                 "SIMULATOR_SPEED": "1"}
    # --soak-env DEBUG=true runs the processes as `make run` does (bin/run-dev).
    env_extra.update(item.split("=", 1) for item in args.soak_env)
    original_env = variant.env
    variant.env = lambda: {**original_env(), **env_extra}
    duration = 60 * args.soak_minutes
    warmup = 60 * min(args.soak_warmup_minutes, args.soak_minutes / 2)
    started = []
    try:
        web = Server(variant, tag)
        started.append(web)
        worker = celery_process(setup, tag, "worker", variant.env())
        beat = celery_process(setup, tag, "beat", variant.env())
        started += [worker, beat]
        time.sleep(3)
        for name, (process, _) in (("worker", worker), ("beat", beat)):
            if process.poll() is not None:
                tail = (setup.logs / f"{tag}-{name}.log").read_text()[-2000:]
                raise RuntimeError(f"the {name} exited: {tail}")
        argv = [PY, "-m", "bench.soakgen", "--port", str(web.port), "--read-key", made["api_key"],
                "--write-key", made["api_key"], "--streams", str(args.soak_streams),
                "--rate", str(args.soak_rate), "--duration", str(duration)]
        log_file = (setup.logs / f"{tag}-soakgen.log").open("wb")
        roots = {"web": web.pid, "worker": worker[0].pid, "beat": beat[0].pid}
        with RssSampler(roots, setup.redis.url, args.soak_interval) as sampler:
            generator = subprocess.Popen(argv, cwd=ROOT, env=variant.env(), stdout=subprocess.PIPE,  # noqa: S603
                                         stderr=log_file)
            output, _ = generator.communicate(timeout=duration + 120)
        log_file.close()
        if generator.returncode != 0:
            raise RuntimeError("soakgen failed: " + Path(log_file.name).read_text()[-2000:])
        result = json.loads(output)
        processes = sampler.summary(warmup)
        result.update({
            "environment": dict(item.split("=", 1) for item in args.soak_env),
            "minutes": args.soak_minutes, "warmup_minutes": round(warmup / 60, 2),
            "processes": processes, "rss_series_mb": sampler.thinned(),
            "broker_backlog_end": sampler.backlog[-1][1] if sampler.backlog else None,
            "broker_backlog_max": max((n for _, n in sampler.backlog), default=None),
            "broker_backlog_series": sampler.backlog[::max(1, len(sampler.backlog) // 120)],
            "prometheus_files": len(list(metrics_dir.iterdir())),
            "prometheus_dir_kb": sum(f.stat().st_size for f in metrics_dir.iterdir()) // 1024,
        })
        slopes = {label: p["slope_mb_per_min"] for label, p in processes.items()
                  if p["slope_mb_per_min"] is not None and label != "redis-used-memory"
                  and not label.endswith("-all")}
        worst = max(slopes, key=lambda label: slopes[label]) if slopes else None
        result["rss_slope_max_mb_per_min"] = slopes.get(worst)
        result["rss_slope_max_process"] = worst
        for role in ("web", "worker", "beat"):
            picked = processes.get(f"{role}-all") or processes.get(role) or {}
            result[f"{role}_rss_after_warmup_mb"] = picked.get("rss_after_warmup_mb")
            result[f"{role}_rss_end_mb"] = picked.get("rss_end_mb")
            result[f"{role}_slope_mb_per_min"] = picked.get("slope_mb_per_min")
    finally:
        variant.env = original_env
        stop_system(started, setup)
    return result


# --- the campaign ---------------------------------------------------------------------------


def scenario_campaign(variant: Variant, args, tag: str) -> dict:
    """A --campaign-contacts campaign at --campaign-concurrency through the whole system:
    web, two Celery workers of --campaign-worker-concurrency children (the limit must
    hold across workers) and beat, the
    simulated runtime at --campaign-speed. bench/campaigngen.py drives it over REST and
    samples the campaign's active calls from the database all along."""
    setup = variant.setup
    if setup.db.kind != "postgresql":
        # SQLite has no row locks: what the scenario proves (a limit held across workers
        # by the campaign's lock and SKIP LOCKED claims) would not be measured.
        raise RuntimeError("the campaign scenario needs PostgreSQL: set BENCH_DATABASE_URL or DATABASE_URL")
    made = soak_workspace(setup)
    env_extra = {"VOICE_RUNTIME": "simulated", "SIMULATOR_SPEED": str(args.campaign_speed),
                 "CALLS_MAX_ACTIVE_PER_WORKSPACE": str(max(1000, 2 * args.campaign_concurrency))}
    original_env = variant.env
    variant.env = lambda: {**original_env(), **env_extra}
    started = []
    try:
        web = Server(variant, tag)
        started.append(web)
        for n in range(2):
            started.append(celery_process(setup, f"{tag}-{n}", "worker", variant.env(),
                                          concurrency=args.campaign_worker_concurrency))
        started.append(celery_process(setup, tag, "beat", variant.env()))
        time.sleep(3)
        for thing in started[1:]:
            if thing[0].poll() is not None:
                raise RuntimeError(f"a Celery process exited: {Path(thing[1].name).read_text()[-2000:]}")
        argv = [PY, "-m", "bench.campaigngen", "--port", str(web.port), "--key", made["api_key"],
                "--contacts", str(args.campaign_contacts), "--concurrency", str(args.campaign_concurrency),
                "--timeout", str(args.campaign_timeout)]
        log_file = (setup.logs / f"{tag}-campaigngen.log").open("wb")
        with Sampler(web) as sampler:
            generator = subprocess.run(argv, cwd=ROOT, env=variant.env(), stdout=subprocess.PIPE,  # noqa: S603
                                       stderr=log_file, timeout=args.campaign_timeout + 300)
        log_file.close()
        if not generator.stdout:
            raise RuntimeError("campaigngen failed: " + Path(log_file.name).read_text()[-2000:])
        result = json.loads(generator.stdout)
        result["speed"] = args.campaign_speed
        result["web_cpu_pct"] = sampler.result()["server_cpu_pct"]
    finally:
        variant.env = original_env
        stop_system(started, setup)
    return result


# --- the schedules ---------------------------------------------------------------------------


def _beat_process(setup: Setup, tag: str, env: dict) -> tuple[subprocess.Popen, object]:
    """A beat of its own: its schedule file and pid file under the run's logs."""
    argv = [PY, "-m", "celery", "-A", "project", "beat", "--loglevel", "WARNING",
            "--schedule", str(setup.logs / f"{tag}-celerybeat-schedule"),
            "--pidfile", str(setup.logs / f"{tag}-beat.pid")]
    log_file = (setup.logs / f"{tag}-beat.log").open("wb")
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log_file,  # noqa: S603
                               stderr=subprocess.STDOUT)
    return process, log_file


def _seed_schedules(env: dict, args, tag: str) -> dict:
    argv = [PY, "bench/seed_schedules.py", "--schedules", str(args.schedules),
            "--workspaces", str(args.schedules_workspaces), "--lead", str(args.schedules_lead),
            "--label", tag]
    done = subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True, text=True)  # noqa: S603
    return json.loads(done.stdout)


def _schedule_runs(env: dict, workspaces: list[str], wait: float) -> dict:
    argv = [PY, "bench/schedule_runs.py", "--workspaces", ",".join(workspaces), "--timeout", str(wait)]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,  # noqa: S603
                          timeout=wait + 120)
    if done.returncode != 0:
        raise RuntimeError("schedule_runs failed: " + done.stderr[-2000:])
    return json.loads(done.stdout)


def scenario_schedules(variant: Variant, args, tag: str) -> dict:
    """--schedules one-off call schedules, all due at one instant --schedules-lead s after
    seeding, over --schedules-workspaces workspaces (bench/seed_schedules.py); two beats
    and three Celery workers of --schedules-worker-concurrency children run them
    (schedules/runner.py). bench/schedule_runs.py waits until every schedule has a run
    (at most --schedules-timeout s past the instant) and reports the runs from the
    database: exactly once, outcomes, calls, lateness."""
    setup = variant.setup
    if setup.db.kind != "postgresql":
        # SQLite has no row locks: the exactly-once under parallel runners would not be measured.
        raise RuntimeError("the schedules scenario needs PostgreSQL: set BENCH_DATABASE_URL or DATABASE_URL")
    env = {**variant.env(), "VOICE_RUNTIME": args.schedules_runtime, "SIMULATOR_SPEED": "1",
           # every schedule of one workspace may be a live call at once
           "CALLS_MAX_ACTIVE_PER_WORKSPACE": str(max(1000, 2 * args.schedules))}
    seeded = _seed_schedules(env, args, tag)
    due_at = datetime.fromisoformat(seeded["due_at"])
    started = []
    try:
        started += [celery_process(setup, f"{tag}-{n}", "worker", env,
                                   concurrency=args.schedules_worker_concurrency) for n in range(3)]
        started += [_beat_process(setup, f"{tag}-{n}", env) for n in range(2)]
        time.sleep(3)
        for process, log_file in started:
            if process.poll() is not None:
                raise RuntimeError(f"a Celery process exited: {Path(log_file.name).read_text()[-2000:]}")
        ahead = (due_at - datetime.now(UTC)).total_seconds()
        if ahead < 5:
            raise RuntimeError(f"the processes were up {-ahead:.1f} s after the runs' instant: "
                               "raise --schedules-lead")
        time.sleep(ahead)
        busy_before, total_before = machine_cpu()
        result = _schedule_runs(env, seeded["workspaces"], args.schedules_timeout)
        busy, total = machine_cpu()
    finally:
        stop_system(started, setup)
    result.update({"workspaces": args.schedules_workspaces, "seeded_s": seeded["seeded_s"],
                   "up_before_due_s": round(ahead, 1), "runtime": args.schedules_runtime,
                   "tick_s": float(env.get("SCHEDULES_TICK_SECONDS", 1.0)),
                   "machine_cpu_busy_pct": round(100 * (busy - busy_before) / (total - total_before), 1)})
    result["exactly_once"] = (result["all_run"] and result["runs_per_scheduled_time_max"] == 1
                              and result["runs_recorded"] == result["schedules"])
    return result


# --- exports ---------------------------------------------------------------------------------


def scenario_exports(variant: Variant, args, tag: str) -> dict:
    """A calls export of each of --export-sizes rows, written by a real worker on the
    `exports` queue (bench/exports_bench.py, which seeds by COPY and reuses the rows in
    later repetitions): rows per second, the worker's peak RSS, the first event's latency.
    Not in the default run (minutes of seeding and writing): --scenarios exports."""
    if variant.setup.db.kind != "postgresql":
        raise RuntimeError("the exports scenario needs PostgreSQL: set BENCH_DATABASE_URL or DATABASE_URL")
    argv = [PY, "bench/exports_bench.py", "--sizes", args.export_sizes, "--repeat", "1"]
    done = subprocess.run(argv, cwd=ROOT, env=variant.env(), capture_output=True, text=True,  # noqa: S603
                          timeout=3600, check=False)
    if done.returncode != 0:
        raise RuntimeError("exports_bench failed: " + done.stderr[-2000:])
    result = {}
    for size, measured in json.loads(done.stdout)["sizes"].items():
        result.update({f"{key}_{size}": value for key, value in measured["runs"][0].items()
                       if key not in ("status",)})
    return result

# --- webhooks ---------------------------------------------------------------------------------


def _webhooks_phase(variant: Variant, args, tag: str, fail_endpoints: int) -> dict:
    argv = [PY, "bench/webhooks_bench.py", "run", "--rate", str(args.webhooks_rate),
            "--duration", str(args.webhooks_duration), "--endpoints", str(args.webhooks_endpoints),
            "--senders", str(args.webhooks_senders), "--publishers", str(args.webhooks_publishers),
            "--fail-endpoints", str(fail_endpoints), "--fail-seconds", str(args.webhooks_fail_seconds),
            "--logs", str(variant.setup.logs / tag)]
    for item in args.webhooks_env:
        argv += ["--env", item]
    done = subprocess.run(argv, cwd=ROOT, env=variant.env(), capture_output=True, text=True,  # noqa: S603
                          timeout=args.webhooks_duration + 900, check=False)
    if done.returncode != 0:
        raise RuntimeError("webhooks_bench failed: " + done.stderr[-2000:])
    return json.loads(done.stdout)


def scenario_webhooks(variant: Variant, args, tag: str) -> dict:
    """--webhooks-rate events/s for --webhooks-duration s in one workspace, each to every
    one of --webhooks-endpoints webhooks on a local receiver (bench/webhooks_bench.py),
    then the same with the first endpoint answering 500 for --webhooks-fail-seconds:
    delivered exactly, latency from commit to receipt, deliveries/s, CPU. Not in the
    default run: --scenarios webhooks."""
    if variant.setup.db.kind != "postgresql":
        raise RuntimeError("the webhooks scenario needs PostgreSQL: set BENCH_DATABASE_URL or DATABASE_URL")
    result = {}
    for phase, failing in (("", 0), ("failing_run_", 1)):
        measured = _webhooks_phase(variant, args, f"{tag}-{phase or 'healthy'}", failing)
        measured.pop("progress", None)
        for key, value in measured.items():
            if not isinstance(value, dict | list):
                result[phase + key] = value
    return result


SCENARIOS = {"idle": scenario_idle, "fanout": scenario_fanout, "many": scenario_many,
             "burst": scenario_burst, "storm": scenario_storm, "replay": scenario_replay,
             "connects": scenario_connects, "decode": scenario_decode,
             "ingest": scenario_ingest_persisted, "ingest-mixed": scenario_ingest_mixed,
             "rest": scenario_rest, "rest_streams": scenario_rest_streams, "upload": scenario_upload,
             "curves": scenario_curves, "soak": scenario_soak, "campaign": scenario_campaign,
             "schedules": scenario_schedules,
             "exports": scenario_exports, "webhooks": scenario_webhooks,
             "pushpin_failover": scenario_pushpin_failover}


# --- the contract -------------------------------------------------------------------------

# (scenario, metric, operator, target, the issue's line; {names} are this run's sizes), judged
# on ours' medians; a sixth element names another variant to judge (issue #21's lines, on
# ours-pushpin), and such a line is listed only when that variant ran.
CONTRACT = [
    ("idle", "streams_established", ">=", "streams", "10,000 concurrent idle streams (run: {streams:,})"),
    ("idle", "rss_per_stream_kb", "<=", 25, "≤ 25 KB RSS per idle stream"),
    ("idle", "threads_growth", "<=", 0, "thread count does not grow with streams"),
    ("idle", "db_connections_at_1000", "<=", 20, "1,000 open streams hold ≤ 20 DB connections"),
    ("fanout", "deliveries_per_s", ">=", 50_000,
     "≥ 50,000 deliveries/s, 1,000 subscribers (run: {subscribers:,} x {rate:g}/s)"),
    ("fanout", "p99_ms", "<=", 150, "p99 ≤ 150 ms, 1,000 subscribers (run: {subscribers:,})"),
    ("many", "p99_ms", "<=", 500,
     "p99 ≤ 500 ms, 5,000 subscribers x 4/s (run: {many_subscribers:,} x {many_rate:g}/s)"),
    ("burst", "complete", "==", True, "{burst:,}-event burst complete, in order, no duplicate"),
    ("storm", "reconnects_per_s", ">=", 3_000, "reconnect storm ≥ 3,000 connects/s (run: {storm:,} streams)"),
    ("storm", "reconnect_all_back_s", "<=", 5, "10,000 clients back within 5 s (run: {storm:,})"),
    ("storm", "replay_max_ms", "<=", 2000,
     "replay after reconnect catches up within 2 s (slowest stream, from its connected; ms)"),
    ("storm", "duplicates", "==", 0, "replay with no duplicate"),
    ("storm", "server_db_connections_peak", "<=", 20,
     "DB connections do not depend on the number of streams (≤ 20 with {storm:,} reconnecting)"),
    ("replay", "catch_up_all_s", "<=", 2,
     "replay after overflow catches up within 2 s, all at once from the first connect "
     "(run: {replay_streams:,} x {replay_missed:,} behind)"),
    ("replay", "duplicates", "==", 0, "replay after overflow with no duplicate"),
    ("decode", "foreign_decode_free", "==", True, "a process decodes only the workspaces it watches"),
    ("ingest", "accepted_events_per_s", ">=", 2_000,
     "end to end ≥ 2,000 events/s, every event persisted "
     "(run: {ingest_senders} runtimes x {ingest_batch}-event batches)"),
    ("ingest", "lost", "==", 0, "ingest: every accepted event reaches its call's stream"),
    ("ingest-mixed", "accepted_events_per_s", ">=", 2_000, "end to end ≥ 2,000 events/s, half ephemeral"),
    ("rest", "pages_by_index", "==", True,
     "every calls list page and the detail read through an index (plans, {rest_calls:,} calls)"),
    # Issue #20, one web process, {rest_clients} clients, two workspaces of {rest_calls:,} calls.
    ("rest", "detail_requests_per_s", ">=", 1_500,
     "GET /calls/{{id}} ≥ 1,500 requests/s ({rest_clients} clients, {rest_calls:,} calls a workspace)"),
    ("rest", "detail_p99_ms", "<=", 50, "GET /calls/{{id}} p99 ≤ 50 ms"),
    ("rest", "calls_requests_per_s", ">=", 600, "GET /calls first page ≥ 600 requests/s"),
    ("rest", "calls_p99_ms", "<=", 50, "GET /calls first page p99 ≤ 50 ms"),
    ("rest", "slowest_list_vs_calls", ">=", 0.5,
     "ledger, campaigns, contacts, notifications, call events: each within 2x of the calls list "
     "(requests/s, the slowest over the calls list's)"),
    ("rest", "detail_vs_floor", ">=", 0.8,
     "GET /calls/{{id}}: ours ≥ 80 % of the WSGI floor's requests/s (gunicorn, same app and database)"),
    ("rest", "calls_vs_floor", ">=", 0.8, "GET /calls: ours ≥ 80 % of the WSGI floor's requests/s"),
    # Issue #20's third goal. On two cores the REST load slows the streams wherever it
    # runs; what the goal is about is the process: the p99 with the load in the same
    # process over the p99 with it in another (one machine, both). The same fan-out's
    # p99 moves by tens of per cent between runs here: 1.2x, and 1.5x over alone.
    ("rest_streams", "same_process_p99_ratio", "<=", 1.2,
     "streams no slower for sharing the process: fan-out p99 with {rest_clients} REST clients on the "
     "same process ≤ 1.2x with them on another process of the same machine"),
    ("rest_streams", "p99_ratio", "<=", 1.5,
     "streams not slower under REST load: fan-out p99 with {rest_clients} REST clients ≤ 1.5x without, "
     "same process (run: {rest_streams_subscribers:,} x {rest_streams_rate:g}/s, {rest_calls:,} calls)"),
    ("rest_streams", "with_missing", "==", 0, "no stream delivery lost under REST load"),
    # A 10-fold file must not cost the web process more memory (2 MB: this machine's noise).
    ("upload", "csv_growth_difference_mb", "<=", 2,
     "contacts upload: web RSS does not grow with the file (CSV, {upload_sizes} rows; MB more)"),
    ("upload", "json_growth_difference_mb", "<=", 2,
     "contacts upload: web RSS does not grow with the file (JSON, {upload_sizes} rows; MB more)"),
    # The slope's noise on this shared machine is about ±0.05 MB/min over 30 minutes.
    ("soak", "rss_slope_max_mb_per_min", "<=", 0.1,
     "every process flat after warm-up: RSS slope ≤ 0.1 MB/min "
     "(run: {soak_minutes:g} min, {soak_streams} streams, {soak_rate:g} calls/s)"),
    ("campaign", "concurrency_held", "==", True,
     "active campaign calls never above max_concurrency, sampled from the database "
     "(run: {campaign_contacts:,} contacts at {campaign_concurrency})"),
    ("campaign", "all_terminal", "==", True, "every contact terminal when the campaign completes"),
    ("campaign", "overlapping_dials", "==", 0, "no contact dialed twice at once"),
    ("campaign", "attempts_within_policy", "==", True, "attempts within the retry policy, one call each"),
    ("schedules", "exactly_once", "==", True,
     "every due run recorded once, by two beats and three workers "
     "(run: {schedules:,} schedules in {schedules_workspaces} workspaces)"),
    ("schedules", "calls_with_schedule_id", "==", "schedules", "one call per executed run"),
    # Issue #21: Pushpin holds the streams. The web process holds none, so what they
    # cost it is what the opening requests and the next links leave behind. "Flat":
    # at most 1 KB a stream (20 MB at 20,000), where a stream held in the process
    # costs 17.6 KB.
    ("idle", "streams_established", ">=", "streams",
     "through Pushpin: 20,000 idle streams held (run: {streams:,})", "ours-pushpin"),
    ("idle", "django_rss_per_stream_kb", "<=", 1,
     "through Pushpin: the web process's RSS flat, ≤ 1 KB per idle stream, 1 to {streams:,}",
     "ours-pushpin"),
    ("many", "p99_ms", "<=", 150,
     "through Pushpin: fan-out p99 ≤ 150 ms, 5,000 subscribers x 4/s "
     "(run: {many_subscribers:,} x {many_rate:g}/s)", "ours-pushpin"),
    ("storm", "reconnected", ">=", "storm",
     "through Pushpin: a reconnect storm of 10,000 with resume, all back (run: {storm:,})", "ours-pushpin"),
    ("storm", "streams_caught_up", ">=", "storm", "through Pushpin: every stream caught up after the storm",
     "ours-pushpin"),
    ("storm", "duplicates", "==", 0, "through Pushpin: no duplicate in the storm's replay", "ours-pushpin"),
    ("storm", "missing", "==", 0, "through Pushpin: nothing lost in the storm's replay", "ours-pushpin"),
    ("pushpin_failover", "streams_lost", "==", 0,
     "two web processes behind Pushpin, the first killed mid-run: no stream lost "
     "(run: {failover_streams:,} streams, {failover_rate:g}/s for {failover_duration:g} s)", "ours-pushpin"),
    ("pushpin_failover", "missing", "==", 0, "… every stream got every event", "ours-pushpin"),
    ("pushpin_failover", "duplicates", "==", 0, "… none twice", "ours-pushpin"),
    ("pushpin_failover", "order_violations", "==", 0, "… in order", "ours-pushpin"),
]


def contract_lines(scenario: str, medians: dict, args) -> list[dict]:
    """The contract's lines of `scenario`, judged on the variant each names (ours
    unless a sixth element says which) in this run's `medians`; a line of a variant
    other than ours is listed only when that variant ran."""
    lines = []
    for sc, metric, op, target, text, *judged in CONTRACT:
        variant = judged[0] if judged else "ours"
        if sc != scenario or (variant != "ours" and variant not in medians):
            continue
        goal = getattr(args, target) if isinstance(target, str) else target
        value = medians.get(variant, {}).get(metric)
        lines.append({"line": text.format(**vars(args)), "metric": metric, "target": goal, "variant": variant,
                      "value": value, "met": judge(op, value, goal),
                      # The earlier shape of a line: the value under "ours", for ours' lines.
                      **({"ours": value} if variant == "ours" else {})})
    return lines


# The lists a dashboard reads beside the calls list, held to within 2x of it (issue #20).
REST_OTHER_LISTS = ["ledger", "campaigns", "contacts", "notifications", "events"]


def derived(scenario: str, result: dict) -> dict:
    out = dict(result)
    if scenario == "rest" and result.get("calls_requests_per_s"):
        others = [result.get(f"{kind}_requests_per_s") for kind in REST_OTHER_LISTS]
        if all(isinstance(value, int | float) for value in others):
            out["slowest_list_vs_calls"] = round(min(others) / result["calls_requests_per_s"], 2)
    if scenario == "idle":
        out["threads_growth"] = (result["threads_full"] or 0) - (result["threads_base"] or 0)
    if scenario in ("storm", "replay"):
        out["db_growth"] = ((result.get("server_db_connections_peak") or 0)
                            - max(1, result.get("db_connections_before") or 0))
    if scenario == "decode":
        # The foreign events' channel is not one the server subscribed to (stock: all events
        # share one channel, so it decodes them all).
        out["foreign_decode_free"] = result["foreign_channel_subscribed"] is False
    return out


def compare_with_floor(record: dict) -> None:
    """Ours' requests/s over the WSGI floor's, per REST kind, into ours' medians: the
    median of the ratios of the repetitions run side by side (ours' first with the
    floor's first, ...), or of the medians when there is only one of the floor."""
    ours, floor = record["median"].get("ours"), record["median"].get("wsgi-floor")
    if not ours or not floor:
        return
    for kind in REST_KINDS:
        key = f"{kind}_requests_per_s"
        pairs = [(mine.get(key), theirs.get(key))
                 for mine, theirs in zip(record["runs"]["ours"], record["runs"]["wsgi-floor"], strict=False)]
        ratios = [mine / theirs for mine, theirs in pairs
                  if isinstance(mine, int | float) and isinstance(theirs, int | float) and theirs]
        if len(ratios) < 2:
            mine, theirs = ours.get(key), floor.get(key)
            ratios = [mine / theirs] if isinstance(mine, int | float) and isinstance(theirs, int | float) \
                and theirs else []
        if ratios:
            ours[f"{kind}_vs_floor"] = round(statistics.median(ratios), 2)


def judge(op: str, value, target) -> bool | None:
    if value is None:
        return None
    return {">=": value >= target, "<=": value <= target, "==": value == target}[op]


# --- running ------------------------------------------------------------------------------


def median_result(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1] if runs else {}
    out = {}
    for key in ok[0]:
        values = [r.get(key) for r in ok]
        if all(isinstance(v, bool) for v in values):
            out[key] = all(values)
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            out[key] = statistics.median(values)
        else:
            out[key] = values[len(values) // 2]
    out["repetitions"] = len(ok)
    return out


def machine() -> dict:
    return {"cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "loadavg_at_start": os.getloadavg()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition (~3 minutes)")
    parser.add_argument("--scenarios", default=",".join(ALL_SCENARIOS))
    parser.add_argument("--engines", default="ours,ours-daphne,stock,stock+storage,floor,wsgi-floor",
                        help="variants to run where the scenario measures them: ours (uvicorn), "
                             "ours-pushpin (ours behind Pushpin, not run unless named), "
                             "ours-daphne, stock, stock+storage, floor (bench/floor.py), "
                             "wsgi-floor (our app under gunicorn, bench/wsgi_floor.py)")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions per scenario (median taken)")
    parser.add_argument("--repeat-others", type=int, default=1,
                        help="repetitions of the variants other than ours (at most --repeat)")
    parser.add_argument("--streams", type=int, default=10_000, help="idle streams")
    parser.add_argument("--subscribers", type=int, default=1_000)
    parser.add_argument("--rate", type=float, default=55,
                        help="events/s in the fanout scenario (55 x 1,000: above the 50,000/s line)")
    parser.add_argument("--duration", type=float, default=10, help="seconds of publishing (fanout)")
    parser.add_argument("--many-subscribers", type=int, default=5_000)
    parser.add_argument("--many-rate", type=float, default=4)
    parser.add_argument("--many-duration", type=float, default=10)
    parser.add_argument("--burst", type=int, default=1_000)
    parser.add_argument("--burst-atomic", action=argparse.BooleanOptionalAction, default=True,
                        help="ours: the burst in one transaction (published together after commit)")
    parser.add_argument("--burst-timeout", type=float, default=60)
    parser.add_argument("--storm", type=int, default=10_000, help="streams that reconnect at once")
    parser.add_argument("--storm-missed", type=int, default=10, help="events published while they are away")
    parser.add_argument("--storm-concurrency", type=int, default=10_000, help="connects in flight at once")
    parser.add_argument("--replay-streams", type=int, default=10, help="streams that come back far behind")
    parser.add_argument("--replay-missed", type=int, default=6_000,
                        help="events they missed (past the 5,000-event hard limit, as after an overflow)")
    parser.add_argument("--decode-streams", type=int, default=100)
    parser.add_argument("--decode-events", type=int, default=1_000)
    parser.add_argument("--decode-rate", type=float, default=200)
    parser.add_argument("--ingest-calls", type=int, default=20, help="active calls the runtimes report on")
    parser.add_argument("--ingest-senders", type=int, default=20, help="concurrent runtimes posting batches")
    parser.add_argument("--ingest-batch", type=int, default=50, help="events per ingest batch")
    parser.add_argument("--ingest-duration", type=float, default=10, help="seconds of posting")
    parser.add_argument("--ingest-web-procs", type=int, default=2,
                        help="web processes the runtimes post to (the streams read the first); "
                             "one per core, as docs/operations.md deploys them")
    parser.add_argument("--rest-calls", type=int, default=1_000_000,
                        help="calls in each of the two workspaces (rest; seeded once, kept in the "
                             "database <bench database>_rest_<calls> for later runs)")
    parser.add_argument("--rest-reseed", action="store_true", help="seed the REST database anew")
    parser.add_argument("--rest-kinds", default=",".join(REST_KINDS),
                        help="the REST requests measured (comma list of " + ", ".join(REST_KINDS) + ")")
    parser.add_argument("--rest-clients", type=int, default=20, help="concurrent REST clients")
    parser.add_argument("--rest-duration", type=float, default=10, help="seconds per REST request kind")
    parser.add_argument("--rest-streams-subscribers", type=int, default=1_000,
                        help="streams of the REST workspace (rest_streams: fan-out with and without "
                             "REST load)")
    parser.add_argument("--rest-streams-rate", type=float, default=10,
                        help="events/s to them (rest_streams; 10 x 1,000: a fifth of the fanout load)")
    parser.add_argument("--rest-streams-duration", type=float, default=10,
                        help="seconds of publishing, once alone and once under REST load (rest_streams)")
    parser.add_argument("--rest-streams-kinds", default="detail,calls",
                        help="the REST requests sent during rest_streams, in turn (REST kinds, comma list)")
    parser.add_argument("--upload-sizes", default="10000,100000",
                        help="rows of the contacts files uploaded (smallest and largest compared)")
    parser.add_argument("--curve-sizes", default="100,1000,5000,10000", help="subscribers at each point")
    parser.add_argument("--curve-rate", type=float, default=4, help="events/s at every curve point")
    parser.add_argument("--curve-duration", type=float, default=5, help="seconds of publishing per point")
    parser.add_argument("--soak-minutes", type=float, default=30,
                        help="length of the soak (web, worker and beat under steady traffic)")
    parser.add_argument("--soak-warmup-minutes", type=float, default=5,
                        help="the soak's slopes are taken after this (at most half the soak)")
    parser.add_argument("--soak-streams", type=int, default=300, help="workspace streams read in the soak")
    parser.add_argument("--soak-rate", type=float, default=3.6, help="calls placed per second in the soak")
    parser.add_argument("--soak-interval", type=float, default=5, help="seconds between RSS samples")
    parser.add_argument("--soak-env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment of the soak's web, worker and beat (repeatable), e.g. DEBUG=true")
    parser.add_argument("--campaign-contacts", type=int, default=10_000, help="contacts of the campaign")
    parser.add_argument("--campaign-concurrency", type=int, default=100, help="its max_concurrency")
    parser.add_argument("--campaign-speed", type=float, default=200, help="SIMULATOR_SPEED of its calls")
    # Every emitting transaction of the workspace waits for its event cursor, so more
    # children than cores only queue on it (docs/PERFORMANCE.md "Campaigns").
    parser.add_argument("--campaign-worker-concurrency", type=int, default=2,
                        help="pool children of each of the two workers")
    parser.add_argument("--campaign-timeout", type=float, default=3000, help="seconds to wait for completion")
    parser.add_argument("--schedules", type=int, default=1000, help="one-off schedules due at one instant")
    parser.add_argument("--schedules-workspaces", type=int, default=10,
                        help="workspaces the schedules are spread over")
    parser.add_argument("--schedules-lead", type=float, default=45,
                        help="seconds from seeding to the runs' instant (the processes start between)")
    parser.add_argument("--schedules-worker-concurrency", type=int, default=2,
                        help="pool children of each of the three workers")
    parser.add_argument("--schedules-runtime", default="ingest", choices=["simulated", "ingest"],
                        help="VOICE_RUNTIME of the workers (ingest: calls stay queued, nothing plays them)")
    parser.add_argument("--schedules-timeout", type=float, default=300,
                        help="seconds past the runs' instant to wait for every run")
    parser.add_argument("--export-sizes", default="100000,1000000",
                        help="rows of each calls export of the exports scenario (comma list)")
    parser.add_argument("--webhooks-rate", type=float, default=1000, help="workspace events/s (webhooks)")
    parser.add_argument("--webhooks-duration", type=float, default=60, help="seconds of publishing")
    parser.add_argument("--webhooks-endpoints", type=int, default=10, help="webhooks taking every event")
    parser.add_argument("--webhooks-senders", type=int, default=1, help="run_webhook_sender processes")
    parser.add_argument("--webhooks-publishers", type=int, default=2, help="publishing processes")
    parser.add_argument("--webhooks-fail-seconds", type=float, default=30,
                        help="the failing run's first endpoint answers 500 this long")
    parser.add_argument("--webhooks-env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment of the webhooks worker and senders (repeatable)")
    parser.add_argument("--pushpin-origins", type=int, default=1,
                        help="web processes of ours behind the one Pushpin (ours-pushpin); its route "
                             "fails over between them in order, it does not share the load")
    parser.add_argument("--failover-streams", type=int, default=1_000,
                        help="streams held through Pushpin while the first of two web processes is "
                             "killed (pushpin_failover)")
    parser.add_argument("--failover-rate", type=float, default=10,
                        help="events/s meanwhile (pushpin_failover)")
    parser.add_argument("--failover-duration", type=float, default=90,
                        help="seconds of publishing (pushpin_failover). What follows the kill must "
                             "outlast a refresh (GRIP_REFRESH_SECONDS, 10) and Pushpin's retries of a "
                             "failed next link (1, 2, 4, 8, 16 s) before it ends a stream: 60 s")
    parser.add_argument("--failover-kill-at", type=float, default=1 / 3,
                        help="when the first web process is killed, as a share of --failover-duration")
    parser.add_argument("--client-procs", type=int, default=2, help="load generator processes")
    parser.add_argument("--connect-concurrency", type=int, default=50,
                        help="connects in flight while a scenario sets up its streams")
    parser.add_argument("--retries", type=int, default=100,
                        help="a refused connect (non-200, reset) is retried this often")
    parser.add_argument("--retry-delay", type=float, default=0.5, help="seconds between those retries")
    parser.add_argument("--connect-timeout", type=float, default=90)
    parser.add_argument("--idle-timeout", type=float, default=3,
                        help="a wait ends after this long without events")
    parser.add_argument("--settle", type=float, default=3)
    parser.add_argument("--idle-hold", type=float, default=12,
                        help="seconds the idle streams are held and the server's CPU measured "
                             "(our engine refreshes its stream registrations every 10 s)")
    parser.add_argument("--max-streams", type=int, default=20_000,
                        help="REALTIME_MAX_STREAMS_PER_WORKSPACE/PRINCIPAL of our server")
    parser.add_argument("--listen-backlog", type=int, default=4096,
                        help="listen backlog of both servers (daphne's default is 50; 0 keeps it)")
    parser.add_argument("--server-log-level", default="WARNING")
    parser.add_argument("--profile", action="store_true", help="py-spy the server during measured phases")
    parser.add_argument("--keep-db", action="store_true", help="keep the benchmark databases afterwards")
    args = parser.parse_args(argv)
    if args.quick:
        quick = {"streams": 1_000, "subscribers": 200, "duration": 3, "many_subscribers": 1_000,
                 "many_duration": 3, "storm": 1_000, "storm_concurrency": 1_000, "decode_events": 400,
                 "replay_streams": 20, "replay_missed": 1_500,
                 "settle": 1, "idle_timeout": 2, "burst_timeout": 20,
                 "ingest_duration": 4, "rest_calls": 10_000, "rest_duration": 3, "idle_hold": 3,
                 "rest_streams_subscribers": 200, "rest_streams_duration": 3,
                 "curve_sizes": "100,1000", "curve_duration": 2,
                 "soak_minutes": 2.5, "soak_warmup_minutes": 1, "soak_interval": 2,
                 "campaign_contacts": 1_000, "campaign_concurrency": 50,
                 # 30 s after the kill: a refresh (10 s) and most of Pushpin's retries (31 s).
                 "failover_streams": 200, "failover_duration": 45,
                 # Ours under uvicorn beside stock without storage: under 3 minutes. Stock
                 # with storage alone took 90 s of a storm (a thread per stream).
                 "engines": "ours,stock,floor,wsgi-floor"}
        for key, value in quick.items():
            if getattr(args, key) == parser.get_default(key):
                setattr(args, key, value)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # Whatever holds the streams (our server, or Pushpin's condure) needs an fd for
    # each, and some more; every child inherits the limit. Only a privileged user
    # (CAP_SYS_RESOURCE) may raise the hard limit: otherwise it stays, with a warning.
    needed = max(args.streams, args.storm) + 1000
    if hard < needed:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            hard = needed
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < needed:
        log(f"warning: RLIMIT_NOFILE hard limit {hard} is below the stream count")

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    engines = {e.strip() for e in args.engines.split(",")}
    started = time.monotonic()
    command = "python bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    setup = Setup(args, stamp)
    summary = {}
    try:
        for scenario in scenarios:
            variants = [v for v in DEFAULT_VARIANTS[scenario] if v in engines]
            if args.quick and scenario in SHAPES:
                variants = variants[:1]  # the shape of ours; stock's curve is the full run's
            record = {"scenario": scenario, "command": command, "started": stamp, "machine": machine(),
                      "database": setup.db.kind, "params": vars(args), "runs": {}, "median": {}}
            # Medians of --repeat for ours under the production server; the others
            # (daphne, stock) were stable across runs and run --repeat-others times,
            # which keeps the default run within 20 minutes.
            repeats = {name: 1 if scenario in ONCE
                       else args.repeat if name == "ours" else min(args.repeat, args.repeat_others)
                       for name in variants}
            runs = {name: [] for name in variants}
            # One repetition of each variant in turn, not all of one then all of the next:
            # this machine's speed drifts by tens of percent over minutes, and a
            # comparison of two variants should meet the same drift.
            for rep in range(max(repeats.values(), default=0)):
                for name in variants:
                    if rep >= repeats[name]:
                        continue
                    tag = f"{scenario}-{name.replace('+', '-')}-{rep}"
                    log(f"{scenario} / {name} / repetition {rep + 1} of {repeats[name]}")
                    t0 = time.monotonic()
                    try:
                        result = derived(scenario, SCENARIOS[scenario](Variant(name, setup), args, tag))
                    except Exception as error:  # one failed run must not lose the others
                        log(f"  failed: {error.__class__.__name__}: {error}")
                        result = {"error": f"{error.__class__.__name__}: {error}"}
                    result["wall_s"] = round(time.monotonic() - t0, 1)
                    runs[name].append(result)
                    log("  " + brief(scenario, result))
            for name in variants:
                record["runs"][name] = runs[name]
                record["median"][name] = median_result(runs[name])
            if scenario == "rest":
                compare_with_floor(record)
            record["contract"] = contract_lines(scenario, record["median"], args)
            path = RESULTS / f"{scenario}-{stamp}.json"
            path.write_text(json.dumps(record, indent=1, default=str))
            summary[scenario] = record
            log(f"wrote {path.relative_to(ROOT)}")
    finally:
        setup.close()
    elapsed = time.monotonic() - started
    latest = latest_document(summary, args, command)
    (RESULTS / "latest.json").write_text(json.dumps(latest, indent=1, default=str))
    if "curves" in summary:
        from bench.plot import write_curves

        written = write_curves(summary["curves"]["median"], RESULTS / f"curves-{stamp}")
        log("curves: " + ", ".join(str(path.relative_to(ROOT)) for path in written))
    table = render_table(summary, command, elapsed, setup.db.kind, args)
    (RESULTS / f"summary-{stamp}.md").write_text(table)
    print(table)
    log(f"done in {elapsed / 60:.1f} minutes")
    return 0


# scenario -> how its medians read as a case of latest.json: (subscribers, rate, deliveries) keys
# or a value taken from the run's arguments.
CASE_FIELDS = {
    "idle": {"subscribers": "streams_established"},
    "fanout": {"subscribers": ("args", "subscribers"), "rate": ("args", "rate"),
               "deliveries_per_s": "deliveries_per_s", "lost": "missing"},
    "many": {"subscribers": ("args", "many_subscribers"), "rate": ("args", "many_rate"),
             "deliveries_per_s": "deliveries_per_s", "lost": "missing"},
    "burst": {"subscribers": ("args", "subscribers"), "lost": "missing"},
    "storm": {"subscribers": ("args", "storm"), "lost": "missing"},
    "replay": {"subscribers": ("args", "replay_streams"), "lost": "missing"},
    "ingest": {"subscribers": ("args", "ingest_calls"), "deliveries_per_s": "accepted_events_per_s",
               "lost": "lost"},
    "ingest-mixed": {"subscribers": ("args", "ingest_calls"), "deliveries_per_s": "accepted_events_per_s",
                     "lost": "lost"},
    "soak": {"subscribers": ("args", "soak_streams"), "rate": ("args", "soak_rate"),
             "p50_ms": "place_p50_ms", "p99_ms": "place_p99_ms"},
    "pushpin_failover": {"subscribers": "streams_established", "rate": ("args", "failover_rate"),
                         "lost": "missing"},
}
# Behind Pushpin, what a case of ours-pushpin adds: the web processes' part and Pushpin's
# (idle: memory; the delivery and storm phases: CPU), and the failover's verdicts.
PUSHPIN_CASE_KEYS = ("django_rss_base_mb", "django_rss_full_mb", "django_rss_growth_mb",
                     "django_rss_per_stream_kb", "pushpin_rss_full_mb", "pushpin_rss_per_stream_kb",
                     "rss_full_by_process_mb", "django_cpu_pct", "server_cpu_pct",
                     "server_cpu_by_process_pct",
                     "streams_lost", "streams_ended_by_server", "duplicates", "order_violations",
                     "second_origin_cpu_after_kill_s")


def case_server(variant: str) -> str:
    """What serves the streams of a variant's case in latest.json."""
    if variant == "ours-pushpin":
        return "pushpin+uvicorn"
    return "daphne" if variant in ("ours-daphne", "stock", "stock+storage") else "uvicorn"
# (scenario, metric, higher is better): ours over stock, as "how many times better".
RATIOS = [("idle", "rss_per_stream_kb", False), ("idle", "threads_full", False),
          ("fanout", "deliveries_per_s", True), ("fanout", "p99_ms", False),
          ("many", "deliveries_per_s", True), ("many", "p99_ms", False),
          ("storm", "reconnects_per_s", True), ("storm", "reconnect_all_back_s", False)]


def rest_cases(medians: dict, args) -> list[dict]:
    """A case per REST request kind and server: ours (uvicorn) beside the WSGI floor."""
    cases = []
    for kind in REST_KINDS:
        for variant, values in medians.items():
            if f"{kind}_requests_per_s" not in values:
                continue
            cases.append({
                "name": f"rest/{kind}/{variant}",
                "system": "floor" if variant == "wsgi-floor" else "callboard",
                "server": "gunicorn" if variant == "wsgi-floor" else "uvicorn",
                "clients": args.rest_clients, "calls_per_workspace": args.rest_calls,
                "requests_per_s": values[f"{kind}_requests_per_s"],
                "p50_ms": values.get(f"{kind}_p50_ms"), "p99_ms": values.get(f"{kind}_p99_ms"),
                "vs_floor": values.get(f"{kind}_vs_floor"),
                "non_200": values.get(f"{kind}_non_200"), "error": values.get("error"),
            })
    return cases


def rest_streams_cases(medians: dict, args) -> list[dict]:
    """Two cases per server: the streams alone and under REST load (with what the REST
    clients got meanwhile, and the ratio of the p99s)."""
    cases = []
    for variant, values in medians.items():
        for prefix, phase in (("without_", "without_rest"), ("beside_", "rest_in_other_process"),
                              ("with_", "with_rest")):
            case = {
                "name": f"rest_streams/{phase}/{variant}", "system": "callboard", "server": "uvicorn",
                "subscribers": values.get("subscribers", args.rest_streams_subscribers),
                "rate": values.get("rate", args.rest_streams_rate),
                "p50_ms": values.get(f"{prefix}p50_ms"), "p99_ms": values.get(f"{prefix}p99_ms"),
                "max_ms": values.get(f"{prefix}max_ms"),
                "deliveries_per_s": values.get(f"{prefix}deliveries_per_s"),
                "deliveries": values.get(f"{prefix}deliveries"), "lost": values.get(f"{prefix}missing"),
                "server_cpu_pct": values.get(f"{prefix}server_cpu_pct"), "error": values.get("error"),
            }
            if prefix != "without_":
                rest = "rest_" if prefix == "with_" else "beside_rest_"
                case.update({"rest_clients": args.rest_clients, "calls_per_workspace": args.rest_calls,
                             "rest_requests_per_s": values.get(f"{rest}requests_per_s"),
                             "rest_p99_ms": values.get(f"{rest}p99_ms"),
                             "p99_vs_without": values.get("p99_ratio" if prefix == "with_" else
                                                          "beside_p99_ratio")})
            if prefix == "with_":
                case["p99_vs_rest_in_other_process"] = values.get("same_process_p99_ratio")
            cases.append(case)
    return cases


def latest_document(summary: dict, args, command: str) -> dict:
    """bench/results/latest.json: one case per scenario and server, the shape issue #5 names."""
    cases = []
    for scenario, record in summary.items():
        fields = CASE_FIELDS.get(scenario, {})
        if scenario == "rest":
            cases.extend(rest_cases(record["median"], args))
            continue
        if scenario == "rest_streams":
            cases.extend(rest_streams_cases(record["median"], args))
            continue
        for variant, medians in record["median"].items():
            def read(name, default=None, fields=fields, medians=medians):
                source = fields.get(name, name if name in medians else None)
                if isinstance(source, tuple):
                    return getattr(args, source[1])
                return medians.get(source, default) if source else default
            cases.append({
                "name": f"{scenario}/{variant}",
                "system": "callboard" if variant.startswith("ours") else
                          "floor" if variant == "floor" else "baseline",
                "server": case_server(variant),
                "subscribers": read("subscribers"), "rate": read("rate"),
                "p50_ms": read("p50_ms"), "p99_ms": read("p99_ms"),
                "deliveries_per_s": read("deliveries_per_s"),
                "rss_per_conn_kb": medians.get("rss_per_stream_kb"),
                "threads": medians.get("threads_full", medians.get("server_threads_peak")),
                "lost": read("lost"), "error": medians.get("error"),
            })
            if variant == "ours-pushpin":
                cases[-1].update({key: medians[key] for key in PUSHPIN_CASE_KEYS if key in medians})
            if scenario == "soak" and "processes" in medians:
                # RSS per process: after warm-up, at the end, and the slope between (MB/min).
                keys = ("rss_after_warmup_mb", "rss_end_mb", "slope_mb_per_min")
                cases[-1]["rss_mb"] = {label: {key: facts[key] for key in keys}
                                       for label, facts in medians["processes"].items()}
    ratios = {}
    for scenario, metric, higher_is_better in RATIOS:
        medians = summary.get(scenario, {}).get("median", {})
        ours = medians.get("ours", {}).get(metric)
        for baseline in ("stock", "stock+storage"):
            theirs = medians.get(baseline, {}).get(metric)
            if isinstance(ours, int | float) and isinstance(theirs, int | float) and ours and theirs:
                ratio = ours / theirs if higher_is_better else theirs / ours
                ratios[f"{scenario}.{metric} ours vs {baseline} (x better)"] = round(ratio, 2)
    return {"machine": machine(), "command": command, "cases": cases, "ratios": ratios,
            "contract": [line for record in summary.values() for line in record.get("contract", [])]}


BRIEF_KEYS = {
    "idle": ["streams_established", "rss_per_stream_kb", "threads_base", "threads_full",
             "db_connections_at_1000", "open_connects_per_s"],
    "fanout": ["deliveries_per_s", "p50_ms", "p99_ms", "missing", "duplicates", "server_cpu_pct",
               "client_cpu_pct", "other_processes_cpu_pct"],
    "many": ["deliveries_per_s", "p50_ms", "p99_ms", "missing", "duplicates", "server_cpu_pct",
             "client_cpu_pct", "other_processes_cpu_pct"],
    "burst": ["received_unique", "duplicates", "order_violations", "last_event_after_publish_start_s",
              "controls"],
    "storm": ["reconnected", "reconnects_per_s", "reconnect_all_back_s", "catch_up_all_s", "replay_p99_ms",
              "replay_max_ms", "duplicates", "missing",
              "server_db_connections_peak"],
    "replay": ["reconnected", "catch_up_all_s", "replay_max_ms", "duplicates", "missing",
               "server_db_connections_peak"],
    "connects": ["reconnected", "reconnects_per_s", "server_cpu_us_per_connect"],
    "decode": ["server_cpu_ms_per_1000_foreign_events", "server_subscribed_channels"],
    "ingest": ["accepted_events_per_s", "p50_ms", "p99_ms", "lost", "stream_duplicates", "item_errors",
               "server_cpu_pct", "server_db_connections_peak"],
    "ingest-mixed": ["accepted_events_per_s", "p50_ms", "p99_ms", "lost", "stream_duplicates", "item_errors",
                     "server_cpu_pct", "server_db_connections_peak"],
    "rest": ["detail_requests_per_s", "detail_p99_ms", "calls_requests_per_s", "calls_p99_ms",
             "calls_filtered_requests_per_s", "ledger_requests_per_s", "campaigns_requests_per_s",
             "contacts_requests_per_s", "notifications_requests_per_s", "events_requests_per_s",
             "pages_by_index"],
    "rest_streams": ["without_p99_ms", "with_p99_ms", "p99_ratio", "with_missing", "without_server_cpu_pct",
                     "with_server_cpu_pct", "rest_requests_per_s", "rest_p99_ms", "rest_non_200"],
    "upload": ["csv_100000_rows_per_s", "csv_10000_rss_growth_mb", "csv_100000_rss_growth_mb",
               "json_100000_rows_per_s", "json_10000_rss_growth_mb", "json_100000_rss_growth_mb",
               "over_limit_status", "over_limit_seconds"],
    "curves": ["points"],
    "soak": ["placed", "refused", "events", "reconnects", "broker_backlog_end", "rss_slope_max_mb_per_min",
             "rss_slope_max_process", "worker_slope_mb_per_min", "beat_slope_mb_per_min",
             "web_slope_mb_per_min"],
    "campaign": ["status", "run_s", "calls", "max_active_sampled", "concurrency_held", "all_terminal",
                 "overlapping_dials", "calls_per_s", "end_to_next_dial_p50_ms"],
    "schedules": ["all_run", "runs_recorded", "runs_per_scheduled_time_max", "executed", "failed", "missed",
                  "calls_with_schedule_id", "lateness_p50_ms", "lateness_p99_ms", "lateness_max_ms"],
    "webhooks": ["expected", "received_unique", "missing", "duplicates", "p50_ms", "p99_ms", "max_ms",
                 "deliveries_per_s_publishing", "senders_cpu_pct", "worker_cpu_pct",
                 "failing_run_p50_ms", "failing_run_p99_ms", "failing_run_failing_all_after_recovery",
                 "failing_run_missing"],
    "pushpin_failover": ["streams_established", "streams_lost", "missing", "duplicates", "order_violations",
                         "streams_ended_by_server", "killed_after_s",
                         "first_origin_refused_connections_after_kill", "second_origin_next_links_after_kill",
                         "p99_ms"],
    "exports": ["rows_per_s_100000", "peak_rss_mb_100000", "rows_per_s_1000000", "peak_rss_mb_1000000",
                "first_event_ms_1000000", "first_progress_ms_1000000"],
}


def brief(scenario: str, result: dict) -> str:
    if "error" in result:
        return "error: " + result["error"]
    return ", ".join(f"{k}={result.get(k)}" for k in BRIEF_KEYS[scenario])


REST_LABELS = {"detail": "GET /calls/{id}", "calls": "GET /calls, first page",
               "calls_filtered": "GET /calls, each filter", "ledger": "GET /billing/ledger",
               "campaigns": "GET /campaigns", "contacts": "GET /campaigns/{id}/contacts",
               "notifications": "GET /notifications", "events": "GET /calls/{id}/events"}
ROWS = [
    ("idle", "streams_established", "idle streams established"),
    ("idle", "rss_per_stream_kb", "RSS per idle stream (KB)"),
    ("idle", "rss_full_mb", "server RSS with all streams (MB)"),
    ("idle", "threads_base", "threads, 1 stream"),
    ("idle", "threads_full", "threads, all streams"),
    ("idle", "db_connections_at_1000", "DB connections at 1,000 streams"),
    ("idle", "db_connections_full", "DB connections at all streams"),
    ("idle", "idle_server_cpu_pct", "server CPU while idle (%)"),
    ("idle", "django_rss_base_mb", "behind Pushpin: web processes' RSS, 1 stream (MB)"),
    ("idle", "django_rss_full_mb", "behind Pushpin: web processes' RSS, all streams (MB)"),
    ("idle", "django_rss_per_stream_kb", "behind Pushpin: web processes' RSS per idle stream (KB)"),
    ("idle", "pushpin_rss_full_mb", "behind Pushpin: Pushpin's RSS, all streams (MB)"),
    ("idle", "pushpin_rss_per_stream_kb", "behind Pushpin: Pushpin's RSS per idle stream (KB)"),
    ("fanout", "deliveries_per_s", "fan-out deliveries/s"),
    ("fanout", "p50_ms", "fan-out p50 (ms)"),
    ("fanout", "p95_ms", "fan-out p95 (ms)"),
    ("fanout", "p99_ms", "fan-out p99 (ms)"),
    ("fanout", "missing", "fan-out missing deliveries"),
    ("fanout", "duplicates", "fan-out duplicates"),
    ("fanout", "server_cpu_pct", "fan-out server CPU (% of one core)"),
    ("fanout", "server_cpu_us_per_delivery", "fan-out server CPU per delivery (µs)"),
    ("fanout", "other_processes_cpu_pct", "fan-out CPU of other processes (% of one core)"),
    ("fanout", "django_cpu_pct", "behind Pushpin: fan-out web processes' CPU (% of one core)"),
    ("many", "deliveries_per_s", "many: deliveries/s"),
    ("many", "p50_ms", "many: p50 (ms)"),
    ("many", "p99_ms", "many: p99 (ms)"),
    ("many", "missing", "many: missing deliveries"),
    ("many", "server_cpu_pct", "many: server CPU (% of one core)"),
    ("many", "server_cpu_us_per_delivery", "many: server CPU per delivery (µs)"),
    ("many", "other_processes_cpu_pct", "many: CPU of other processes (% of one core)"),
    ("many", "django_cpu_pct", "behind Pushpin: many: web processes' CPU (% of one core)"),
    ("burst", "received_unique", "burst: events received (unique)"),
    ("burst", "duplicates", "burst: duplicates"),
    ("burst", "order_violations", "burst: order violations"),
    ("burst", "publish_s", "burst: publisher's time for all events (s)"),
    ("burst", "last_event_after_publish_start_s", "burst: last event after publish start (s)"),
    ("storm", "reconnected", "storm: streams back (of all)"),
    ("storm", "refused_attempts", "storm: refused connect attempts"),
    ("storm", "reconnects_per_s", "storm: reconnects/s"),
    ("storm", "reconnect_all_back_s", "storm: all back after (s)"),
    ("storm", "catch_up_all_s", "storm: all caught up after (s)"),
    ("storm", "replay_p50_ms", "storm: replay per stream, p50 (ms from its connected)"),
    ("storm", "replay_p99_ms", "storm: replay per stream, p99 (ms)"),
    ("storm", "replay_max_ms", "storm: replay per stream, slowest (ms)"),
    ("storm", "duplicates", "storm: duplicates in replay"),
    ("storm", "missing", "storm: missing in replay"),
    ("storm", "db_connections_before", "storm: DB connections, streams open"),
    ("storm", "server_db_connections_peak", "storm: DB connections, peak during storm"),
    ("storm", "server_threads_peak", "storm: threads, peak"),
    ("storm", "streams_caught_up", "storm: streams caught up"),
    ("storm", "django_cpu_pct", "behind Pushpin: storm: web processes' CPU (% of one core)"),
    ("connects", "reconnected", "connects: streams back (of all)"),
    ("connects", "reconnects_per_s", "connects: reconnects/s"),
    ("connects", "reconnect_all_back_s", "connects: all back after (s)"),
    ("connects", "server_cpu_us_per_connect", "connects: server CPU per connect (µs)"),
    ("connects", "server_cpu_system_s", "connects: server CPU in the kernel (s)"),
    ("replay", "reconnected", "replay: streams back (of all)"),
    ("replay", "missed_events", "replay: events each missed"),
    ("replay", "catch_up_all_s", "replay: all caught up after (s)"),
    ("replay", "replay_max_ms", "replay: replay per stream, slowest (ms from its connected)"),
    ("replay", "duplicates", "replay: duplicates"),
    ("replay", "missing", "replay: missing"),
    ("replay", "server_db_connections_peak", "replay: DB connections, peak"),
    ("decode", "server_cpu_ms_per_1000_foreign_events", "decode: server CPU ms per 1,000 foreign events"),
    ("ingest", "accepted_events_per_s", "ingest: accepted events/s (all persisted)"),
    ("ingest", "request_p99_ms", "ingest: request p99 (ms)"),
    ("ingest", "p50_ms", "ingest: ingest request to stream, p50 (ms)"),
    ("ingest", "p99_ms", "ingest: ingest request to stream, p99 (ms)"),
    ("ingest", "lost", "ingest: lost"),
    ("ingest", "server_cpu_us_per_event", "ingest: server CPU per event (µs)"),
    ("ingest", "server_db_connections_peak", "ingest: DB connections, peak"),
    ("ingest-mixed", "accepted_events_per_s", "ingest, half ephemeral: accepted events/s"),
    ("ingest-mixed", "p99_ms", "ingest, half ephemeral: to stream, p99 (ms)"),
    ("ingest-mixed", "lost", "ingest, half ephemeral: lost"),
    *[row for kind, label in REST_LABELS.items()
      for row in [("rest", f"{kind}_requests_per_s", f"REST: {label} requests/s"),
                  ("rest", f"{kind}_p50_ms", f"REST: {label} p50 (ms)"),
                  ("rest", f"{kind}_p99_ms", f"REST: {label} p99 (ms)"),
                  ("rest", f"{kind}_server_cpu_pct", f"REST: {label} server CPU (% of one core)")]],
    ("rest", "detail_vs_floor", "REST: GET /calls/{id}, ours over the WSGI floor (requests/s)"),
    ("rest", "calls_vs_floor", "REST: GET /calls, ours over the WSGI floor (requests/s)"),
    ("rest", "calls_db_connections_peak", "REST: DB connections, peak (calls list)"),
    *[row for prefix, label in (("without_", "alone"), ("beside_", "beside REST in another process"),
                                ("with_", "under REST load"))
      for row in [("rest_streams", f"{prefix}p50_ms", f"streams {label}: fan-out p50 (ms)"),
                  ("rest_streams", f"{prefix}p99_ms", f"streams {label}: fan-out p99 (ms)"),
                  ("rest_streams", f"{prefix}max_ms", f"streams {label}: fan-out max (ms)"),
                  ("rest_streams", f"{prefix}deliveries", f"streams {label}: deliveries"),
                  ("rest_streams", f"{prefix}missing", f"streams {label}: missing deliveries"),
                  ("rest_streams", f"{prefix}server_cpu_pct", f"streams {label}: server CPU (% of one core)"),
                  ("rest_streams", f"{prefix}machine_cpu_busy_pct",
                   f"streams {label}: machine CPU busy (%)")]],
    ("rest_streams", "p99_ratio", "streams: fan-out p99 under REST load over alone"),
    ("rest_streams", "rest_requests_per_s", "streams: REST requests/s meanwhile"),
    ("rest_streams", "rest_p99_ms", "streams: REST p99 meanwhile (ms)"),
    ("rest_streams", "beside_p99_ratio", "streams: fan-out p99 beside REST in another process over alone"),
    ("rest_streams", "same_process_p99_ratio",
     "streams: fan-out p99 under REST load in the same process over in another"),
    ("rest_streams", "beside_rest_requests_per_s", "streams: REST requests/s in the other process"),
    ("upload", "csv_10000_rows_per_s", "upload: CSV, 10,000 rows: rows/s"),
    ("upload", "csv_100000_rows_per_s", "upload: CSV, 100,000 rows: rows/s"),
    ("upload", "csv_10000_rss_growth_mb", "upload: CSV, 10,000 rows: web RSS peak over before (MB)"),
    ("upload", "csv_100000_rss_growth_mb", "upload: CSV, 100,000 rows: web RSS peak over before (MB)"),
    ("upload", "json_10000_rows_per_s", "upload: JSON, 10,000 rows: rows/s"),
    ("upload", "json_100000_rows_per_s", "upload: JSON, 100,000 rows: rows/s"),
    ("upload", "json_10000_rss_growth_mb", "upload: JSON, 10,000 rows: web RSS peak over before (MB)"),
    ("upload", "json_100000_rss_growth_mb", "upload: JSON, 100,000 rows: web RSS peak over before (MB)"),
    ("upload", "over_limit_seconds", "upload: 100,001 rows refused after (s)"),
    ("soak", "placed", "soak: calls placed"),
    ("soak", "calls_per_s", "soak: calls placed per second"),
    ("soak", "events", "soak: events received (all streams)"),
    ("soak", "broker_backlog_end", "soak: tasks waiting in the broker at the end"),
    ("soak", "web_rss_after_warmup_mb", "soak: web RSS after warm-up (MB)"),
    ("soak", "web_rss_end_mb", "soak: web RSS at the end (MB)"),
    ("soak", "web_slope_mb_per_min", "soak: web RSS slope after warm-up (MB/min)"),
    ("soak", "worker_rss_after_warmup_mb", "soak: worker RSS, parent and children, after warm-up (MB)"),
    ("soak", "worker_rss_end_mb", "soak: worker RSS, parent and children, at the end (MB)"),
    ("soak", "worker_slope_mb_per_min", "soak: worker RSS slope after warm-up (MB/min)"),
    ("soak", "beat_rss_after_warmup_mb", "soak: beat RSS after warm-up (MB)"),
    ("soak", "beat_rss_end_mb", "soak: beat RSS at the end (MB)"),
    ("soak", "beat_slope_mb_per_min", "soak: beat RSS slope after warm-up (MB/min)"),
    ("campaign", "calls", "campaign: calls placed"),
    ("campaign", "max_active_sampled", "campaign: most active calls sampled (limit: max_concurrency)"),
    ("campaign", "mean_active_sampled", "campaign: mean active calls sampled"),
    ("campaign", "calls_per_s", "campaign: calls placed per second"),
    ("campaign", "end_to_next_dial_p50_ms", "campaign: a call's end to the next dial, p50 (ms)"),
    ("campaign", "end_to_next_dial_p90_ms", "campaign: a call's end to the next dial, p90 (ms)"),
    ("campaign", "run_s", "campaign: start to completed (s)"),
    ("schedules", "runs_recorded", "schedules: runs recorded"),
    ("schedules", "runs_per_scheduled_time_max", "schedules: most runs of one (schedule, time) (must be 1)"),
    ("schedules", "executed", "schedules: runs executed"),
    ("schedules", "failed", "schedules: runs failed"),
    ("schedules", "missed", "schedules: runs missed"),
    ("schedules", "calls_with_schedule_id", "schedules: calls placed for a schedule"),
    ("schedules", "lateness_p50_ms", "schedules: lateness (executed_at - scheduled_for), p50 (ms)"),
    ("schedules", "lateness_p90_ms", "schedules: lateness, p90 (ms)"),
    ("schedules", "lateness_p99_ms", "schedules: lateness, p99 (ms)"),
    ("schedules", "lateness_max_ms", "schedules: lateness, max (ms)"),
    ("schedules", "runs_per_s", "schedules: runs executed per second (first to last)"),
    ("schedules", "machine_cpu_busy_pct", "schedules: machine CPU busy from due to the last run (%)"),
    ("webhooks", "expected", "webhooks: deliveries expected (events x endpoints)"),
    ("webhooks", "missing", "webhooks: deliveries missing"),
    ("webhooks", "duplicates", "webhooks: deliveries received twice"),
    ("webhooks", "p50_ms", "webhooks: commit to receipt, p50 (ms)"),
    ("webhooks", "p99_ms", "webhooks: commit to receipt, p99 (ms)"),
    ("webhooks", "deliveries_per_s_publishing", "webhooks: deliveries/s while publishing"),
    ("webhooks", "senders_cpu_pct", "webhooks: sender CPU (% of a core)"),
    ("webhooks", "worker_cpu_pct", "webhooks: Celery worker CPU (% of a core)"),
    ("webhooks", "failing_run_p50_ms", "webhooks, one endpoint failing 30 s: the others' p50 (ms)"),
    ("webhooks", "failing_run_p99_ms", "webhooks, one endpoint failing 30 s: the others' p99 (ms)"),
    ("webhooks", "failing_run_failing_all_after_recovery", "webhooks: the failing one's events all after"),
    ("pushpin_failover", "streams_established", "Pushpin failover: streams held"),
    ("pushpin_failover", "events_published", "Pushpin failover: events published"),
    ("pushpin_failover", "killed_after_s", "Pushpin failover: first web process killed after (s)"),
    ("pushpin_failover", "streams_lost", "Pushpin failover: streams lost"),
    ("pushpin_failover", "streams_ended_by_server", "Pushpin failover: streams ended by the server"),
    ("pushpin_failover", "missing", "Pushpin failover: missing deliveries"),
    ("pushpin_failover", "duplicates", "Pushpin failover: duplicates"),
    ("pushpin_failover", "order_violations", "Pushpin failover: order violations"),
    ("pushpin_failover", "p99_ms", "Pushpin failover: p99 (ms)"),
    ("pushpin_failover", "max_ms", "Pushpin failover: max (ms)"),
    ("pushpin_failover", "second_origin_cpu_before_kill_s",
     "Pushpin failover: second web process's CPU before the kill (s)"),
    ("pushpin_failover", "second_origin_cpu_after_kill_s",
     "Pushpin failover: second web process's CPU after the kill (s)"),
    ("pushpin_failover", "second_origin_next_links_after_kill",
     "Pushpin failover: next links the second web process answered after the kill"),
]


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render_table(summary: dict, command: str, elapsed: float, db_kind: str, args) -> str:
    present = [v for v in VARIANT_COLUMNS if any(v in record["median"] for record in summary.values())]
    lines = [f"Command: `{command}` ({elapsed / 60:.1f} min, database {db_kind}, "
             f"{args.client_procs} load generator process(es); ours: medians of {args.repeat}, "
             f"other variants: {min(args.repeat, args.repeat_others)} repetition(s))", "",
             "| metric | " + " | ".join(present) + " |", "|---" * (len(present) + 1) + "|"]
    for scenario, metric, label in ROWS:
        if scenario not in summary:
            continue
        medians = summary[scenario]["median"]
        cells = [fmt(medians.get(v, {}).get(metric)) if v in medians else "n/a" for v in present]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "| contract line | variant | value | met |", "|---|---|---|---|"]
    for record in summary.values():
        for line in record["contract"]:
            met = {True: "met", False: "MISSED", None: "not measured"}[line["met"]]
            lines.append(f"| {line['line']} | {line['variant']} | {fmt(line['value'])} | {met} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
