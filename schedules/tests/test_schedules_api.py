"""Schedules over REST (docs/reference/rest.md#schedules): create, list, read, change,
pause, resume, delete, runs and the preview; every bad input is a 400 naming the field
that changes nothing; who may do what; another workspace's schedules are not found."""

from datetime import UTC, datetime, timedelta

import pytest

from project.testing import emitted
from schedules import runner
from schedules.models import Schedule, ScheduleRun
from schedules.tests.helpers import NUMBER, call_action, one_off, recurring

pytestmark = pytest.mark.django_db
URL = "/api/v1/schedules"
FIELDS = {"id", "name", "status", "run_at", "cron", "timezone", "action", "next_run_at", "next_runs",
          "last_run_at", "run_count", "misfire_grace_seconds", "created_at", "updated_at"}
RUN_FIELDS = {"id", "schedule_id", "scheduled_for", "executed_at", "outcome", "call_id", "campaign_id",
              "error"}


@pytest.fixture(autouse=True)
def _calls_are_recorded_not_placed(settings):
    settings.VOICE_RUNTIME = "ingest"


def in_an_hour() -> datetime:
    return (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)


def delete(keyed, path):
    return keyed.client.delete(path, HTTP_AUTHORIZATION=f"Bearer {keyed.key}")


def error_of(response) -> dict:
    return response.json()["error"]


def test_a_one_off_schedule_is_created_active_with_its_one_run_time(write_key, workspace):
    # given a time an hour ahead, written with an offset
    run_at = in_an_hour()

    # when a one-off call is scheduled for it
    response = write_key.post(URL, {"name": "Call back Ada", "run_at": run_at.isoformat(),
                                    "action": call_action(variables={"first_name": "Ada"})})

    # then it is active, runs at that time once, and its creation was an event
    assert response.status_code == 201
    body = response.json()
    assert set(body) == FIELDS
    assert (body["name"], body["status"], body["cron"]) == ("Call back Ada", "active", None)
    assert body["run_count"] == 0
    assert datetime.fromisoformat(body["run_at"]) == run_at == datetime.fromisoformat(body["next_run_at"])
    assert [datetime.fromisoformat(moment) for moment in body["next_runs"]] == [run_at]
    assert body["action"] == {"type": "call", "to_number": NUMBER, "agent": None,
                              "variables": {"first_name": "Ada"}}
    assert (body["timezone"], body["misfire_grace_seconds"]) == (workspace.timezone, 300)
    assert emitted(workspace, "schedule-status-changed") == [
        {"schedule_id": body["id"], "status": "active", "previous_status": None}
    ]


def test_a_recurring_schedule_shows_its_next_five_times_in_its_zone(write_key):
    # when weekdays at 09:00 in Tokyo are scheduled
    response = write_key.post(URL, {"cron": "0 9 * * 1-5", "timezone": "Asia/Tokyo",
                                    "action": call_action(), "misfire_grace_seconds": 60})

    # then the five next times are weekday mornings in Tokyo (00:00 UTC), the first being next_run_at
    body = response.json()
    assert response.status_code == 201
    assert (body["cron"], body["run_at"], body["timezone"]) == ("0 9 * * 1-5", None, "Asia/Tokyo")
    times = [datetime.fromisoformat(moment) for moment in body["next_runs"]]
    assert len(times) == 5 and times == sorted(times) and times[0] > datetime.now(UTC)
    assert body["next_runs"][0] == body["next_run_at"]
    assert all((moment.hour, moment.minute) == (0, 0) and moment.weekday() < 5 for moment in times)
    assert body["name"] == f"Call {NUMBER}"


def test_a_campaign_can_be_scheduled_to_start(write_key, workspace):
    from campaigns import services as campaigns

    campaign = campaigns.campaign_create(workspace=workspace, name="Renewals")

    response = write_key.post(URL, {"run_at": in_an_hour().isoformat(),
                                    "action": {"type": "campaign", "campaign_id": str(campaign.pk)}})

    assert response.status_code == 201
    assert response.json()["action"] == {"type": "campaign", "campaign_id": str(campaign.pk)}
    assert response.json()["name"] == f"Start campaign {campaign.pk}"


