"""`make run`'s demo schedules (bin/run-dev runs seed_demo, then seed_demo_schedules)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from schedules.models import Schedule
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_given_the_demo_workspace_when_seeded_twice_then_it_has_its_two_active_schedules_once():
    _run("seed_demo")

    first, second = _run("seed_demo_schedules"), _run("seed_demo_schedules")

    demo = Workspace.objects.get(slug="demo")
    schedules = Schedule.objects.filter(workspace=demo)
    assert sorted(schedules.values_list("cron", "status")) == [("*/2 * * * *", "active"),
                                                               ("0 9 * * 1-5", "active")]
    assert all(schedule.next_run_at for schedule in schedules)
    assert first == second and first.count("Demo schedule:") == 2


def test_without_the_demo_workspace_it_says_what_to_run_first():
    with pytest.raises(CommandError, match="seed_demo"):
        _run("seed_demo_schedules")
