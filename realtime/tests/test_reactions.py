"""Reactions (docs/architecture.md, "Reacting to committed events"): a handler gets
every committed event of its types, in cursor order, at least once, in the
transaction that advances its cursor; a lost trigger is repaired by the sweep."""

import os
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core.checks import run_checks
from django.db import connection, connections, transaction
from django.utils import timezone
from prometheus_client import REGISTRY

from project import testing
from project.celery import app as celery_app
from project.redis_client import get_redis
from realtime import reactions, relay
from realtime.emit import Emission, emit, emit_many
from realtime.models import Event, ReactionCursor, StreamCounter
from realtime.tests.reacting import apps as reacting
from realtime.tests.streaming import unreachable_redis_url
from workspaces.models import Workspace

WANTED = "schedule-status-changed"
OTHER = "schedule-executed"
DATA = {
    WANTED: {"schedule_id": "sch_1", "status": "active", "previous_status": None},
    OTHER: {"schedule_id": "sch_1", "run_id": "run_1", "scheduled_for": "2026-01-01T12:00:00Z",
            "executed_at": "2026-01-01T12:00:00Z", "outcome": "executed", "error": None},
}
NAME = "test-recorder"
WAIT = 30  # seconds: the bound of every wait for another thread or process


class Recorder:
    """A handler that keeps what it was given; it can fail for some workspaces, rename
    the workspace it handles (a write of its own) and stop inside a run."""

    def __init__(self):
        self.batches: list[list[dict]] = []
        self.failing: set[str] = set()
        self.rename = False
        self.entered = threading.Event()
        self.release: threading.Event | None = None  # set: the handler waits for it
        self._lock = threading.Lock()

    def __call__(self, workspace, events: list[dict]) -> None:
        if self.rename:
            Workspace.objects.filter(pk=workspace.pk).update(name=f"Handled #{events[-1]['seq']}")
        if str(workspace.pk) in self.failing:
            raise RuntimeError("the handler failed")
        with self._lock:
            self.batches.append(events)
        if self.release is not None:
            self.entered.set()
            assert self.release.wait(WAIT), "the test never released the handler"

    def seqs(self, workspace=None) -> list[int]:
        return [event["seq"] for batch in self.batches for event in batch
                if workspace is None or event["workspace_id"] == str(workspace.pk)]


@pytest.fixture
def only_reactions(monkeypatch):
    """The registry as if no app had registered a reaction (the apps' own reactions
    would get these tests' events too); restored afterwards."""
    monkeypatch.setattr(reactions, "_reactions", {})
    monkeypatch.setattr(reactions, "_reacted_types", frozenset())


@pytest.fixture
def recorder(only_reactions):
    handler = Recorder()
    reactions.register(NAME, types={WANTED}, handler=handler)
    return handler


def emit_committed(workspace, count: int = 1, type: str = WANTED) -> list[dict]:
    """`count` events, each in a transaction of its own."""
    envelopes = []
    for _ in range(count):
        with transaction.atomic():
            envelopes.append(emit(workspace, type, DATA[type]))
    return envelopes


def cursor_of(workspace, name: str = NAME) -> int | None:
    return ReactionCursor.objects.filter(workspace=workspace, reaction=name).values_list(
        "last_seq", flat=True).first()


def failures(name: str = NAME) -> float:
    return REGISTRY.get_sample_value("callboard_background_failures_total", {"loop": f"reaction:{name}"}) or 0


def in_thread(target) -> threading.Thread:
    """Runs `target` in a thread with a database connection of its own."""
    def body():
        try:
            target()
        finally:
            connections.close_all()

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread


def needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: row locks, and a second connection that sees commits")


# --- delivery -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_handler_gets_each_committed_event_once_in_cursor_order(workspace, recorder):
    # given three events committed one after another
    emitted = emit_committed(workspace, 3)

    # when the workspace's reactions run, twice
    first = reactions.run(workspace.pk)
    second = reactions.run(workspace.pk)

    # then the handler got them once, in order, as their envelopes plus their cursor
    assert (first, second) == (3, 0)
    assert recorder.batches == [[{**envelope, "seq": seq} for seq, envelope in enumerate(emitted, start=1)]]
    assert cursor_of(workspace) == 3


@pytest.mark.django_db
def test_a_test_inside_one_transaction_can_run_the_reactions_itself(workspace, recorder):
    """How an app's tests see their reaction: the service, then `run`, in the test's
    own transaction (the trigger's task would wait for a commit that never comes)."""
    emit(workspace, WANTED, DATA[WANTED])
    assert reactions.run(workspace.pk) == 1
    assert recorder.seqs() == [1]


