"""The Celery app: safe defaults, and a real worker boots with it."""

import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings

from project import celery_app
from project.testing import stop_process, test_database_url


def test_tasks_and_results_travel_as_json_only():
    # given
    conf = celery_app.conf

    # then
    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"]


def test_a_task_is_acknowledged_after_it_ran_and_requeued_if_its_worker_dies():
    # given
    conf = celery_app.conf

    # then
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1


def test_a_task_has_a_soft_then_a_hard_time_limit():
    # given
    conf = celery_app.conf

    # then
    assert conf.task_soft_time_limit > 0
    assert conf.task_time_limit > conf.task_soft_time_limit
    # an unacknowledged task is not redelivered while it may still be running
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit


def test_the_broker_is_the_configured_redis():
    # then
    assert celery_app.conf.broker_url == os.environ.get("CELERY_BROKER_URL", settings.REDIS_URL)


def test_the_worker_leaves_the_root_logger_to_django():
    # then
    assert celery_app.conf.worker_hijack_root_logger is False


@pytest.mark.django_db
def test_a_task_leaves_no_query_log_behind_when_debug_is_on(settings):
    # given DEBUG on, as `make run` runs the worker, and a query made before the task
    from django.db import connection

    from realtime.tasks import sweep_unpublished_events

    settings.DEBUG = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert connection.queries_log

    # when a task that queries the database runs (the same trace as in a worker)
    sweep_unpublished_events.apply()

    # then the query log is empty again: a worker serves no HTTP request, which is
    # what clears it in a web process, so without this it grew to 9,000 queries
    # per connection (about 1 MB a minute in the soak)
    assert list(connection.queries_log) == []


@pytest.mark.e2e
@pytest.mark.django_db
def test_a_real_worker_boots_with_this_app_and_answers_a_ping(tmp_path):
    # given a worker with a name of its own, on the broker and the database of this
    # test run (tasks that earlier tests left in the broker run against it, quickly,
    # instead of holding the solo pool while they wait for a database that is not there)
    node = f"callboard-test-{uuid.uuid4().hex[:8]}@127.0.0.1"
    env = {**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY", "test-secret-for-the-worker"),
           "DATABASE_URL": test_database_url()}
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "project", "worker", "--pool", "solo",
             "--loglevel", "INFO", "--hostname", node, "--without-gossip", "--without-mingle"],
            env=env, cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        # when it is pinged until it answers, for at most 30 s
        answered = False
        deadline = time.monotonic() + 30
        while not answered and time.monotonic() < deadline:
            if worker.poll() is not None:
                pytest.fail(f"the worker exited with {worker.returncode}:\n{log_path.read_text()}")
            replies = celery_app.control.ping(destination=[node], timeout=1)
            answered = any(reply.get(node) == {"ok": "pong"} for reply in replies)

        # then
        assert answered, f"the worker did not answer within 30 s:\n{log_path.read_text()}"
        assert worker.poll() is None
    finally:
        stop_process(worker, timeout=15)
