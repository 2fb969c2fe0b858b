"""Staff see calls in the admin (docs/operations.md "Admin"): lists that stay cheap
on a big table, a read-only call with its timeline, "Hang up" through the call
service, and agents edited through the agent services."""

import pytest

from calls import admin as calls_admin
from calls import agents, services
from calls.models import Agent, Call, CallEvent
from realtime.models import Event

pytestmark = pytest.mark.django_db

CALLS = "/admin/calls/call/"


def place(workspace, *, to_number="+14155550123", **fields) -> Call:
    return services.call_create(workspace=workspace, to_number=to_number, place=False, **fields)


def ended(workspace, **fields) -> Call:
    call = place(workspace, **fields)
    return services.call_transition(workspace=workspace, call_id=call.pk, status="failed")


def listed(response) -> set[str]:
    """The ids of the calls on a list page."""
    return {str(call.pk) for call in response.context["cl"].result_list}


def ended_events(call) -> list[dict]:
    return [row.data for row in Event.objects.filter(call_id=str(call.pk), type="call-ended")]


# --- the list -----------------------------------------------------------------------------


@pytest.mark.parametrize("calls", [2, 20])
def test_the_list_reads_a_fixed_number_of_queries_however_many_calls_it_shows(
        admin_client, workspace, other_workspace, calls, django_assert_max_num_queries):
    # given calls in two workspaces
    for index in range(calls):
        place(workspace if index % 2 else other_workspace, to_number=f"+1415555{index:04d}")

    # when staff open the list, filtered and searched: the session, the user, a capped
    # count and one page, whatever the page holds; and for the search the workspace
    # named and the start of the search's window
    with django_assert_max_num_queries(4):
        response = admin_client.get(CALLS, {"status": "queued", "direction": "outbound"})
    with django_assert_max_num_queries(6):
        searched = admin_client.get(CALLS, {"workspace": "acme", "q": "+1415555"})

    # then every call is there, and the workspace's only in the filtered one
    assert response.status_code == searched.status_code == 200
    assert len(listed(response)) == calls
    acme_calls = Call.objects.filter(workspace=workspace).values_list("pk", flat=True)
    assert listed(searched) == {str(pk) for pk in acme_calls}
    assert "Acme (acme)" in response.content.decode()


def test_a_number_is_found_whole_or_by_its_start_on_either_side(admin_client, workspace):
    # given calls from our number (+1 415 555 0100) and one from a caller in New York
    to_sf = place(workspace, to_number="+14155550123")
    inbound = place(workspace, to_number="+14155550100", from_number="+12125550199", direction="inbound")
    to_london = place(workspace, to_number="+442071838750")

    # then a whole number, a start typed as people write it, and an id each find theirs
    assert listed(admin_client.get(CALLS, {"q": "+14155550123"})) == {str(to_sf.pk)}
    assert listed(admin_client.get(CALLS, {"q": "+1 (212) 555"})) == {str(inbound.pk)}
    assert listed(admin_client.get(CALLS, {"q": "4420"})) == {str(to_london.pk)}
    assert listed(admin_client.get(CALLS, {"q": "+1415555010"})) == {str(to_sf.pk), str(inbound.pk),
                                                                      str(to_london.pk)}
    assert listed(admin_client.get(CALLS, {"q": str(to_london.pk)})) == {str(to_london.pk)}


def test_a_number_search_reads_only_the_newest_calls_of_its_window(admin_client, workspace, monkeypatch):
    # given three calls to one number, and a window of two
    monkeypatch.setattr(calls_admin, "SEARCH_WINDOW", 2)
    oldest, *newest = [place(workspace, to_number="+14155550123") for _ in range(3)]

    # when staff search for the number
    found = listed(admin_client.get(CALLS, {"q": "+14155550123"}))

    # then the newest two are found, and the oldest only by a filter that moves the window
    assert found == {str(call.pk) for call in newest}
    moved = admin_client.get(CALLS, {"q": "+14155550123", "created_at__lte": oldest.created_at.isoformat()})
    assert listed(moved) == {str(oldest.pk)}