def bad_inputs():
    ahead = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    call = call_action()
    daily = "0 9 * * *"
    return [
        ({"action": call}, "invalid_timing", "run_at"),
        ({"action": call, "run_at": ahead, "cron": "0 9 * * *"}, "invalid_timing", "cron"),
        ({"action": call, "cron": "0 9 * *"}, "invalid_cron", "cron"),
        ({"action": call, "cron": "0 9 30 2 *"}, "invalid_cron", "cron"),
        ({"action": call, "cron": "0 9 * * * *"}, "invalid_cron", "cron"),
        ({"action": call, "cron": "0 9 * * *", "timezone": "Mars/Olympus"}, "invalid_timezone", "timezone"),
        ({"action": call, "run_at": "2020-01-01T09:00:00Z"}, "invalid_run_at", "run_at"),
        ({"action": call, "run_at": "2099-01-01T09:00:00Z"}, "invalid_run_at", "run_at"),
        ({"action": call, "run_at": "2027-01-01T09:00:00"}, "invalid_run_at", "run_at"),
        ({"action": {"type": "sms", "to_number": NUMBER}, "cron": daily}, "invalid_action", "action.type"),
        # a type that is not a string (a list or an object cannot be looked up: it was a 500)
        ({"action": {"type": ["call"], "to_number": NUMBER}, "cron": daily}, "invalid_action", "action.type"),
        ({"action": {"type": {"call": 1}}, "cron": daily}, "invalid_action", "action.type"),
        ({"action": {**call, "colour": "blue"}, "cron": "0 9 * * *"}, "invalid_action", "action.colour"),
        ({"action": {"type": "call"}, "cron": "0 9 * * *"}, "invalid_action", "action.to_number"),
        ({"action": call_action("0800 123"), "cron": daily}, "invalid_phone_number", "action.to_number"),
        ({"action": call_action(agent="nobody"), "cron": "0 9 * * *"}, "unknown_agent", "action.agent"),
        ({"action": call_action(variables=[1]), "cron": daily}, "invalid_variables", "action.variables"),
        ({"action": {"type": "campaign", "campaign_id": "8a4c5f5e-0000-4000-8000-000000000000"},
          "cron": "0 9 * * *"}, "unknown_campaign", "action.campaign_id"),
        ({"action": {"type": "campaign", "campaign_id": "not-an-id"}, "cron": "0 9 * * *"},
         "unknown_campaign", "action.campaign_id"),
        ({"action": call, "cron": "0 9 * * *", "name": "   "}, "invalid_name", "name"),
    ]


@pytest.mark.parametrize(("body", "code", "field"), bad_inputs())
def test_an_input_that_cannot_be_used_is_a_400_naming_the_field_and_creates_nothing(write_key, workspace,
                                                                                      body, code, field):
    response = write_key.post(URL, body)

    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["details"]["field"]) == (code, field)
    assert not Schedule.objects.exists()
    assert emitted(workspace, "schedule-status-changed") == []


@pytest.mark.parametrize(
    "body",
    [
        {"action": call_action(), "cron": "0 9 * * *", "misfire_grace_seconds": 0},
        {"action": call_action(), "cron": "0 9 * * *", "misfire_grace_seconds": 86401},
        {"action": call_action(), "cron": "0 9 * * *", "misfire_grace_seconds": True},
        {"action": call_action(), "cron": "0 9 * * *", "every": "day"},
        {"action": "call", "cron": "0 9 * * *"},
        {"cron": "0 9 * * *"},
    ],
)
def test_a_body_of_the_wrong_shape_is_a_validation_error(write_key, body):
    response = write_key.post(URL, body)

    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"
    assert not Schedule.objects.exists()


def test_the_workspace_holds_a_bounded_number_of_schedules(write_key, workspace, settings):
    # given a limit of two, both taken
    settings.SCHEDULES_MAX_PER_WORKSPACE = 2
    recurring(workspace), recurring(workspace)

    # when a third is created
    response = write_key.post(URL, {"cron": "0 9 * * *", "action": call_action()})

    # then it is refused and nothing is added
    assert response.status_code == 409
    assert (error_of(response)["code"], error_of(response)["details"]["max_schedules"]) == (
        "schedule_limit_reached", 2)
    assert Schedule.objects.count() == 2


def test_the_list_filters_by_status_and_pages(read_key, workspace):
    # given three schedules, one paused
    from schedules import services

    first, second, third = (recurring(workspace, name=f"Schedule {n}") for n in range(3))
    services.schedule_pause(workspace=workspace, schedule_id=second.pk)

    # when they are listed, paused ones, and two to a page
    paused = read_key.get(URL, {"status": "paused"}).json()
    page = read_key.get(URL, {"page_size": 2}).json()
    rest = read_key.get(URL, {"page_size": 2, "page_token": page["next_page_token"]}).json()
    wrong = read_key.get(URL, {"status": "sleeping"})

    # then
    assert [item["id"] for item in paused["results"]] == [str(second.pk)]
    assert paused["results"][0]["next_run_at"] is None and paused["results"][0]["next_runs"] == []
    assert page["total_count"] == 3
    assert [item["id"] for item in page["results"] + rest["results"]] == [str(third.pk), str(second.pk),
                                                                           str(first.pk)]
    assert (wrong.status_code, error_of(wrong)["code"]) == (400, "invalid_status")


