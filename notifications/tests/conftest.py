"""Fixtures of the notification tests: running the workspace's reactions as a worker
would, and Celery's tasks (the emails) run where they are enqueued."""

import pytest

from project.celery import app as celery_app
from realtime import reactions


@pytest.fixture
def eager_tasks(settings):
    """Tasks run where they are enqueued; calls are left to a runtime outside (the
    simulated one would play each to its end at once)."""
    settings.VOICE_RUNTIME = "ingest"
    celery_app.conf.update(task_always_eager=True, task_eager_propagates=True)
    yield
    celery_app.conf.update(task_always_eager=False, task_eager_propagates=False)


@pytest.fixture
def react(django_capture_on_commit_callbacks):
    """react(workspace): runs the workspace's reactions now, as the task a commit
    enqueues would, and then what they enqueued on commit (the emails)."""

    def run(workspace) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return reactions.run(workspace.pk)

    return run
