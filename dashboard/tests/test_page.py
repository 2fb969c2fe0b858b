"""The dashboard page as Django serves it: sign-in, the workspace it shows and
the switcher between a user's workspaces, and nothing secret in the HTML. What
the page does live is its JavaScript's, on the public API (browser tests)."""

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

from conftest import PASSWORD
from workspaces import services
from workspaces.models import Role

pytestmark = pytest.mark.django_db


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get("/dashboard/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/dashboard/"


def test_signing_in_with_the_form_fields_lands_on_the_dashboard(client, owner):
    response = client.post("/accounts/login/", {"username": owner.username, "password": PASSWORD})

    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert client.get("/").headers["Location"] == "/dashboard/"


def test_the_page_shows_the_members_workspace_and_loads_the_live_module(signed_in, owner, workspace):
    response = signed_in(owner).get("/dashboard/")

    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-workspace="acme"' in page and 'data-role="owner"' in page
    assert '<script type="module" src="/static/dashboard/dashboard.js">' in page
    assert settings.CSRF_COOKIE_NAME in response.cookies  # the module POSTs for stream tickets


def test_a_user_in_several_workspaces_switches_between_only_theirs(
    signed_in, owner, workspace, other_workspace
):
    third = services.workspace_create(name="Initech", slug="initech")
    services.membership_add(workspace=third, user=owner, role=Role.VIEWER)
    client = signed_in(owner)

    first = client.get("/dashboard/").content.decode()
    switched = client.get("/dashboard/", {"workspace": "initech"})
    foreign = client.get("/dashboard/", {"workspace": other_workspace.slug})
    unknown = client.get("/dashboard/", {"workspace": "nope"})

    assert 'value="acme" selected' in first and 'value="initech"' in first
    assert "globex" not in first
    assert (
        'data-workspace="initech"' in switched.content.decode()
        and 'data-role="viewer"' in switched.content.decode()
    )
    assert foreign.status_code == unknown.status_code == 404


def test_members_get_the_forms_that_act_and_viewers_do_not(signed_in, owner, teammate, viewer):
    forms = ('id="call-form"', 'id="campaign-form"', 'id="upload-form"', 'data-action="start"')

    member_page = signed_in(teammate).get("/dashboard/").content.decode()
    viewer_page = signed_in(viewer).get("/dashboard/").content.decode()

    assert all(form in member_page for form in forms)
    assert not any(form in viewer_page for form in forms)
    # both see the campaigns and their contacts
    assert 'id="campaigns"' in viewer_page and 'id="contacts"' in viewer_page


def test_the_schedules_section_shows_to_all_and_its_form_and_actions_only_to_members(
    signed_in, teammate, viewer, workspace
):
    # given a workspace whose zone is not UTC
    workspace.timezone = "Europe/Berlin"
    workspace.save(update_fields=["timezone"])
    acting = ('id="schedule-form"', 'data-schedule-action="pause"', 'data-schedule-action="resume"',
              'data-schedule-action="delete"')

    # when a member and a viewer open the dashboard
    member_page = signed_in(teammate).get("/dashboard/").content.decode()
    viewer_page = signed_in(viewer).get("/dashboard/").content.decode()

    # then both see the schedules and an opened one's runs; only the member can act
    for page in (member_page, viewer_page):
        assert 'id="schedules-title"' in page and 'id="schedules"' in page and 'id="runs"' in page
    assert all(part in member_page for part in acting)
    assert not any(part in viewer_page for part in acting)
    # the form's zone starts as the workspace's
    assert 'value="Europe/Berlin" data-default="Europe/Berlin"' in member_page


def test_a_user_without_a_workspace_is_told_so(signed_in, django_user_model):
    loner = django_user_model.objects.create_user(username="lonely", password=PASSWORD)

    response = signed_in(loner).get("/dashboard/")

    assert response.status_code == 200
    assert "belong to no workspace" in response.content.decode()


def test_the_page_carries_no_secret(signed_in, owner, workspace, admin_key):
    page = signed_in(owner).get("/dashboard/").content.decode()

    assert "cbk_" not in page and admin_key.key not in page
    assert settings.SECRET_KEY not in page
    assert "sessionid" not in page and "ticket" not in page


def test_the_module_and_its_styles_are_static_files():
    for name in ("dashboard/dashboard.js", "dashboard/dashboard.css", "dashboard/campaigns.js",
                 "dashboard/campaign_contacts.js", "dashboard/campaign_upload.js", "dashboard/calls_form.js",
                 "dashboard/agents.js", "dashboard/schedules.js", "dashboard/schedule_form.js",
                 "dashboard/schedule_runs.js", "dashboard/live_list.js", "dashboard/stream.js",
                 "dashboard/webhooks_page.js", "dashboard/webhooks.js", "dashboard/webhook_form.js",
                 "dashboard/webhook_secret.js", "dashboard/webhook_deliveries.js"):
        assert finders.find(name) is not None, name


def test_the_webhooks_page_and_its_link_are_for_owners_and_admins(
    signed_in, owner, workspace_admin, teammate, viewer
):
    # given the four roles of a workspace
    acting = ('id="webhook-form"', 'data-webhook-action="disable"', 'data-webhook-action="rotate"',
              'data-webhook-action="delete"', 'id="deliveries"', 'id="webhook-secret"')

    # when each opens the dashboard and the webhooks page
    pages = {user.username: (signed_in(user).get("/dashboard/"), signed_in(user).get("/dashboard/webhooks/"))
             for user in (owner, workspace_admin, teammate, viewer)}

    # then owners and admins get the link and the view, with every event type to choose from
    for user in (owner, workspace_admin):
        dashboard, webhooks = pages[user.username]
        assert 'id="nav-webhooks" href="/dashboard/webhooks/?workspace=acme"' in dashboard.content.decode()
        assert webhooks.status_code == 200
        page = webhooks.content.decode()
        assert all(part in page for part in acting)
        assert '<script type="module" src="/static/dashboard/webhooks_page.js">' in page
        assert 'value="call-ended"' in page and 'value="webhook-status-changed"' in page
        assert 'aria-current="page">Webhooks' in page and 'data-grace-hours="24"' in page
    # and members and viewers neither: the page says who manages webhooks, as the API would refuse them
    for user in (teammate, viewer):
        dashboard, webhooks = pages[user.username]
        assert 'id="nav-webhooks"' not in dashboard.content.decode()
        assert webhooks.status_code == 403
        page = webhooks.content.decode()
        assert "for the workspace's owners and admins" in page and 'id="webhooks-admins-only"' in page
        assert not any(part in page for part in acting)


def test_the_webhooks_page_switches_only_between_the_users_workspaces(
    signed_in, owner, workspace, other_workspace
):
    client = signed_in(owner)

    page = client.get("/dashboard/webhooks/").content.decode()
    foreign = client.get("/dashboard/webhooks/", {"workspace": other_workspace.slug})

    assert 'action="/dashboard/webhooks/"' in page and 'data-workspace="acme"' in page
    assert foreign.status_code == 404
    assert client.get("/dashboard/webhooks/", {"workspace": "nope"}).status_code == 404