def test_a_search_that_is_neither_a_number_nor_an_id_finds_nothing_and_says_what_it_takes(
        admin_client, workspace):
    place(workspace)

    response = admin_client.get(CALLS, {"q": "ada lovelace"})

    assert listed(response) == set()
    assert "Search takes a phone number" in response.content.decode()


def test_the_campaign_filter_is_typed_and_lists_only_that_campaigns_calls(admin_client, workspace):
    mine = place(workspace, campaign_id="camp-1")
    place(workspace, campaign_id="camp-2")
    place(workspace)

    response = admin_client.get(CALLS, {"campaign_id": "camp-1"})

    assert listed(response) == {str(mine.pk)}
    # a text box, not a list of every campaign id in the table
    assert 'name="campaign_id" value="camp-1"' in response.content.decode()
    assert "camp-2" not in response.content.decode()


def test_an_unknown_workspace_lists_no_calls(admin_client, workspace):
    place(workspace)

    assert listed(admin_client.get(CALLS, {"workspace": "nobody"})) == set()


# --- one call ------------------------------------------------------------------------------


def test_the_change_page_shows_the_timeline_read_only(admin_client, workspace):
    call = ended(workspace)

    response = admin_client.get(f"{CALLS}{call.pk}/change/")

    body = response.content.decode()
    assert response.status_code == 200
    assert body.index("call-created") < body.index("call-status") < body.index("call-ended")
    assert "3 event(s), all below" in body
    # nothing to edit: no input for the call's fields, nor for its events
    assert 'name="status"' not in body and 'name="events-0-type"' not in body
    assert 'name="_save"' not in body


def test_a_long_timeline_shows_its_newest_events_in_order_and_links_to_all_of_them(
        admin_client, workspace, monkeypatch):
    # given a call with three events, and a page that shows two
    monkeypatch.setattr(calls_admin, "TIMELINE_LIMIT", 2)
    call = ended(workspace)

    # when staff open it
    body = admin_client.get(f"{CALLS}{call.pk}/change/").content.decode()

    # then the newest two, oldest first, and a way to the rest
    timeline = body[body.index("tabular inline-related"):]
    assert "call-created" not in timeline
    assert timeline.index("call-status") < timeline.index("call-ended")
    assert "3 events; below, the newest 2" in body
    everything = admin_client.get("/admin/calls/callevent/", {"call": str(call.pk)})
    assert [event.type for event in everything.context["cl"].result_list] == [
        "call-created", "call-status", "call-ended"]


def test_the_events_list_is_empty_until_a_call_is_named(admin_client, workspace):
    ended(workspace)

    response = admin_client.get("/admin/calls/callevent/")

    assert response.status_code == 200 and list(response.context["cl"].result_list) == []
    assert "The list is empty until you name one." in response.content.decode()


def test_posting_a_change_to_a_call_is_refused_and_changes_nothing(admin_client, workspace):
    call = place(workspace)

    response = admin_client.post(f"{CALLS}{call.pk}/change/", {"status": "completed", "to_number": "+1999"})

    assert response.status_code == 403
    call.refresh_from_db()
    assert (call.status, call.to_number) == ("queued", "+14155550123")