@pytest.mark.django_db(transaction=True)
def test_events_of_other_types_are_not_handed_over_but_the_cursor_passes_them(workspace, recorder):
    # given events the reaction wants and one it does not, in between
    emit_committed(workspace, 1, WANTED)
    emit_committed(workspace, 2, OTHER)
    emit_committed(workspace, 1, WANTED)
    emit_committed(workspace, 1, OTHER)

    # when
    reactions.run(workspace.pk)

    # then
    assert recorder.seqs() == [1, 4]
    assert {event["type"] for batch in recorder.batches for event in batch} == {WANTED}
    assert cursor_of(workspace) == 5


@pytest.mark.django_db(transaction=True)
def test_batches_are_bounded_and_follow_cursor_order(workspace, recorder, monkeypatch):
    # given five events and batches of two
    monkeypatch.setattr(reactions, "BATCH", 2)
    emit_committed(workspace, 5)

    # when
    delivered = reactions.run(workspace.pk)

    # then
    assert delivered == 5
    assert [[event["seq"] for event in batch] for batch in recorder.batches] == [[1, 2], [3, 4], [5]]


@pytest.mark.django_db(transaction=True)
def test_nothing_of_a_rolled_back_transaction_is_handed_over(workspace, recorder):
    # given a transaction that emitted and rolled back
    with pytest.raises(RuntimeError), transaction.atomic():
        emit(workspace, WANTED, DATA[WANTED])
        raise RuntimeError("the change failed")

    # when the reactions run
    assert reactions.run(workspace.pk) == 0

    # then nothing was handed over, and the next committed event takes the cursor it left
    emit_committed(workspace)
    reactions.run(workspace.pk)
    assert recorder.seqs() == [1]


@pytest.mark.django_db(transaction=True)
def test_an_uncommitted_event_is_handed_over_only_after_it_commits(workspace, recorder):
    needs_postgresql()
    # given another connection that has emitted and not committed yet
    emitted, commit = threading.Event(), threading.Event()

    def emitter():
        with transaction.atomic():
            emit(workspace, WANTED, DATA[WANTED])
            emitted.set()
            assert commit.wait(WAIT)

    thread = in_thread(emitter)
    assert emitted.wait(WAIT)

    # when the reactions run meanwhile: nothing (and the run does not wait for that transaction)
    assert reactions.run(workspace.pk) == 0

    # then, once it committed, the next run hands it over
    commit.set()
    thread.join(WAIT)
    assert reactions.run(workspace.pk) == 1
    assert recorder.seqs() == [1]


# --- failures ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_failing_handler_keeps_its_cursor_and_gets_the_events_again_while_another_workspace_proceeds(
        workspace, other_workspace, recorder):
    # given both workspaces have events, and the handler fails for acme
    failing = emit_committed(workspace, 2)
    emit_committed(other_workspace, 1)
    recorder.failing.add(str(workspace.pk))
    failed_before = failures()

    # when the sweep runs both
    assert reactions.sweep(grace_seconds=0) == 2

    # then acme's failure is counted and its cursor stays; globex's events were handed over
    assert failures() == failed_before + 1
    assert cursor_of(workspace) == 0
    assert recorder.seqs(other_workspace) == [1]
    assert cursor_of(other_workspace) == 1

    # when the handler works again and acme's reactions run
    recorder.failing.clear()
    assert reactions.run(workspace.pk) == 2

    # then it gets the same events again: at least once
    assert [event["event_id"] for event in recorder.batches[-1]] == [sent["event_id"] for sent in failing]
    assert cursor_of(workspace) == 2


@pytest.mark.django_db(transaction=True)
def test_the_handlers_writes_commit_together_with_the_cursor(workspace, recorder):
    # given a handler that renames the workspace and then fails
    emit_committed(workspace, 2)
    recorder.rename = True
    recorder.failing.add(str(workspace.pk))

    # when the reactions run: neither the rename nor the advance happened
    reactions.run(workspace.pk)
    assert Workspace.objects.get(pk=workspace.pk).name == "Acme"
    assert cursor_of(workspace) == 0

    # when it succeeds: both
    recorder.failing.clear()
    reactions.run(workspace.pk)
    assert Workspace.objects.get(pk=workspace.pk).name == "Handled #2"
    assert cursor_of(workspace) == 2


