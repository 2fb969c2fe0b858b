"""Staff see campaigns, their contacts and the suppression lists in the admin
(docs/operations.md "Admin"): read-only, and cheap on tables of millions."""

import pytest

from calls import services
from calls.models import Agent
from campaigns.models import Campaign, Contact, Suppression

pytestmark = pytest.mark.django_db

CAMPAIGNS = "/admin/campaigns/campaign/"
CONTACTS = "/admin/campaigns/contact/"
SUPPRESSIONS = "/admin/campaigns/suppression/"


def campaign(workspace, name="Spring renewals", **fields) -> Campaign:
    agent = Agent.objects.get(workspace=workspace, is_default=True)
    return Campaign.objects.create(workspace=workspace, name=name, agent=agent, from_number="+14155550100",
                                   **fields)


def contacts(of: Campaign, count: int, *, status="pending") -> list[Contact]:
    return Contact.objects.bulk_create(
        Contact(workspace_id=of.workspace_id, campaign=of, phone_number=f"+1415555{index:04d}", status=status)
        for index in range(count)
    )


def listed(response) -> list:
    return list(response.context["cl"].result_list)


# --- campaigns -----------------------------------------------------------------------------


@pytest.mark.parametrize("count", [2, 20])
def test_the_campaigns_list_reads_a_fixed_number_of_queries(
        admin_client, workspace, other_workspace, count, django_assert_max_num_queries):
    # given campaigns in two workspaces
    for index in range(count):
        campaign(workspace if index % 2 else other_workspace, name=f"Spring {index}",
                 stats={"total": 40, "percent": 12.5})

    # when staff filter and search: the session, the user, the workspace named, a
    # capped count and one page with its workspaces and agents
    with django_assert_max_num_queries(5):
        response = admin_client.get(CAMPAIGNS, {"status": "draft", "workspace": "acme", "q": "spring"})

    # then the workspace's campaigns, with their progress as last reported
    assert response.status_code == 200
    assert {row.workspace_id for row in listed(response)} == {workspace.pk}
    assert len(listed(response)) == count // 2
    assert "40 · 12.5%" in response.content.decode()


def test_a_campaign_is_found_by_its_id(admin_client, workspace):
    wanted, _ = campaign(workspace), campaign(workspace, name="Other")

    assert listed(admin_client.get(CAMPAIGNS, {"q": str(wanted.pk)})) == [wanted]


def test_the_campaign_page_is_read_only_and_links_to_its_contacts_and_calls(admin_client, workspace):
    spring = campaign(workspace, stats={"total": 3, "percent": 0.0})

    response = admin_client.get(f"{CAMPAIGNS}{spring.pk}/change/")

    body = response.content.decode()
    assert response.status_code == 200
    assert f"{CONTACTS}?campaign={spring.pk}" in body and "3 contact(s)" in body
    assert f"/admin/calls/call/?campaign_id={spring.pk}&amp;workspace={workspace.pk}" in body
    assert 'name="name"' not in body and 'name="_save"' not in body


def test_posting_a_change_to_a_campaign_is_refused_and_changes_nothing(admin_client, workspace):
    spring = campaign(workspace)

    response = admin_client.post(f"{CAMPAIGNS}{spring.pk}/change/", {"name": "Renamed", "status": "running"})

    assert response.status_code == 403
    spring.refresh_from_db()
    assert (spring.name, spring.status) == ("Spring renewals", "draft")


def test_campaigns_cannot_be_added_or_deleted_in_the_admin(admin_client, workspace):
    spring = campaign(workspace)

    assert admin_client.get(f"{CAMPAIGNS}add/").status_code == 403
    assert admin_client.post(f"{CAMPAIGNS}{spring.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Campaign.objects.filter(pk=spring.pk).exists()


# --- contacts ------------------------------------------------------------------------------


def test_the_contacts_list_is_empty_until_a_campaign_is_named(admin_client, workspace):
    contacts(campaign(workspace), 3)

    response = admin_client.get(CONTACTS)

    assert response.status_code == 200 and listed(response) == []
    assert "The list is empty until you name one." in response.content.decode()


@pytest.mark.parametrize("count", [2, 20])
def test_a_campaigns_contacts_are_listed_in_a_fixed_number_of_queries(
        admin_client, workspace, count, django_assert_max_num_queries):
    # given two campaigns with contacts
    spring, autumn = campaign(workspace), campaign(workspace, name="Autumn")
    contacts(spring, count)
    contacts(autumn, 2)

    # when staff open one campaign's contacts
    with django_assert_max_num_queries(4):
        response = admin_client.get(CONTACTS, {"campaign": str(spring.pk)})

    # then only that campaign's
    assert {contact.campaign_id for contact in listed(response)} == {spring.pk}
    assert len(listed(response)) == count


def test_contacts_are_filtered_by_status_and_searched_by_number_within_their_campaign(
        admin_client, workspace):
    spring = campaign(workspace)
    pending = contacts(spring, 3)
    done = Contact.objects.create(workspace=workspace, campaign=spring, phone_number="+442071838750",
                                  status="completed")
    in_spring = {"campaign": str(spring.pk)}

    assert listed(admin_client.get(CONTACTS, {**in_spring, "status": "completed"})) == [done]
    assert listed(admin_client.get(CONTACTS, {**in_spring, "q": "+44 20"})) == [done]
    assert listed(admin_client.get(CONTACTS, {**in_spring, "q": "+14155550001"})) == [pending[1]]
    assert listed(admin_client.get(CONTACTS, {"campaign": "not-an-id"})) == []


def test_a_contacts_page_links_to_its_last_call(admin_client, workspace):
    contact = contacts(campaign(workspace), 1)[0]
    call = services.call_create(workspace=workspace, to_number=contact.phone_number, place=False)
    Contact.objects.filter(pk=contact.pk).update(last_call_id=call.pk, attempts=1, status="in-progress")

    response = admin_client.get(f"{CONTACTS}{contact.pk}/change/")

    assert response.status_code == 200
    assert f'href="/admin/calls/call/{call.pk}/change/"' in response.content.decode()


def test_contacts_are_read_only(admin_client, workspace):
    contact = contacts(campaign(workspace), 1)[0]

    response = admin_client.post(f"{CONTACTS}{contact.pk}/change/", {"status": "skipped"})

    assert response.status_code == 403
    contact.refresh_from_db()
    assert contact.status == "pending"
    assert admin_client.get(f"{CONTACTS}add/").status_code == 403


# --- suppressions --------------------------------------------------------------------------


def test_suppressions_are_listed_by_workspace_and_searched_by_number(
        admin_client, workspace, other_workspace):
    ours = Suppression.objects.create(workspace=workspace, phone_number="+14155550123", reason="asked")
    theirs = Suppression.objects.create(workspace=other_workspace, phone_number="+14155550123")
    Suppression.objects.create(workspace=workspace, phone_number="+442071838750")

    assert listed(admin_client.get(SUPPRESSIONS, {"workspace": "acme", "q": "+1415"})) == [ours]
    assert set(listed(admin_client.get(SUPPRESSIONS, {"q": "+14155550123"}))) == {ours, theirs}
    assert listed(admin_client.get(SUPPRESSIONS, {"q": "do not call"})) == []


# --- who may come in -----------------------------------------------------------------------


@pytest.mark.parametrize("path", [CAMPAIGNS, CONTACTS, SUPPRESSIONS])
def test_people_who_are_not_staff_are_sent_to_sign_in(client, signed_in, owner, path):
    for visitor in (client, signed_in(owner)):
        response = visitor.get(path)

        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
