"""A campaign's lifecycle (docs/campaigns.md "Lifecycle"): each action from the
statuses that allow it, each refusal (409, nothing changed, nothing emitted), the
settings' checks, and `campaign-status-changed` in the same transaction."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from billing import services as billing
from calls import agents
from campaigns import services
from campaigns.models import Campaign, Contact
from campaigns.tests.lifecycle_helpers import add_contacts, event_count, status_changes
from project.errors import ApiError
from project.testing import emitted

pytestmark = pytest.mark.django_db


def new_campaign(workspace, **settings):
    return services.campaign_create(workspace=workspace, name="Spring renewals", **settings)


def in_status(workspace, status: str, **settings) -> Campaign:
    """A campaign with one pending contact, brought to `status` by the services."""
    campaign = new_campaign(workspace, **settings)
    add_contacts(campaign)
    steps = {
        "draft": [],
        "running": [services.campaign_start],
        "scheduled": [services.campaign_start],
        "paused": [services.campaign_start, services.campaign_pause],
        "canceled": [services.campaign_cancel],
    }[status]
    for step in steps:
        step(workspace=workspace, campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == status
    return campaign


def completed(workspace) -> Campaign:
    campaign = in_status(workspace, "running")
    Contact.objects.filter(campaign=campaign).update(status="completed", outcome="completed")
    with transaction.atomic():
        locked = services.campaign_locked(workspace, campaign.pk)
        assert services.campaign_complete_if_done(locked)
    return locked


def refused(error: pytest.ExceptionInfo) -> tuple:
    return error.value.status, error.value.code, error.value.details


# --- create -----------------------------------------------------------------------------


def test_a_new_campaign_is_a_draft_with_the_defaults_and_says_so(workspace, settings):
    # when
    campaign = new_campaign(workspace)

    # then
    assert campaign.status == "draft"
    body = services.campaign_object(campaign)
    assert body["agent"] == agents.ensure_default_agent(workspace).name
    assert body["from_number"] == settings.CALLS_DEFAULT_FROM_NUMBER
    assert body["max_concurrency"] == 5 and body["calls_per_minute"] is None
    assert body["retry"] == {"max_attempts": 3, "retry_on": ["no-answer", "busy", "failed", "voicemail"],
                             "delay_seconds": 900}
    assert body["calling_window"] is None and body["pause_reason"] is None
    assert body["stats"]["total"] == 0 and body["started_at"] is None
    assert emitted(workspace, "campaign-status-changed") == [
        {"campaign_id": str(campaign.pk), "status": "draft", "previous_status": None}
    ]


def test_settings_given_are_kept_normalised(workspace):
    # given an agent of the workspace
    agents.agent_create(workspace=workspace, name="closer")

    # when
    campaign = new_campaign(
        workspace, agent="closer", from_number=" +14155550199 ", max_concurrency=100, calls_per_minute=600,
        retry={"retry_on": ["voicemail", "busy", "busy"], "max_attempts": 10},
    )

    # then the omitted retry key keeps its default and retry_on loses its repeat
    assert campaign.agent.name == "closer" and campaign.from_number == "+14155550199"
    assert (campaign.max_concurrency, campaign.calls_per_minute) == (100, 600)
    assert campaign.retry == {"max_attempts": 10, "retry_on": ["busy", "voicemail"], "delay_seconds": 900}


def test_a_calling_window_is_kept_normalised_in_the_workspaces_zone_by_default(workspace):
    # given a workspace in Chicago
    workspace.timezone = "America/Chicago"
    workspace.save(update_fields=["timezone"])

    # when a window is given without a zone, its days out of order
    window = {"days": ["fri", "mon"], "start": "09:00", "end": "17:00"}
    campaign = new_campaign(workspace, calling_window=window)

    # then it is stored in the workspace's zone, days in week order
    assert campaign.calling_window == {"timezone": "America/Chicago", "days": ["mon", "fri"],
                                       "start": "09:00", "end": "17:00"}


@pytest.mark.parametrize(
    ("settings", "code", "field"),
    [
        ({"name": "  "}, "invalid_name", "name"),
        ({"name": "x" * 201}, "invalid_name", "name"),
        ({"agent": "nobody"}, "unknown_agent", None),
        ({"from_number": "555-0100"}, "invalid_phone_number", "from_number"),
        ({"max_concurrency": 0}, "invalid_max_concurrency", "max_concurrency"),
        ({"max_concurrency": 101}, "invalid_max_concurrency", "max_concurrency"),
        ({"max_concurrency": True}, "invalid_max_concurrency", "max_concurrency"),
        ({"calls_per_minute": 0}, "invalid_calls_per_minute", "calls_per_minute"),
        ({"calls_per_minute": 601}, "invalid_calls_per_minute", "calls_per_minute"),
        ({"retry": {"max_attempts": 0}}, "invalid_retry", "retry.max_attempts"),
        ({"retry": {"max_attempts": 11}}, "invalid_retry", "retry.max_attempts"),
        ({"retry": {"retry_on": ["completed"]}}, "invalid_retry", "retry.retry_on"),
        ({"retry": {"retry_on": "busy"}}, "invalid_retry", "retry.retry_on"),
        ({"retry": {"delay_seconds": 0}}, "invalid_retry", "retry.delay_seconds"),
        ({"retry": {"delay_seconds": 8 * 24 * 3600}}, "invalid_retry", "retry.delay_seconds"),
        ({"retry": {"tries": 3}}, "invalid_retry", "retry.tries"),
        ({"retry": [3]}, "invalid_retry", "retry"),
        ({"calling_window": {"days": ["mon"], "start": "17:00", "end": "09:00"}}, "invalid_calling_window",
         "calling_window.end"),
        ({"start_at": datetime(2030, 1, 1, 9)}, "invalid_start_at", "start_at"),
        ({"start_at": datetime.now(UTC) + timedelta(days=400)}, "invalid_start_at", "start_at"),
    ],
)
def test_a_setting_out_of_bounds_is_400_and_creates_nothing(workspace, settings, code, field):
    # given
    before = event_count(workspace)
    given = {"name": "Spring renewals", **settings}

    # when
    with pytest.raises(ApiError) as error:
        services.campaign_create(workspace=workspace, **given)

    # then
    assert error.value.status == 400 and error.value.code == code
    if field:
        assert error.value.details["field"] == field
    assert not Campaign.objects.filter(workspace=workspace).exists()
    assert event_count(workspace) == before


# --- start, pause, resume ---------------------------------------------------------------


def test_starting_a_draft_with_contacts_runs_it(workspace):
    # given
    campaign = new_campaign(workspace)
    add_contacts(campaign)

    # when
    started = services.campaign_start(workspace=workspace, campaign_id=campaign.pk)

    # then
    assert started.status == "running" and started.started_at is not None
    assert status_changes(workspace) == [(None, "draft"), ("draft", "running")]


def test_a_campaign_whose_start_is_ahead_is_scheduled(workspace):
    # given
    campaign = new_campaign(workspace, start_at=datetime.now(UTC) + timedelta(hours=2))
    add_contacts(campaign)

    # when
    started = services.campaign_start(workspace=workspace, campaign_id=campaign.pk)

    # then it waits: scheduled, not yet started
    assert started.status == "scheduled" and started.started_at is None
    assert status_changes(workspace)[-1] == ("draft", "scheduled")


def test_a_start_time_already_past_starts_at_once(workspace):
    campaign = new_campaign(workspace, start_at=datetime.now(UTC) - timedelta(minutes=1))
    add_contacts(campaign)

    started = services.campaign_start(workspace=workspace, campaign_id=campaign.pk)

    assert started.status == "running"


def test_a_scheduled_campaign_runs_once_its_start_time_has_come(workspace):
    # given a campaign scheduled for an hour from now
    start_at = datetime.now(UTC) + timedelta(hours=1)
    campaign = in_status(workspace, "scheduled", start_at=start_at)

    # when the dialer looks a minute before, and then at the start time
    with transaction.atomic():
        early = services.campaign_start_if_due(services.campaign_locked(workspace, campaign.pk),
                                               now=start_at - timedelta(minutes=1))
    with transaction.atomic():
        due = services.campaign_start_if_due(services.campaign_locked(workspace, campaign.pk), now=start_at)

    # then it runs only then
    assert (early, due) == (False, True)
    campaign.refresh_from_db()
    assert campaign.status == "running" and campaign.started_at == start_at
    assert status_changes(workspace)[-2:] == [("draft", "scheduled"), ("scheduled", "running")]


def test_a_campaign_without_contacts_does_not_start(workspace):
    # given
    campaign = new_campaign(workspace)
    before = event_count(workspace)

    # when
    with pytest.raises(ApiError) as error:
        services.campaign_start(workspace=workspace, campaign_id=campaign.pk)

    # then
    assert refused(error) == (409, "campaign_has_no_contacts", {"status": "draft", "action": "start"})
    campaign.refresh_from_db()
    assert campaign.status == "draft" and event_count(workspace) == before


def test_pausing_a_running_campaign_is_a_manual_pause(workspace):
    campaign = in_status(workspace, "running")

    paused = services.campaign_pause(workspace=workspace, campaign_id=campaign.pk)

    assert (paused.status, paused.pause_reason) == ("paused", "manual")
    assert status_changes(workspace)[-1] == ("running", "paused")


def test_a_scheduled_campaign_may_be_paused_and_resumes_scheduled(workspace):
    # given a campaign scheduled two hours ahead, paused
    campaign = in_status(workspace, "scheduled", start_at=datetime.now(UTC) + timedelta(hours=2))
    services.campaign_pause(workspace=workspace, campaign_id=campaign.pk)

    # when it is resumed
    resumed = services.campaign_resume(workspace=workspace, campaign_id=campaign.pk)

    # then it waits for its start time again
    assert resumed.status == "scheduled" and resumed.pause_reason is None
    assert status_changes(workspace)[-2:] == [("scheduled", "paused"), ("paused", "scheduled")]


def test_resuming_runs_the_campaign_again_without_a_pause_reason(workspace):
    campaign = in_status(workspace, "paused")
    first_start = campaign.started_at

    resumed = services.campaign_resume(workspace=workspace, campaign_id=campaign.pk)

    assert (resumed.status, resumed.pause_reason) == ("running", None)
    assert resumed.started_at == first_start
    assert status_changes(workspace)[-1] == ("paused", "running")


def pause_for_credit(workspace, campaign: Campaign) -> None:
    """What the dialer does when the credit runs out."""
    with transaction.atomic():
        locked = services.campaign_locked(workspace, campaign.pk)
        services.campaign_set_status(locked, "paused", pause_reason="insufficient-balance")


def test_a_campaign_paused_for_credit_does_not_resume_while_the_credit_is_exhausted(workspace):
    # given a campaign the dialer paused for credit, and the credit at zero
    campaign = in_status(workspace, "running")
    pause_for_credit(workspace, campaign)
    billing.adjust(workspace=workspace, amount=Decimal("-100.00"), reason="used up", actor="test")
    before = event_count(workspace)

    # when someone resumes it
    with pytest.raises(ApiError) as error:
        services.campaign_resume(workspace=workspace, campaign_id=campaign.pk)

    # then 402, and it stays paused for credit
    assert refused(error) == (402, "insufficient_balance",
                              {"status": "paused", "pause_reason": "insufficient-balance"})
    campaign.refresh_from_db()
    assert (campaign.status, campaign.pause_reason) == ("paused", "insufficient-balance")
    assert event_count(workspace) == before


def test_a_campaign_paused_for_credit_resumes_once_there_is_credit(workspace):
    campaign = in_status(workspace, "running")
    pause_for_credit(workspace, campaign)

    resumed = services.campaign_resume(workspace=workspace, campaign_id=campaign.pk)

    assert (resumed.status, resumed.pause_reason) == ("running", None)


def test_a_manual_pause_resumes_even_without_credit(workspace):
    # given a campaign paused by hand, and the credit at zero
    campaign = in_status(workspace, "paused")
    billing.adjust(workspace=workspace, amount=Decimal("-100.00"), reason="used up", actor="test")

    # when
    resumed = services.campaign_resume(workspace=workspace, campaign_id=campaign.pk)

    # then it runs (the dialer then pauses it for credit, and resumes it after a top-up)
    assert resumed.status == "running"


def test_the_status_event_commits_with_the_change_or_not_at_all(workspace):
    # given a running campaign
    campaign = in_status(workspace, "running")
    before = event_count(workspace)

    # when a pause is made inside a transaction that then fails
    with pytest.raises(RuntimeError), transaction.atomic():
        services.campaign_pause(workspace=workspace, campaign_id=campaign.pk)
        raise RuntimeError("the caller's transaction fails after the pause")

    # then neither the pause nor its event remain
    campaign.refresh_from_db()
    assert campaign.status == "running" and event_count(workspace) == before


# --- cancel -----------------------------------------------------------------------------


def test_canceling_skips_the_contacts_not_yet_called_and_lets_calls_in_progress_finish(workspace):
    # given a running campaign with contacts in every status
    campaign = new_campaign(workspace)
    add_contacts(campaign, "pending", "pending", "retry-wait", "in-progress", "completed", "failed")
    services.campaign_start(workspace=workspace, campaign_id=campaign.pk)

    # when
    canceled = services.campaign_cancel(workspace=workspace, campaign_id=campaign.pk)

    # then the pending and retry-wait ones are skipped as canceled; the others keep theirs
    assert canceled.status == "canceled" and canceled.completed_at is not None
    rows = sorted(Contact.objects.filter(campaign=campaign).values_list("status", "outcome"), key=str)
    assert rows == sorted([("skipped", "canceled")] * 3 + [("in-progress", None), ("completed", None),
                                                           ("failed", None)], key=str)
    assert status_changes(workspace)[-1] == ("running", "canceled")
    # and the counts went out with it
    [progress] = emitted(workspace, "campaign-progress")
    assert progress == {"campaign_id": str(campaign.pk), "total": 6, "pending": 0, "in_progress": 1,
                        "completed": 1, "failed": 1, "percent": 83.3}
    assert canceled.stats["skipped"] == 3


@pytest.mark.parametrize("status", ["draft", "scheduled", "paused"])
def test_an_unfinished_campaign_may_be_canceled_from_any_status(workspace, status):
    campaign = in_status(workspace, status, start_at=datetime.now(UTC) + timedelta(hours=1)
                         if status == "scheduled" else None)

    canceled = services.campaign_cancel(workspace=workspace, campaign_id=campaign.pk)

    assert canceled.status == "canceled"
    assert status_changes(workspace)[-1] == (status, "canceled")


# --- refusals ---------------------------------------------------------------------------

ACTIONS = {
    "start": services.campaign_start,
    "pause": services.campaign_pause,
    "resume": services.campaign_resume,
    "cancel": services.campaign_cancel,
    "delete": services.campaign_delete,
    "update": lambda **kwargs: services.campaign_update(**kwargs, name="Renamed"),
}
ILLEGAL = [
    ("draft", "pause"), ("draft", "resume"),
    ("scheduled", "start"), ("scheduled", "resume"), ("scheduled", "update"), ("scheduled", "delete"),
    ("running", "start"), ("running", "resume"), ("running", "update"), ("running", "delete"),
    ("paused", "start"), ("paused", "pause"), ("paused", "delete"),
    ("completed", "start"), ("completed", "pause"), ("completed", "resume"), ("completed", "cancel"),
    ("completed", "update"), ("completed", "delete"),
    ("canceled", "start"), ("canceled", "pause"), ("canceled", "resume"), ("canceled", "cancel"),
    ("canceled", "update"), ("canceled", "delete"),
]


@pytest.mark.parametrize(("status", "action"), ILLEGAL)
def test_an_action_the_status_does_not_allow_is_409_and_changes_nothing(workspace, status, action):
    # given
    if status == "completed":
        campaign = completed(workspace)
    else:
        ahead = datetime.now(UTC) + timedelta(hours=1) if status == "scheduled" else None
        campaign = in_status(workspace, status, start_at=ahead)
    before_events, before = event_count(workspace), services.campaign_object(campaign)

    # when
    with pytest.raises(ApiError) as error:
        ACTIONS[action](workspace=workspace, campaign_id=campaign.pk)

    # then
    assert refused(error) == (409, "campaign_action_not_allowed", {"status": status, "action": action})
    campaign.refresh_from_db()
    assert services.campaign_object(campaign) == before
    assert event_count(workspace) == before_events


def test_every_action_on_another_workspaces_campaign_is_404(workspace, other_workspace):
    campaign = in_status(other_workspace, "draft")

    for action in ACTIONS.values():
        with pytest.raises(ApiError) as error:
            action(workspace=workspace, campaign_id=campaign.pk)
        assert error.value.status == 404

    campaign.refresh_from_db()
    assert campaign.name == "Spring renewals" and campaign.status == "draft"


def test_a_malformed_id_is_404(workspace):
    with pytest.raises(ApiError) as error:
        services.campaign_start(workspace=workspace, campaign_id="not-a-uuid")
    assert error.value.status == 404


def test_a_move_the_lifecycle_does_not_have_is_refused_to_the_dialer_too(workspace):
    campaign = in_status(workspace, "draft")

    with transaction.atomic(), pytest.raises(ApiError) as error:
        services.campaign_set_status(services.campaign_locked(workspace, campaign.pk), "completed")

    assert refused(error) == (409, "illegal_transition", {"from": "draft", "to": "completed"})


# --- update and delete ------------------------------------------------------------------


def test_a_draft_takes_changes_and_keeps_what_was_not_given(workspace):
    # given
    campaign = new_campaign(workspace, max_concurrency=7, calls_per_minute=30)

    # when
    updated = services.campaign_update(workspace=workspace, campaign_id=campaign.pk, name="Autumn",
                                       calls_per_minute=None, retry={"max_attempts": 1})

    # then
    campaign.refresh_from_db()
    assert (campaign.name, campaign.max_concurrency, campaign.calls_per_minute) == ("Autumn", 7, None)
    assert campaign.retry["max_attempts"] == 1 and updated.retry == campaign.retry


def test_a_paused_campaign_takes_changes(workspace):
    campaign = in_status(workspace, "paused")
    window = {"timezone": "contact", "days": ["sat"], "start": "10:00", "end": "12:00"}

    services.campaign_update(workspace=workspace, campaign_id=campaign.pk, max_concurrency=2,
                             calling_window=window)

    campaign.refresh_from_db()
    assert campaign.max_concurrency == 2 and campaign.status == "paused"
    assert campaign.calling_window == window

    services.campaign_update(workspace=workspace, campaign_id=campaign.pk, calling_window=None)

    campaign.refresh_from_db()
    assert campaign.calling_window is None


def test_a_bad_change_is_400_and_keeps_the_campaign_as_it_was(workspace):
    campaign = new_campaign(workspace)

    with pytest.raises(ApiError) as error:
        services.campaign_update(workspace=workspace, campaign_id=campaign.pk, name="Fine",
                                 max_concurrency=500)

    assert error.value.code == "invalid_max_concurrency"
    campaign.refresh_from_db()
    assert campaign.name == "Spring renewals" and campaign.max_concurrency == 5


def test_deleting_a_draft_deletes_its_contacts(workspace):
    campaign = new_campaign(workspace)
    add_contacts(campaign, "pending", "pending")

    services.campaign_delete(workspace=workspace, campaign_id=campaign.pk)

    assert not Campaign.objects.filter(pk=campaign.pk).exists()
    assert not Contact.objects.filter(campaign_id=campaign.pk).exists()


# --- completion -------------------------------------------------------------------------


def test_a_running_campaign_with_contacts_left_is_not_complete(workspace):
    campaign = in_status(workspace, "running")
    add_contacts(campaign, "completed", "retry-wait")  # beside the pending one

    with transaction.atomic():
        done = services.campaign_complete_if_done(services.campaign_locked(workspace, campaign.pk))

    assert done is False
    campaign.refresh_from_db()
    assert campaign.status == "running"


def test_a_running_campaign_whose_contacts_all_finished_completes(workspace):
    # when every contact is finished and the dialer asks
    campaign = completed(workspace)

    # then
    assert campaign.status == "completed" and campaign.completed_at is not None
    assert status_changes(workspace)[-1] == ("running", "completed")
    assert emitted(workspace, "campaign-progress")[-1]["percent"] == 100.0


def test_a_paused_campaign_does_not_complete(workspace):
    campaign = in_status(workspace, "paused")
    Contact.objects.filter(campaign=campaign).update(status="failed")

    with transaction.atomic():
        assert not services.campaign_complete_if_done(services.campaign_locked(workspace, campaign.pk))