def test_calls_cannot_be_added_or_deleted_in_the_admin(admin_client, workspace):
    call = place(workspace)

    assert admin_client.get(f"{CALLS}add/").status_code == 403
    assert admin_client.post(f"{CALLS}{call.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Call.objects.filter(pk=call.pk).exists()


# --- hanging up ----------------------------------------------------------------------------


def hang_up(client, *calls, follow=True):
    return client.post(
        CALLS, {"action": "hang_up", "_selected_action": [str(call.pk) for call in calls], "index": 0},
        follow=follow,
    )


def test_hang_up_ends_an_active_call_through_the_service_and_refuses_an_ended_one(admin_client, workspace):
    # given a queued call and one that has failed
    active = place(workspace)
    over = ended(workspace, to_number="+14155550199")

    # when staff hang both up
    response = hang_up(admin_client, active, over)

    # then the active one is canceled, with its call-ended event, and the other refused
    body = response.content.decode()
    assert "Hung up 1 call(s)." in body
    assert "Refused 1 call(s): +14155550199" in body and "A failed call cannot become canceled." in body
    active.refresh_from_db()
    assert (active.status, active.end_reason) == ("canceled", "canceled")
    assert [event["status"] for event in ended_events(active)] == ["canceled"]
    assert len(ended_events(over)) == 1  # its own ending, nothing new
    assert CallEvent.objects.filter(call=active, type="call-ended").count() == 1


def test_hang_up_does_nothing_past_its_limit(admin_client, workspace, monkeypatch):
    monkeypatch.setattr(calls_admin, "HANGUP_LIMIT", 1)
    first, second = place(workspace), place(workspace)

    response = hang_up(admin_client, first, second)

    assert "Select at most 1 call(s) at once; nothing was done." in response.content.decode()
    assert set(Call.objects.values_list("status", flat=True)) == {"queued"}


def test_staff_who_may_only_view_calls_are_not_offered_hang_up(client, workspace, django_user_model):
    # given a staff member with the view permission only
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("vic-staff", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_call"))
    client.force_login(viewer)
    call = place(workspace)

    # when they open the list and try the action anyway
    page = client.get(CALLS)
    response = hang_up(client, call, follow=False)

    # then there is no such action, and the call goes on
    assert page.status_code == 200 and "hang_up" not in page.content.decode()
    assert response.status_code in (200, 302)
    call.refresh_from_db()
    assert call.status == "queued" and ended_events(call) == []


# --- who may come in -----------------------------------------------------------------------


@pytest.mark.parametrize("path", [CALLS, "/admin/calls/agent/", "/admin/calls/callevent/"])
def test_people_who_are_not_staff_are_sent_to_sign_in(client, signed_in, owner, path):
    for visitor in (client, signed_in(owner)):
        response = visitor.get(path)

        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


# --- agents --------------------------------------------------------------------------------

AGENT_FORM = {
    "name": "sales",
    "language": "en-GB",
    "voice": "aria",
    "max_duration_seconds": "300",
    "greeting": "Hello",
    "nodes": '["greeting", "pitch"]',
    "tools": "[]",
}


def default_agent(workspace) -> Agent:
    return Agent.objects.get(workspace=workspace, is_default=True)


def test_the_agents_list_filters_by_workspace(admin_client, workspace, other_workspace):
    response = admin_client.get("/admin/calls/agent/", {"workspace": "globex"})

    assert [agent.workspace_id for agent in response.context["cl"].result_list] == [other_workspace.pk]


def test_staff_edit_an_agent_through_the_service(admin_client, workspace):
    agent = default_agent(workspace)

    response = admin_client.post(f"/admin/calls/agent/{agent.pk}/change/", {**AGENT_FORM, "name": " sales "})

    assert response.status_code == 302
    agent.refresh_from_db()
    assert (agent.name, agent.language) == ("sales", "en-GB")
    assert (agent.nodes, agent.tools) == (["greeting", "pitch"], [])


@pytest.mark.parametrize(("change", "message"), [
    ({"nodes": '["greeting", ""]'}, "`nodes` must be a list of names."),
    ({"tools": '{"a": 1}'}, "`tools` must be a list of names."),
    ({"name": "taken"}, "An agent named &#x27;taken&#x27; already exists."),
])
def test_what_the_agent_service_refuses_is_shown_on_the_form_and_changes_nothing(
        admin_client, workspace, change, message):
    agents.agent_create(workspace=workspace, name="taken")
    agent = default_agent(workspace)

    response = admin_client.post(f"/admin/calls/agent/{agent.pk}/change/", {**AGENT_FORM, **change})

    assert response.status_code == 200 and message in response.content.decode()
    agent.refresh_from_db()
    assert (agent.name, agent.language) == ("helpdesk", "en-US")


def test_staff_add_an_agent_to_a_workspace_through_the_service(admin_client, workspace):
    assert admin_client.get("/admin/calls/agent/add/").status_code == 200

    response = admin_client.post("/admin/calls/agent/add/", {**AGENT_FORM, "workspace": str(workspace.pk)})

    assert response.status_code == 302
    agent = Agent.objects.get(workspace=workspace, name="sales")
    assert (agent.max_duration_seconds, agent.is_default) == (300, False)
