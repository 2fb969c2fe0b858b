"""Faults, end to end: Redis killed and restarted, PostgreSQL restarted, a Celery
worker killed mid-task. Each test starts PRIVATE instances (project/testing.py)
and kills those; the system PostgreSQL and Redis are never touched. What the
operator sees on each fault is in docs/operations.md ("Failures")."""

import json
import os
import signal
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import psycopg
import pytest
import redis
from django.db import connection

from billing.models import LedgerEntry
from billing.tests.helpers import answered_call, balance, ledger_sum
from calls.models import Call
from project import celery_app, testing
from project.testing import (
    private_postgres,
    private_redis,
    running_server,
    running_worker,
    sse_events,
    wait_for,
    worker_process,
)
from realtime.channels import connections_key
from realtime.models import Event, PendingPublish

pytestmark = pytest.mark.e2e

WAIT = 30  # seconds: the bound of every wait on a recovery
STREAM_PATH = "/api/v1/events/stream"


def needs_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class ResumingStream:
    """A client of the workspace stream that does what EventSource does: reads
    events, and when the stream ends, fails or is refused, reconnects after a
    moment with Last-Event-ID. Runs on a thread of its own until `stop`."""

    url: str
    key: str
    stop: threading.Event
    received: list[tuple[int, str]] = field(default_factory=list)  # (cursor, event_id), in arrival order
    control: list[str] = field(default_factory=list)
    refusals: list[int] = field(default_factory=list)
    connects: int = 0
    drop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        last_id = None
        while not self.stop.is_set():
            headers = bearer(self.key) | ({"Last-Event-ID": last_id} if last_id else {})
            try:
                # The server sends a keep-alive every second here: a silent stream is a dead one.
                with httpx.stream("GET", self.url + STREAM_PATH, headers=headers, timeout=3) as response:
                    if response.status_code != 200:
                        response.read()
                        self.refusals.append(response.status_code)
                    else:
                        self.connects += 1
                        last_id = self._read(response, last_id)
            except httpx.TransportError:
                pass
            self.stop.wait(0.2)  # the client's reconnect delay

    def _read(self, response: httpx.Response, last_id: str | None) -> str | None:
        for event in sse_events(response):
            if event.id is not None:
                self.received.append((int(event.id), event.data["event_id"]))
                last_id = event.id
            else:
                self.control.append(event.event)
            if self.stop.is_set():
                break
            if self.drop.is_set():
                self.drop.clear()
                break
        return last_id


def last_cursor(workspace) -> int:
    cursors = Event.objects.filter(workspace=workspace).order_by("-seq").values_list("seq", flat=True)
    return cursors.first() or 0


def committed_workspace_events(workspace, *, after: int) -> list[tuple[int, str]]:
    """What a workspace stream opened at cursor `after` owes its client: the
    persisted workspace events since, in cursor order."""
    rows = Event.objects.filter(workspace=workspace, audience="workspace", seq__gt=after).order_by("seq")
    return [(seq, str(event_id)) for seq, event_id in rows.values_list("seq", "event_id")]


class CallPlacer:
    """Places calls over REST, one every 50 ms, on a thread, until stopped."""

    def __init__(self, url: str, key: str):
        self.url, self.key = url, key
        self.statuses: list[int | str] = []
        self.call_ids: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, headers=bearer(self.key), timeout=10) as client:
            while not self._stop.is_set():
                try:
                    response = client.post("/api/v1/calls", json={"to_number": "+14155550123"})
                    self.statuses.append(response.status_code)
                    if response.status_code == 201:
                        self.call_ids.append(response.json()["id"])
                except httpx.TransportError as error:
                    self.statuses.append(type(error).__name__)
                self._stop.wait(0.05)

    def placed(self) -> int:
        return sum(1 for status in self.statuses if status == 201)

    def place_more(self, count: int) -> None:
        target = self.placed() + count
        wait_for(lambda: self.placed() >= target, timeout=WAIT,
                 message=lambda: f"{count} more calls were not placed; statuses {self.statuses[-10:]}")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


def readiness(server) -> int:
    try:
        return httpx.get(server.url + "/readyz", timeout=5).status_code
    except httpx.TransportError:
        return 0


