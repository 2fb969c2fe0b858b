"""Staff see schedules and their runs in the admin, read-only, and pause and resume
schedules through the services (docs/operations.md "Admin")."""

from datetime import UTC, datetime, timedelta

import pytest

from project.testing import emitted
from schedules import runner
from schedules.models import Schedule
from schedules.tests.helpers import recurring

pytestmark = pytest.mark.django_db

SCHEDULES = "/admin/schedules/schedule/"
RUNS = "/admin/schedules/schedulerun/"


@pytest.fixture(autouse=True)
def _calls_are_recorded_not_placed(settings):
    settings.VOICE_RUNTIME = "ingest"


def act(client, action: str, *schedules):
    return client.post(SCHEDULES, {"action": action, "_selected_action": [str(s.pk) for s in schedules],
                                   "index": 0}, follow=True)


def test_staff_see_schedules_and_their_runs(admin_client, workspace):
    # given a schedule that ran once
    schedule = recurring(workspace, name="Morning calls", due=datetime.now(UTC) - timedelta(seconds=2))
    runner.run_due_schedules()

    # when staff open the list, the schedule and its runs
    listed = admin_client.get(SCHEDULES).content.decode()
    page = admin_client.get(f"{SCHEDULES}{schedule.pk}/change/").content.decode()
    runs = admin_client.get(RUNS, {"schedule": str(schedule.pk)}).content.decode()

    # then they see its timing, its next run and the run with its call
    assert "Morning calls" in listed and "0 9 * * *" in listed
    assert f"?schedule={schedule.pk}" in page
    assert "executed" in runs and "/admin/calls/call/" in runs


def test_staff_cannot_add_or_edit_a_schedule_by_hand(admin_client):
    assert admin_client.get(f"{SCHEDULES}add/").status_code == 403
    assert admin_client.get(f"{RUNS}add/").status_code == 403


def test_pause_and_resume_go_through_the_service(admin_client, workspace):
    # given an active schedule
    schedule = recurring(workspace)

    # when staff pause it, pause it again, then resume it
    paused = act(admin_client, "pause", schedule).content.decode()
    again = act(admin_client, "pause", schedule).content.decode()
    resumed = act(admin_client, "resume", schedule).content.decode()

    # then each change went through the service and was an event; the refusal is in its words
    assert "Paused 1 schedule(s)." in paused
    assert "cannot be asked to pause" in again
    assert "Resumed 1 schedule(s)." in resumed
    assert Schedule.objects.get(pk=schedule.pk).status == "active"
    assert [(e["previous_status"], e["status"]) for e in emitted(workspace, "schedule-status-changed")] == [
        (None, "active"), ("active", "paused"), ("paused", "active")
    ]