def test_another_workspaces_schedule_is_not_found(outsider_key, workspace):
    # given a schedule of this workspace
    schedule = recurring(workspace)
    path = f"{URL}/{schedule.pk}"

    # when another workspace's key reads, changes, pauses, deletes it, or lists its runs
    answers = [
        outsider_key.get(path).status_code,
        outsider_key.patch(path, {"name": "mine"}).status_code,
        outsider_key.post(f"{path}/pause").status_code,
        delete(outsider_key, path).status_code,
        outsider_key.get(f"{path}/runs").status_code,
        outsider_key.get(f"{URL}/not-a-uuid").status_code,
    ]

    # then it is not found every time, and nothing changed
    assert answers == [404] * 6
    assert Schedule.objects.get(pk=schedule.pk).status == "active"
    assert outsider_key.get(URL).json()["total_count"] == 0


def test_a_read_key_reads_but_changes_nothing(read_key, workspace):
    schedule = recurring(workspace)

    assert read_key.get(f"{URL}/{schedule.pk}").status_code == 200
    refused = read_key.post(URL, {"cron": "0 9 * * *", "action": call_action()})
    assert (refused.status_code, error_of(refused)["code"]) == (403, "insufficient_scope")
    assert read_key.post(f"{URL}/{schedule.pk}/pause").status_code == 403
    assert Schedule.objects.get(pk=schedule.pk).status == "active"


def test_pause_and_resume_move_the_status_and_the_next_run(write_key, workspace):
    # given an active daily schedule
    schedule = recurring(workspace)
    path = f"{URL}/{schedule.pk}"

    # when it is paused, paused again, then resumed
    paused = write_key.post(f"{path}/pause")
    again = write_key.post(f"{path}/pause")
    resumed = write_key.post(f"{path}/resume")

    # then pausing clears its next run, a second pause is refused, and resuming works it out again
    assert paused.status_code == 200
    assert (paused.json()["status"], paused.json()["next_run_at"]) == ("paused", None)
    assert (again.status_code, error_of(again)["code"]) == (409, "schedule_action_not_allowed")
    assert error_of(again)["details"] == {"status": "paused", "action": "pause"}
    assert (resumed.json()["status"], resumed.json()["next_run_at"]) == ("active", write_key.get(path).json()[
        "next_runs"][0])
    assert [(e["previous_status"], e["status"]) for e in emitted(workspace, "schedule-status-changed")] == [
        (None, "active"), ("active", "paused"), ("paused", "active")
    ]


def test_changing_the_timing_works_out_the_next_run_again(write_key, workspace):
    # given a daily schedule
    schedule = recurring(workspace, "0 9 * * *", timezone="UTC")
    path = f"{URL}/{schedule.pk}"

    # when its expression changes, then it becomes a one-off, then only its name changes
    hourly = write_key.patch(path, {"cron": "0 * * * *"}).json()
    run_at = in_an_hour()
    once = write_key.patch(path, {"run_at": run_at.isoformat()}).json()
    renamed = write_key.patch(path, {"name": "Renamed"}).json()

    # then
    assert datetime.fromisoformat(hourly["next_run_at"]).minute == 0
    assert datetime.fromisoformat(hourly["next_run_at"]) - datetime.now(UTC) <= timedelta(hours=1)
    assert (once["cron"], datetime.fromisoformat(once["next_run_at"])) == (None, run_at)
    assert (renamed["name"], renamed["next_run_at"]) == ("Renamed", once["next_run_at"])


@pytest.mark.parametrize("change", [{"cron": "0 9 * * *", "name": "Morning call"}, {"timezone": "UTC"}])
def test_a_change_that_sends_the_same_timing_keeps_a_run_that_is_due(write_key, workspace, change):
    # given a daily schedule whose run came due a second ago and that the runner has not reached yet
    due = (datetime.now(UTC) - timedelta(seconds=1)).replace(microsecond=0)
    schedule = recurring(workspace, "0 9 * * *", timezone="UTC", due=due)

    # when a client sends its settings back, the timing as it is
    response = write_key.patch(f"{URL}/{schedule.pk}", change)

    # then the timing did not change, so neither did the next run: the runner still executes it
    assert response.status_code == 200
    assert datetime.fromisoformat(response.json()["next_run_at"]) == due
    runner.run_due_schedules()
    assert list(ScheduleRun.objects.filter(schedule=schedule).values_list("scheduled_for", "outcome")) == [
        (due, "executed")
    ]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"cron": "every day"}, "invalid_cron"),
        ({"timezone": "Nowhere/Land"}, "invalid_timezone"),
        ({"run_at": None}, "invalid_timing"),
        ({"action": {"type": "call", "to_number": "12"}}, "invalid_phone_number"),
    ],
)
def test_a_change_that_cannot_be_used_changes_nothing(write_key, workspace, change, code):
    schedule = recurring(workspace, "0 9 * * *")
    before = write_key.get(f"{URL}/{schedule.pk}").json()

    response = write_key.patch(f"{URL}/{schedule.pk}", change)

    assert (response.status_code, error_of(response)["code"]) == (400, code)
    assert write_key.get(f"{URL}/{schedule.pk}").json() == before