# --- concurrency --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_run_skips_a_cursor_another_run_holds_and_the_holder_hands_over_what_came_meanwhile(
        workspace, recorder):
    needs_postgresql()
    # given a run whose handler is inside its batch, holding the cursor
    emit_committed(workspace, 2)
    recorder.release = threading.Event()
    thread = in_thread(lambda: reactions.run(workspace.pk))
    assert recorder.entered.wait(WAIT)

    # when an event commits and a second run starts (as its trigger would)
    emit_committed(workspace, 1)
    skipped = reactions.run(workspace.pk)

    # then the second run handed nothing over, without waiting
    assert skipped == 0
    assert recorder.seqs() == [1, 2]

    # and the first run, once its batch committed, also handed over the new event
    recorder.release.set()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert recorder.seqs() == [1, 2, 3]
    assert cursor_of(workspace) == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_never_hand_over_the_same_event_twice(workspace, recorder, monkeypatch):
    needs_postgresql()
    # given small batches and four workers running the workspace's reactions again and again
    monkeypatch.setattr(reactions, "BATCH", 3)
    stop = threading.Event()
    errors = []

    def worker():
        try:
            while not stop.is_set():
                reactions.run(workspace.pk)
        except Exception as error:
            errors.append(error)

    threads = [in_thread(worker) for _ in range(4)]

    # when 60 events commit meanwhile, in batches of one to three
    for size in [1, 2, 3] * 10:
        with transaction.atomic():
            emit_many(workspace, [Emission(WANTED, DATA[WANTED])] * size)
    stop.set()
    for thread in threads:
        thread.join(WAIT)
    reactions.run(workspace.pk)

    # then every event was handed over exactly once, each batch in cursor order
    assert errors == []
    assert sorted(recorder.seqs()) == list(range(1, 61))
    assert all(batch == sorted(batch, key=lambda event: event["seq"]) for batch in recorder.batches)


# --- the trigger -------------------------------------------------------------------------------


def queued_tasks() -> int:
    """Messages waiting in the broker's default queue (the test run's Redis)."""
    return get_redis().llen("celery")


@pytest.mark.django_db
def test_one_transaction_enqueues_one_run_however_many_events_it_emits(
        workspace, recorder, django_capture_on_commit_callbacks):
    before = queued_tasks()
    # when one transaction emits three events the reaction wants, in two calls
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        emit(workspace, WANTED, DATA[WANTED])
        emit_many(workspace, [Emission(WANTED, DATA[WANTED]), Emission(OTHER, DATA[OTHER])])

    # then one run of the workspace's reactions was enqueued, and the counter says where work waits
    assert queued_tasks() == before + 1
    assert StreamCounter.objects.get(workspace=workspace).reacted_seq == 3


@pytest.mark.django_db
def test_events_no_reaction_wants_enqueue_nothing(workspace, recorder, django_capture_on_commit_callbacks):
    before = queued_tasks()
    with django_capture_on_commit_callbacks(execute=True):
        emit(workspace, OTHER, DATA[OTHER])
    assert queued_tasks() == before
    assert StreamCounter.objects.get(workspace=workspace).reacted_seq == 0


@pytest.mark.django_db
def test_a_trigger_rolled_back_with_its_savepoint_is_registered_again(
        workspace, recorder, django_capture_on_commit_callbacks):
    before = queued_tasks()
    # given a savepoint that emitted and rolled back, inside a transaction that emits again
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            emit(workspace, WANTED, DATA[WANTED])
            raise RuntimeError("this part failed")
        emit(workspace, WANTED, DATA[WANTED])

    # then the commit still enqueues the run
    assert queued_tasks() == before + 1


@pytest.mark.django_db(transaction=True)
def test_commits_while_a_run_is_queued_share_it_and_a_started_run_reads_them_all(workspace, recorder):
    before = queued_tasks()
    # given three transactions that each commit an event the reaction wants, before any worker starts
    emit_committed(workspace, 3)

    # then one run was enqueued for the three of them
    assert queued_tasks() == before + 1

    # when that run starts, it hands over all three
    assert reactions.run(workspace.pk) == 3
    assert recorder.seqs() == [1, 2, 3]

    # and the next commit, after the run started, enqueues a run of its own
    emit_committed(workspace)
    assert queued_tasks() == before + 2


