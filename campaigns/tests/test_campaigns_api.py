"""Campaigns over REST (docs/reference/rest.md#campaigns): create, list with a status
filter and pagination, read, change, delete and the four actions; who may do what;
and another workspace's campaigns are not found."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from campaigns import services
from campaigns.models import Campaign, Contact
from campaigns.tests.lifecycle_helpers import add_contacts, event_count, status_changes

pytestmark = pytest.mark.django_db
URL = "/api/v1/campaigns"
FIELDS = {"id", "name", "status", "agent", "from_number", "max_concurrency", "calls_per_minute",
          "calling_window", "retry", "start_at", "pause_reason", "stats", "created_at", "started_at",
          "completed_at"}


def draft(workspace, name="Spring renewals", contacts=1) -> Campaign:
    campaign = services.campaign_create(workspace=workspace, name=name)
    if contacts:
        add_contacts(campaign, *["pending"] * contacts)
    return campaign


def delete(keyed, path):
    """DELETE with the key (the shared client helper has GET, POST and PATCH)."""
    return keyed.client.delete(path, HTTP_AUTHORIZATION=f"Bearer {keyed.key}")


def test_creating_a_campaign_answers_201_with_the_draft(write_key, workspace, settings):
    # given a start an hour ahead, written in another zone
    ahead = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    start_at = ahead.astimezone(timezone(timedelta(hours=1))).isoformat()

    # when
    response = write_key.post(URL, {"name": "Spring renewals", "max_concurrency": 3,
                                    "retry": {"max_attempts": 2}, "start_at": start_at,
                                    "calling_window": {"timezone": "Europe/Paris", "days": ["tue", "mon"],
                                                       "start": "09:00", "end": "18:30"}})

    # then
    assert response.status_code == 201
    body = response.json()
    assert set(body) == FIELDS
    assert (body["status"], body["agent"], body["max_concurrency"]) == ("draft", "helpdesk", 3)
    assert body["from_number"] == settings.CALLS_DEFAULT_FROM_NUMBER
    assert body["retry"] == {"max_attempts": 2, "retry_on": ["no-answer", "busy", "failed", "voicemail"],
                             "delay_seconds": 900}
    assert body["calling_window"] == {"timezone": "Europe/Paris", "days": ["mon", "tue"], "start": "09:00",
                                      "end": "18:30"}
    assert body["start_at"].endswith("Z") and datetime.fromisoformat(body["start_at"]) == ahead
    assert body["stats"] == {"total": 0, "pending": 0, "in_progress": 0, "retry_wait": 0, "completed": 0,
                             "failed": 0, "skipped": 0, "percent": 0.0}
    assert Campaign.objects.get(pk=body["id"]).workspace == workspace
    assert status_changes(workspace) == [(None, "draft")]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": ""}, "validation_error"),
        ({"name": "x", "max_concurrency": 0}, "validation_error"),
        ({"name": "x", "max_concurrency": 101}, "validation_error"),
        ({"name": "x", "calls_per_minute": 601}, "validation_error"),
        ({"name": "x", "max_concurrency": True}, "validation_error"),
        ({"name": "x", "calls_per_minute": True}, "validation_error"),
        ({"name": "x", "colour": "blue"}, "validation_error"),
        ({"name": "x", "agent": "nobody"}, "unknown_agent"),
        ({"name": "x", "from_number": "0800 123"}, "invalid_phone_number"),
        ({"name": "x", "retry": {"max_attempts": 20}}, "invalid_retry"),
        ({"name": "x", "retry": {"retry_on": ["busy"], "tries": 2}}, "invalid_retry"),
        ({"name": "x", "calling_window": {"days": [], "start": "09:00", "end": "17:00"}},
         "invalid_calling_window"),
        ({"name": "x", "calling_window": {"days": ["mon"], "start": "9am", "end": "17:00"}},
         "invalid_calling_window"),
        ({"name": "x", "start_at": "2027-01-01T09:00:00"}, "invalid_start_at"),
        ({"name": "x", "start_at": "2099-01-01T09:00:00Z"}, "invalid_start_at"),
    ],
)
def test_a_bad_campaign_is_400_and_creates_nothing(write_key, workspace, body, code):
    before = event_count(workspace)

    response = write_key.post(URL, body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert not Campaign.objects.exists() and event_count(workspace) == before


def test_the_list_filters_by_status_and_pages_newest_first(read_key, workspace):
    # given three drafts and a running campaign
    drafts = [draft(workspace, name=f"Draft {n}") for n in range(3)]
    running = draft(workspace, name="Running")
    services.campaign_start(workspace=workspace, campaign_id=running.pk)

    # when the drafts are read two at a time
    first = read_key.get(URL, {"status": "draft", "page_size": 2}).json()
    second = read_key.get(URL, {"status": "draft", "page_size": 2,
                                "page_token": first["next_page_token"]}).json()

    # then
    assert first["total_count"] == 3
    names = [item["name"] for item in first["results"] + second["results"]]
    assert names == [campaign.name for campaign in reversed(drafts)]
    assert second["next_page_token"] == ""
    both = read_key.get(URL, {"status": "running,draft"}).json()
    assert both["total_count"] == 4
    assert read_key.get(URL).json()["results"][0]["name"] == "Running"


def test_an_unknown_status_filter_is_400(read_key):
    response = read_key.get(URL, {"status": "running,sleeping"})

    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_status"


def test_a_campaign_is_read_by_id(read_key, workspace):
    campaign = draft(workspace)

    response = read_key.get(f"{URL}/{campaign.pk}")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == FIELDS
    assert (body["id"], body["name"], body["status"]) == (str(campaign.pk), "Spring renewals", "draft")


def test_a_patch_changes_only_what_it_names(write_key, workspace):
    # given
    campaign = draft(workspace)

    # when
    response = write_key.patch(f"{URL}/{campaign.pk}", {"max_concurrency": 9, "calls_per_minute": 12})

    # then
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["max_concurrency"], body["calls_per_minute"]) == ("Spring renewals", 9, 12)
    campaign.refresh_from_db()
    assert campaign.max_concurrency == 9


def test_a_running_campaign_cannot_be_changed(write_key, workspace):
    campaign = draft(workspace)
    services.campaign_start(workspace=workspace, campaign_id=campaign.pk)

    response = write_key.patch(f"{URL}/{campaign.pk}", {"name": "Renamed"})

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "campaign_action_not_allowed",
        "message": "A campaign that is running cannot be asked to update.",
        "details": {"status": "running", "action": "update"},
    }


def test_deleting_a_draft_answers_204(write_key, workspace):
    campaign = draft(workspace, contacts=2)

    response = delete(write_key, f"{URL}/{campaign.pk}")

    assert response.status_code == 204 and response.content == b""
    assert not Campaign.objects.exists() and not Contact.objects.exists()


def test_a_started_campaign_is_not_deleted(write_key, workspace):
    campaign = draft(workspace)
    services.campaign_start(workspace=workspace, campaign_id=campaign.pk)

    response = delete(write_key, f"{URL}/{campaign.pk}")

    assert response.status_code == 409
    assert Campaign.objects.filter(pk=campaign.pk).exists()


def test_start_pause_resume_cancel_each_answer_the_campaign(write_key, workspace):
    # given
    campaign = draft(workspace, contacts=2)
    path = f"{URL}/{campaign.pk}"

    # when
    answers = [write_key.post(f"{path}/{action}") for action in ("start", "pause", "resume", "cancel")]

    # then
    assert [answer.status_code for answer in answers] == [200] * 4
    assert [answer.json()["status"] for answer in answers] == ["running", "paused", "running", "canceled"]
    assert answers[1].json()["pause_reason"] == "manual" and answers[2].json()["pause_reason"] is None
    assert answers[3].json()["stats"]["skipped"] == 2
    assert status_changes(workspace) == [(None, "draft"), ("draft", "running"), ("running", "paused"),
                                         ("paused", "running"), ("running", "canceled")]


def test_starting_without_contacts_is_409(write_key, workspace):
    campaign = draft(workspace, contacts=0)

    response = write_key.post(f"{URL}/{campaign.pk}/start")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "campaign_has_no_contacts"


def test_an_illegal_action_is_409_naming_the_status_and_the_action(write_key, workspace):
    campaign = draft(workspace)
    before = event_count(workspace)

    response = write_key.post(f"{URL}/{campaign.pk}/resume")

    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"status": "draft", "action": "resume"}
    assert event_count(workspace) == before


# --- who may do what --------------------------------------------------------------------


def test_readers_read_and_do_not_act(read_key, workspace):
    # given
    campaign = draft(workspace)
    path = f"{URL}/{campaign.pk}"

    # when / then
    assert read_key.get(URL).status_code == 200 and read_key.get(path).status_code == 200
    refusals = [
        read_key.post(URL, {"name": "Mine"}),
        read_key.patch(path, {"name": "Mine"}),
        delete(read_key, path),
        *[read_key.post(f"{path}/{action}") for action in ("start", "pause", "resume", "cancel")],
    ]
    assert {response.status_code for response in refusals} == {403}
    assert {response.json()["error"]["code"] for response in refusals} == {"insufficient_scope"}
    campaign.refresh_from_db()
    assert (campaign.name, campaign.status, Campaign.objects.count()) == ("Spring renewals", "draft", 1)


def test_a_viewer_reads_and_a_member_acts(signed_in, viewer, teammate, workspace):
    # given
    campaign = draft(workspace)
    viewing, member = signed_in(viewer, enforce_csrf=False), signed_in(teammate, enforce_csrf=False)

    # when
    seen = viewing.get(f"{URL}/{campaign.pk}")
    refused = viewing.post(f"{URL}/{campaign.pk}/start")
    started = member.post(f"{URL}/{campaign.pk}/start")

    # then
    assert seen.status_code == 200
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_role"
    assert started.status_code == 200 and started.json()["status"] == "running"


def test_another_workspaces_campaigns_are_not_found(outsider_key, workspace):
    # given a campaign of acme, and a key of globex with every scope
    campaign = draft(workspace)
    path = f"{URL}/{campaign.pk}"

    # when
    listed = outsider_key.get(URL).json()
    answers = [
        outsider_key.get(path),
        outsider_key.patch(path, {"name": "Mine"}),
        delete(outsider_key, path),
        *[outsider_key.post(f"{path}/{action}") for action in ("start", "pause", "resume", "cancel")],
    ]

    # then
    assert listed["total_count"] == 0
    assert {answer.status_code for answer in answers} == {404}
    campaign.refresh_from_db()
    assert (campaign.name, campaign.status) == ("Spring renewals", "draft")


def test_a_malformed_id_is_404(read_key):
    assert read_key.get(f"{URL}/not-a-uuid").status_code == 404


@pytest.mark.parametrize("field", ["max_concurrency", "calls_per_minute"])
def test_a_patch_with_true_for_a_number_is_400_and_changes_nothing(write_key, workspace, field):
    campaign = draft(workspace)

    response = write_key.patch(f"{URL}/{campaign.pk}", {field: True})

    assert response.status_code == 400
    campaign.refresh_from_db()
    assert (campaign.max_concurrency, campaign.calls_per_minute) == (5, None)