def restart_if_exited(worker, supervisor: ExitStack, tmp_path, env) -> None:
    """What a process supervisor does. A worker that holds unacknowledged tasks (a
    simulated call's next steps wait in it with their countdowns) when Redis dies may
    exit: kombu 5.7 fails while handing them back ("Unrecoverable error:
    AttributeError ... 'hostname'", docs/operations.md "Failures"). Any other exit
    is a failure of its own."""
    if worker.process.poll() is None:
        return
    assert "Unrecoverable error" in worker.log(), worker.log()[-3000:]
    supervisor.enter_context(worker_process(tmp_path, env=env, beat=True, name="restarted"))


@pytest.mark.django_db(transaction=True)
def test_redis_killed_and_restarted_while_calls_are_placed_every_stream_gets_every_event_once(
    tmp_path, workspace, read_key, write_key
):
    needs_postgresql()
    stop = threading.Event()
    threads = []
    with private_redis() as private:
        # The simulated runtime plays the calls through the worker (whose queue Redis holds).
        env = {"REDIS_URL": private.url, "VOICE_RUNTIME": "simulated", "SIMULATOR_SPEED": "50",
               "REALTIME_KEEPALIVE_SECONDS": "1"}
        try:
            with (
                running_server(tmp_path, env=env) as server,
                worker_process(tmp_path, env=env, beat=True) as worker,  # its sweeper republishes the outbox
                ExitStack() as supervisor,
            ):
                # given three dashboards following the workspace, and calls being placed
                opened_at = last_cursor(workspace)
                streams = [ResumingStream(server.url, read_key.key, stop) for _ in range(3)]
                threads = [stream.start() for stream in streams]
                wait_for(lambda: all(stream.connects for stream in streams), timeout=WAIT,
                         message="the streams did not connect")
                with CallPlacer(server.url, write_key.key) as placer:
                    placer.place_more(5)

                    # when Redis is killed (SIGKILL: it keeps nothing) while calls go on
                    private.kill()
                    placer.place_more(5)
                    # and a dashboard loses its connection during the outage
                    streams[0].drop.set()
                    wait_for(lambda: readiness(server) == 503, timeout=WAIT, message="not unready")
                    # an outage of some seconds, as a restart takes: the dashboard retries meanwhile
                    wait_for(lambda: len(streams[0].refusals) >= 10, timeout=WAIT,
                             message="the dropped stream was not refused while Redis was down")
                    placer.place_more(5)

                    # and Redis comes back, empty, on the same port
                    private.start()
                    restart_if_exited(worker, supervisor, tmp_path, env)
                    placed_before_restart = len(placer.call_ids)
                    placer.place_more(5)

                # then every call was accepted: placing one needs PostgreSQL, not Redis
                assert set(placer.statuses) == {201}, placer.statuses
                # and every stream catches up: every committed workspace event exactly
                # once, in order, none lost, none twice (calls still playing add more)
                def behind() -> dict[int, tuple[int, int]]:
                    expected = committed_workspace_events(workspace, after=opened_at)
                    return {number: (len(stream.received), len(expected))
                            for number, stream in enumerate(streams) if stream.received != expected}

                wait_for(lambda: not behind(), timeout=WAIT,
                         message=lambda: f"streams missing events: {behind()} (received, committed)")
                assert len(committed_workspace_events(workspace, after=opened_at)) >= 20
                for stream in streams:
                    assert "stream-reset" not in stream.control
                assert streams[0].connects >= 2 and set(streams[0].refusals) == {503}
                # and the worker, back on the restarted broker, plays the calls placed since
                after_restart = placer.call_ids[placed_before_restart:]
                wait_for(lambda: Call.objects.filter(pk__in=after_restart).exclude(status="queued").exists(),
                         timeout=WAIT, message="no call placed after the restart was played")
                # and the outbox is empty again: what could not be published was published
                wait_for(lambda: not PendingPublish.objects.filter(workspace=workspace).exists(),
                         timeout=WAIT, message="the outbox was not emptied")
                # and the admission registry that Redis lost is rebuilt by the server's refresh
                registry = redis.Redis.from_url(private.url)
                wait_for(lambda: registry.zcard(connections_key("ws", str(workspace.pk))) == 3,
                         timeout=WAIT, message="the open streams were not registered again")
                assert readiness(server) == 200
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=10)


def call_status(client: httpx.Client, call_id: str) -> str | None:
    response = client.get(f"/api/v1/calls/{call_id}")
    return response.json()["status"] if response.status_code == 200 else None


