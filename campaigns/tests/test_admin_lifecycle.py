"""Staff pause, resume and cancel campaigns in the admin (docs/operations.md
"Admin"), through the lifecycle services: each change emits its
`campaign-status-changed`, and what a service refuses is reported in its words."""

import pytest
from django.contrib.auth.models import Permission

from calls.models import Agent
from campaigns.models import Campaign
from realtime.models import Event

pytestmark = pytest.mark.django_db

CAMPAIGNS = "/admin/campaigns/campaign/"


def campaign(workspace, *, name="Spring renewals", status="running", **fields) -> Campaign:
    agent = Agent.objects.get(workspace=workspace, is_default=True)
    return Campaign.objects.create(workspace=workspace, name=name, agent=agent, from_number="+14155550100",
                                   status=status, **fields)


def act(client, action: str, *campaigns, follow=True):
    return client.post(
        CAMPAIGNS,
        {"action": action, "_selected_action": [str(each.pk) for each in campaigns], "index": 0},
        follow=follow,
    )


def status_events(of: Campaign) -> list[tuple[str, str]]:
    rows = Event.objects.filter(workspace_id=of.workspace_id, type="campaign-status-changed").order_by("seq")
    return [(row.data["previous_status"], row.data["status"]) for row in rows
            if row.data["campaign_id"] == str(of.pk)]


def test_pausing_a_running_campaign_goes_through_the_service(admin_client, workspace):
    running = campaign(workspace)

    response = act(admin_client, "pause", running)

    assert "Paused 1 campaign(s)." in response.content.decode()
    running.refresh_from_db()
    assert (running.status, running.pause_reason) == ("paused", "manual")
    assert status_events(running) == [("running", "paused")]


def test_resuming_a_paused_campaign_sets_it_running(admin_client, workspace):
    paused = campaign(workspace, status="paused", pause_reason="manual")

    response = act(admin_client, "resume", paused)

    assert "Resumed 1 campaign(s)." in response.content.decode()
    paused.refresh_from_db()
    assert (paused.status, paused.pause_reason) == ("running", None)
    assert status_events(paused) == [("paused", "running")]


def test_cancel_ends_an_unfinished_campaign_and_refuses_a_finished_one(admin_client, workspace):
    # given a running campaign and a completed one
    running = campaign(workspace)
    done = campaign(workspace, name="Winter", status="completed")

    # when staff cancel both
    response = act(admin_client, "cancel", running, done)

    # then the running one is canceled, and the completed one refused in the service's words
    body = response.content.decode()
    assert "Canceled 1 campaign(s)." in body
    assert f"Refused 1 campaign(s): Winter ({done.pk}):" in body
    running.refresh_from_db()
    done.refresh_from_db()
    assert (running.status, done.status) == ("canceled", "completed")
    assert status_events(running) == [("running", "canceled")] and status_events(done) == []


def test_staff_who_may_only_view_campaigns_are_not_offered_the_actions(client, workspace, django_user_model):
    viewer = django_user_model.objects.create_user("vic-staff", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    client.force_login(viewer)
    running = campaign(workspace)

    page = client.get(CAMPAIGNS)
    act(client, "pause", running, follow=False)

    assert page.status_code == 200 and 'value="pause"' not in page.content.decode()
    running.refresh_from_db()
    assert running.status == "running" and status_events(running) == []