@pytest.mark.django_db(transaction=True)
def test_a_trigger_that_cannot_ask_redis_whether_a_run_is_queued_enqueues_one(
        workspace, recorder, monkeypatch):
    before = queued_tasks()
    unreachable = redis.Redis.from_url(unreachable_redis_url(), socket_connect_timeout=0.2,
                                       socket_timeout=0.2)
    monkeypatch.setattr(reactions, "get_redis", lambda: unreachable)
    # when two transactions commit while the flag cannot be read
    emit_committed(workspace, 2)
    # then each enqueued a run: a run too many, never none
    assert queued_tasks() == before + 2


LOSING_EMITTER = """
import sys
import django
django.setup()
from django.db import transaction
from prometheus_client import REGISTRY
from realtime.emit import emit
from workspaces.models import Workspace

workspace = Workspace.objects.get(pk=sys.argv[1])
for _ in range(2):
    with transaction.atomic():
        emit(workspace, sys.argv[2], {"schedule_id": "sch_1", "status": "active", "previous_status": None})
print(REGISTRY.get_sample_value("callboard_reaction_triggers_lost_total"))
"""


def emit_with_the_broker_down(workspace) -> None:
    """Commits two events the test app's reaction wants, one transaction each, in a
    process whose broker is unreachable: the emits succeed, their triggers are lost."""
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "realtime.tests.reacting.settings",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "test-secret"),
        "DATABASE_URL": testing.test_database_url(), "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": unreachable_redis_url(),
    }
    done = subprocess.run([sys.executable, "-c", LOSING_EMITTER, str(workspace.pk), WANTED],
                          cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    # both committed; the refusal was logged, not raised, and the second emit did not
    # try the broker again (kombu takes seconds to give up on each try)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2.0"
    assert done.stderr.count("could not enqueue the reactions") == 1


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_an_emit_whose_broker_refuses_the_trigger_commits_and_the_sweep_runs_the_reaction(
        workspace, recorder):
    needs_postgresql()
    # given a process whose broker is down committed events the reaction wants
    emit_with_the_broker_down(workspace)
    assert Event.objects.filter(workspace=workspace).count() == 2
    assert recorder.batches == []

    # when the sweep runs after the grace period: it hands the events over, once
    assert reactions.due(grace_seconds=0, limit=10) == [workspace.pk]
    assert reactions.sweep(grace_seconds=0) == 1
    assert recorder.seqs() == [1, 2]
    assert reactions.sweep(grace_seconds=0) == 0


# --- the sweep ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_sweep_leaves_alone_a_cursor_run_within_the_grace_period(workspace, recorder):
    # given a cursor run just now, behind an event the reaction wants
    emit_committed(workspace)
    ReactionCursor.objects.create(workspace=workspace, reaction=NAME, last_seq=0, updated_at=timezone.now())

    # then the sweep waits for the trigger during the grace period, and not after it
    assert reactions.due(grace_seconds=60, limit=10) == []
    assert reactions.due(grace_seconds=0, limit=10) == [workspace.pk]


@pytest.mark.django_db(transaction=True)
def test_the_sweep_ignores_cursors_behind_only_events_no_reaction_wants(workspace, recorder):
    # given a caught-up cursor, long ago, and then only events of other types
    emit_committed(workspace)
    reactions.run(workspace.pk)
    ReactionCursor.objects.filter(workspace=workspace).update(updated_at=timezone.now() - timedelta(hours=1))
    emit_committed(workspace, 3, OTHER)

    # then there is nothing to sweep: the run that catches up comes with the next wanted event
    assert reactions.due(grace_seconds=0, limit=10) == []


@pytest.mark.django_db(transaction=True)
def test_a_workspace_with_events_and_no_cursor_yet_is_swept(workspace, other_workspace, recorder):
    # given a workspace whose events no reaction has seen (a reaction new in this release)
    emit_committed(workspace, 2, OTHER)

    # when the sweep runs: the cursor starts there, and the workspace is not due again
    assert reactions.due(grace_seconds=60, limit=10) == [workspace.pk]
    assert reactions.sweep(grace_seconds=60) == 1
    assert cursor_of(workspace) == 2
    assert reactions.due(grace_seconds=0, limit=10) == []


@pytest.mark.django_db(transaction=True)
def test_the_sweep_runs_the_longest_waiting_first_and_at_most_its_limit(workspace, other_workspace, recorder):
    # given two workspaces behind, globex run longer ago
    for tenant, minutes in ((workspace, 1), (other_workspace, 5)):
        emit_committed(tenant)
        ReactionCursor.objects.create(workspace=tenant, reaction=NAME, last_seq=0,
                                      updated_at=timezone.now() - timedelta(minutes=minutes))

    # then
    assert reactions.due(grace_seconds=0, limit=10) == [other_workspace.pk, workspace.pk]
    assert reactions.due(grace_seconds=0, limit=1) == [other_workspace.pk]


# --- trimming -----------------------------------------------------------------------------------


def overruns_counted() -> float:
    return REGISTRY.get_sample_value("callboard_reaction_retention_overruns_total", {"reaction": NAME}) or 0


def age(workspace, hours: float) -> None:
    Event.objects.filter(workspace=workspace).update(created_at=timezone.now() - timedelta(hours=hours))


@pytest.mark.django_db(transaction=True)
def test_trimming_keeps_old_events_a_reaction_has_not_handled_and_says_so(workspace, recorder):
    # given old events: the reaction failed on its wanted ones; the other type it never wants
    emit_committed(workspace, 2, WANTED)
    emit_committed(workspace, 1, OTHER)
    recorder.failing.add(str(workspace.pk))
    reactions.run(workspace.pk)
    age(workspace, 30)
    relay.sweep_unpublished(grace_seconds=0)  # published: only the reaction holds them
    overruns = overruns_counted()

    # when the history is trimmed
    deleted = relay.trim_history(hours=24)

    # then the wanted events stay, and the overrun is counted
    assert deleted == 1
    assert sorted(Event.objects.filter(workspace=workspace).values_list("seq", flat=True)) == [1, 2]
    assert overruns_counted() == overruns + 1

    # when the handler works again: they are handed over, and the next trim deletes them
    recorder.failing.clear()
    reactions.run(workspace.pk)
    assert recorder.seqs() == [1, 2]
    assert relay.trim_history(hours=24) == 2


# --- registering --------------------------------------------------------------------------------


def test_a_reaction_to_an_ephemeral_type_is_refused(only_reactions):
    with pytest.raises(ValueError, match="ephemeral"):
        reactions.register("speech", types={"call-interim"}, handler=Recorder())


def test_a_name_is_registered_once(only_reactions):
    handler = Recorder()
    reactions.register(NAME, types={WANTED}, handler=handler)
    reactions.register(NAME, types={WANTED}, handler=handler)  # an app readied twice
    with pytest.raises(ValueError, match="already registered"):
        reactions.register(NAME, types={WANTED}, handler=Recorder())
    assert [reaction.name for reaction in reactions.registered()] == [NAME]
    assert reactions.reacted_types() == {WANTED}


def test_the_system_check_names_a_type_no_app_registered(only_reactions):
    # given a reaction registered before any app declared its (misspelt) type
    reactions.register("typo", types={WANTED, "schedule-status-changd"}, handler=Recorder())

    # then the project's checks fail on it, and only on it
    errors = [(error.id, error.msg) for error in run_checks() if error.id.startswith("realtime.")]
    assert errors == [("realtime.E001", "reaction 'typo' wants 'schedule-status-changd', which no app "
                                        "registered as an event type")]


# --- end to end ---------------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_committed_event_reaches_the_handler_in_a_real_worker(workspace, only_reactions, tmp_path):
    needs_postgresql()
    # given a worker whose apps register the reaction (as this process does, to trigger it)
    reacting.register_reaction()
    celery_app.control.purge()  # tasks earlier tests enqueued for workspaces long gone
    with testing.running_worker(tmp_path, env={"DJANGO_SETTINGS_MODULE": "realtime.tests.reacting.settings"}):
        # when an event the reaction wants commits
        with transaction.atomic():
            emit(workspace, WANTED, DATA[WANTED])

        # then the worker runs the reaction: its write lands, with the cursor
        testing.wait_for(
            lambda: Workspace.objects.get(pk=workspace.pk).name == "Reacted to #1",
            timeout=WAIT, message="the worker's reaction did not rename the workspace",
        )
    assert cursor_of(workspace, reacting.REACTION) == 1


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_beat_sweep_of_a_real_worker_repairs_a_lost_trigger(workspace, only_reactions, tmp_path):
    needs_postgresql()
    # given an event whose trigger the broker refused
    emit_with_the_broker_down(workspace)

    # when a worker runs with its beat
    with testing.running_worker(tmp_path, env={"DJANGO_SETTINGS_MODULE": "realtime.tests.reacting.settings"},
                                beat=True):
        # then its sweep runs the reaction
        testing.wait_for(
            lambda: Workspace.objects.get(pk=workspace.pk).name == "Reacted to #2",
            timeout=WAIT, message="the beat's sweep did not run the reaction",
        )
    assert cursor_of(workspace, reacting.REACTION) == 2