def workspace_events(cluster, *, after: int = 0) -> list[tuple[int, str]]:
    """The persisted workspace events in the private cluster (one workspace) after
    cursor `after`, in cursor order."""
    with psycopg.connect(cluster.url) as database:
        rows = database.execute("SELECT seq, event_id FROM realtime_event WHERE audience = 'workspace' "
                                "AND seq > %s ORDER BY seq", [after]).fetchall()
    return [(seq, str(event_id)) for seq, event_id in rows]


def timed_readiness(server) -> tuple[int, float]:
    started = time.monotonic()
    status = readiness(server)
    return status, time.monotonic() - started


def test_postgresql_restarted_readyz_is_503_during_and_requests_streams_and_workers_recover_after(tmp_path):
    if not (testing.POSTGRES_BIN / "initdb").exists():
        pytest.skip(f"no PostgreSQL server binaries in {testing.POSTGRES_BIN} (set POSTGRES_BIN)")
    with private_redis() as private, private_postgres() as cluster:
        created = cluster.manage("createworkspace", "Acme", "--credit", "100", "--api-key", "--json")
        key = json.loads(created)["api_key"]
        # A request waits 3 s for a connection here, not 10: the refused one below waits it out.
        env = {"DATABASE_URL": cluster.url, "REDIS_URL": private.url, "VOICE_RUNTIME": "simulated",
               "SIMULATOR_SPEED": "1000", "REALTIME_KEEPALIVE_SECONDS": "1",
               "DATABASE_POOL_TIMEOUT_SECONDS": "3"}
        with (
            running_server(tmp_path, env=env) as server,
            running_worker(tmp_path, env=env),
            httpx.Client(base_url=server.url, headers=bearer(key), timeout=30) as client,
        ):
            # given a working system: a dashboard follows the workspace, a placed call is played by the worker
            stop = threading.Event()
            opened_at = max((seq for seq, _ in workspace_events(cluster)), default=0)
            stream = ResumingStream(server.url, key, stop)
            thread = stream.start()
            try:
                wait_for(lambda: stream.connects, timeout=WAIT, message="the stream did not connect")
                assert readiness(server) == 200
                first = client.post("/api/v1/calls", json={"to_number": "+14155550123"}).json()["id"]
                wait_for(lambda: call_status(client, first) not in ("queued", None), timeout=WAIT,
                         message="the worker did not play the call")

                # when PostgreSQL restarts (fast: every session is ended)
                cluster.stop("fast")
                # (the key was just verified, so only the replay of this resume needs the database)
                with httpx.stream("GET", server.url + STREAM_PATH, timeout=30,
                                  headers=bearer(key) | {"Last-Event-ID": "0"}) as resume:
                    resume.read()
                during, answered_in = wait_for(
                    lambda: (status := timed_readiness(server))[0] == 503 and status, timeout=WAIT,
                    message="/readyz did not turn 503")
                refused = client.post("/api/v1/calls", json={"to_number": "+14155550123"})
                cluster.start()

                # then readiness returns, and every request after it succeeds: no dead connection is reused
                wait_for(lambda: readiness(server) == 200, timeout=WAIT, message="/readyz did not recover")
                statuses = [client.get("/api/v1/calls").status_code for _ in range(12)]
                second = client.post("/api/v1/calls", json={"to_number": "+14155550123"})
                assert (statuses, second.status_code) == ([200] * 12, 201), second.text
                # and the worker was not left stuck: it plays the new call
                second_id = second.json()["id"]
                wait_for(lambda: call_status(client, second_id) not in ("queued", None), timeout=WAIT,
                         message="the worker did not play a call placed after the restart")
                # and the open stream has every workspace event, once, in order (it resumes if it broke)
                wait_for(lambda: stream.received == workspace_events(cluster, after=opened_at), timeout=WAIT,
                         message="the stream did not get every event once")
                # and a stream resumed from a cursor replays from the database
                with httpx.stream("GET", server.url + STREAM_PATH, timeout=10,
                                  headers=bearer(key) | {"Last-Event-ID": "0"}) as resumed:
                    assert resumed.status_code == 200
                    replayed = next(event for event in sse_events(resumed) if event.id is not None)
                    assert int(replayed.id) == workspace_events(cluster)[0][0]
            finally:
                stop.set()
                thread.join(timeout=10)
        print(f"/readyz answered 503 in {answered_in:.2f}s during the outage; the refused request: "
              f"{refused.status_code}")
        assert during == 503
        assert refused.status_code == 503, refused.text
        assert resume.status_code == 503, resume.text
        assert resume.json()["error"]["code"] == "stream_unavailable"