def test_a_finished_schedule_cannot_be_changed_but_can_be_deleted(write_key, workspace):
    # given a one-off schedule that ran
    schedule = one_off(workspace, in_an_hour(), due=datetime.now(UTC) - timedelta(seconds=1))
    runner.run_due_schedules()
    path = f"{URL}/{schedule.pk}"

    # when it is changed, resumed, then deleted
    changed = write_key.patch(path, {"name": "again"})
    resumed = write_key.post(f"{path}/resume")
    deleted = delete(write_key, path)

    # then it could only be deleted, with its runs
    assert (changed.status_code, error_of(changed)["code"]) == (409, "schedule_action_not_allowed")
    assert resumed.status_code == 409
    assert deleted.status_code == 204
    assert write_key.get(path).status_code == 404
    assert not ScheduleRun.objects.exists()


def test_the_runs_of_a_schedule_are_listed_newest_first_and_filtered(read_key, workspace):
    # given a schedule that missed a run and then executed one
    back = datetime.now(UTC).replace(second=0, microsecond=0)
    schedule = recurring(workspace, "* * * * *", due=back - timedelta(minutes=3), misfire_grace_seconds=150)
    runner.run_due_schedules(now=back)

    # when its runs are listed, and only the missed ones
    runs = read_key.get(f"{URL}/{schedule.pk}/runs").json()
    missed = read_key.get(f"{URL}/{schedule.pk}/runs", {"outcome": "missed"}).json()
    wrong = read_key.get(f"{URL}/{schedule.pk}/runs", {"outcome": "late"})

    # then
    assert runs["total_count"] == 4
    assert set(runs["results"][0]) == RUN_FIELDS
    assert [run["outcome"] for run in missed["results"]] == ["missed"]
    assert missed["results"][0]["executed_at"] is None and missed["results"][0]["error"]["code"] == "missed"
    executed = [run for run in runs["results"] if run["outcome"] == "executed"]
    assert all(run["call_id"] and run["executed_at"] for run in executed) and len(executed) == 3
    assert (wrong.status_code, error_of(wrong)["code"]) == (400, "invalid_outcome")


def test_the_preview_shows_what_an_expression_means_before_saving(read_key, workspace):
    # when a user asks what "02:30 every day in New York" means, and then a broken expression
    good = read_key.get(f"{URL}/preview", {"cron": "30 2 * * *", "timezone": "America/New_York"})
    broken = read_key.get(f"{URL}/preview", {"cron": "30 2 * *", "timezone": "America/New_York"})
    nowhere = read_key.get(f"{URL}/preview", {"cron": "30 2 * * *", "timezone": "Nowhere"})

    # then five times, each 02:30 New York time; the errors name the field
    times = [datetime.fromisoformat(moment) for moment in good.json()["next_runs"]]
    assert good.status_code == 200 and len(times) == 5
    from zoneinfo import ZoneInfo

    assert {(t.astimezone(ZoneInfo("America/New_York")).hour, t.minute) for t in times} == {(2, 30)}
    assert (broken.status_code, error_of(broken)["details"]["field"]) == (400, "cron")
    assert (nowhere.status_code, error_of(nowhere)["details"]["field"]) == (400, "timezone")
    assert not Schedule.objects.exists()


@pytest.mark.parametrize("cron", ["0 0 31 2 1#5", "0 9 29 2 1#5"])
def test_an_expression_whose_first_run_is_more_than_a_year_away_is_refused(write_key, cron):
    # given an expression that runs once in decades (the fifth Monday of February)
    # when it is saved, then it is refused naming the field, and nothing is created
    response = write_key.post(URL, {"cron": cron, "action": call_action()})

    assert (response.status_code, error_of(response)["code"]) == (400, "invalid_cron")
    assert error_of(response)["details"]["field"] == "cron"
    assert not Schedule.objects.exists()


def test_a_one_off_schedules_zone_changes_even_after_its_time_has_passed(write_key, workspace):
    # given a one-off schedule whose time is due (the runner has not reached it yet)
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    schedule = one_off(workspace, in_an_hour(), due=due)

    # when only its zone changes
    response = write_key.patch(f"{URL}/{schedule.pk}", {"timezone": "Asia/Tokyo"})

    # then the zone is kept and its time, an instant, is not touched
    assert response.status_code == 200
    assert (response.json()["timezone"], datetime.fromisoformat(response.json()["next_run_at"])) == (
        "Asia/Tokyo", due)