# Each of these minutes is an hour, so the calls' charges do not grow while the test runs.
LONG_MINUTES = {"BILLING_CHARGE_PERIOD_SECONDS": "3600"}


def locked_counter(workspace) -> psycopg.Connection:
    """A transaction of the test's own holding the workspace's cursor lock, which
    every charge of the workspace takes first: a charge run waits there."""
    database = psycopg.connect(testing.test_database_url())
    database.execute("SELECT 1 FROM realtime_streamcounter WHERE workspace_id = %s FOR UPDATE",
                     [workspace.pk])
    return database


def waits_on_a_lock() -> bool:
    with psycopg.connect(testing.test_database_url(), autocommit=True) as database:
        return bool(database.execute(
            "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        ).fetchone())


def charges(call) -> int:
    return LedgerEntry.objects.filter(call_id=str(call.pk), reason="call-charge").count()


def send_charge_run(broker_url: str) -> None:
    with celery_app.connection_for_write(broker_url) as broker:
        celery_app.send_task("billing.tasks.charge_live_calls", connection=broker)


@pytest.mark.parametrize("victim", ["pool-process", "whole-worker"])
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_task_the_task_runs_again_and_its_effect_happens_once(
    tmp_path, workspace, other_workspace, victim
):
    needs_postgresql()
    # given two calls in progress for two and a half "minutes", one in Acme and one in
    # Globex (a charge run goes through workspaces by name), and Globex's charge held up
    answered = datetime.now(UTC) - timedelta(hours=2.5)
    acme, globex = answered_call(workspace, at=answered), answered_call(other_workspace, at=answered)
    balances = balance(workspace), balance(other_workspace)
    held = locked_counter(other_workspace)
    with private_redis() as private:
        env = {"REDIS_URL": private.url, **LONG_MINUTES}
        if victim == "whole-worker":
            # Nobody is left to give the task back: the broker does, once it has been out this long.
            env |= {"CELERY_VISIBILITY_TIMEOUT_SECONDS": "2", "CELERY_UNACKED_RESTORE_INTERVAL_SECONDS": "1"}
        try:
            pool = "prefork" if victim == "pool-process" else "solo"
            with worker_process(tmp_path, env=env, pool=pool, name="first") as first:
                # when a charge run has charged Acme and waits for Globex
                send_charge_run(private.url)
                wait_for(lambda: charges(acme) == 2 and waits_on_a_lock(), timeout=WAIT,
                         message=f"the charge run did not reach Globex:\n{first.log()}")
                # and the process running it is killed (SIGKILL: no cleanup, no acknowledgement)
                pid = first.pool_children()[0] if victim == "pool-process" else first.process.pid
                os.kill(pid, signal.SIGKILL)
                wait_for(lambda: not os.path.exists(f"/proc/{pid}/status") or b"zombie" in _state(pid),
                         timeout=WAIT, message="the process did not die")
                held.rollback()
                if victim == "pool-process":
                    # then the worker gives the task back and runs it again in a new pool process
                    wait_for(lambda: charges(globex) == 2, timeout=WAIT,
                             message=f"the task did not run again:\n{first.log()}")
            if victim == "whole-worker":
                # then another worker gets the task from the broker and runs it again
                with worker_process(tmp_path, env=env, name="second") as second:
                    wait_for(lambda: charges(globex) == 2, timeout=WAIT,
                             message=f"the task did not run again:\n{second.log()}")
        finally:
            held.close()

    # and its effect happened once: each minute charged once, balances match their ledgers
    assert (charges(acme), charges(globex)) == (2, 2)
    price = Decimal("0.1000") * 60 * 2  # two hour-long "minutes" at the default rate
    assert (balance(workspace), balance(other_workspace)) == (balances[0] - price, balances[1] - price)
    for each in (workspace, other_workspace):
        assert ledger_sum(each) == balance(each)


def _state(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            return status.read()
    except FileNotFoundError:
        return b"zombie"
