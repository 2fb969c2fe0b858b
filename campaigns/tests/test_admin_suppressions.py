"""Staff add and remove suppressed numbers in the admin (docs/operations.md
"Admin") through the suppression services: a number added skips the contacts
still waiting to dial it; what the service refuses shows on the form."""

import pytest

from calls.models import Agent
from campaigns.models import Campaign, Contact, Suppression

pytestmark = pytest.mark.django_db

SUPPRESSIONS = "/admin/campaigns/suppression/"


def waiting_contact(workspace, number: str) -> Contact:
    agent = Agent.objects.get(workspace=workspace, is_default=True)
    running = Campaign.objects.create(workspace=workspace, name="Spring", agent=agent,
                                      from_number="+14155550100", status="running")
    return Contact.objects.create(workspace=workspace, campaign=running, phone_number=number)


def test_a_number_added_by_staff_is_normalised_and_skips_its_waiting_contacts(admin_client, workspace):
    # given a contact waiting to be dialed
    contact = waiting_contact(workspace, "+14155550123")

    # when staff add its number, typed as people write it
    response = admin_client.post(f"{SUPPRESSIONS}add/", {
        "workspace": str(workspace.pk), "phone_number": "+1 415 555 0123", "reason": "asked by phone"})

    # then the list has it in E.164, and the contact will not be called
    assert response.status_code == 302
    entry = Suppression.objects.get(workspace=workspace)
    assert (entry.phone_number, entry.reason) == ("+14155550123", "asked by phone")
    contact.refresh_from_db()
    assert (contact.status, contact.outcome) == ("skipped", "suppressed")


def test_a_number_the_service_refuses_is_shown_on_the_form_and_nothing_is_added(admin_client, workspace):
    form = {"workspace": str(workspace.pk), "phone_number": "12"}

    response = admin_client.post(f"{SUPPRESSIONS}add/", form)

    assert response.status_code == 200
    assert "phone_number must be a valid phone number in E.164 form" in response.content.decode()
    assert not Suppression.objects.exists()


def test_staff_remove_a_number_on_its_page(admin_client, workspace):
    entry = Suppression.objects.create(workspace=workspace, phone_number="+14155550123")

    response = admin_client.post(f"{SUPPRESSIONS}{entry.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302 and not Suppression.objects.exists()


def test_staff_remove_selected_numbers_through_the_service_not_a_bulk_delete(
        admin_client, workspace, other_workspace):
    ours = Suppression.objects.create(workspace=workspace, phone_number="+14155550123")
    theirs = Suppression.objects.create(workspace=other_workspace, phone_number="+14155550123")
    kept = Suppression.objects.create(workspace=workspace, phone_number="+442071838750")

    page = admin_client.get(SUPPRESSIONS)
    response = admin_client.post(
        SUPPRESSIONS, {"action": "remove", "_selected_action": [ours.pk, theirs.pk], "index": 0}, follow=True)

    assert 'value="delete_selected"' not in page.content.decode()
    assert "Removed 2 number(s)." in response.content.decode()
    assert list(Suppression.objects.all()) == [kept]


def test_a_suppressed_number_is_never_edited(admin_client, workspace):
    entry = Suppression.objects.create(workspace=workspace, phone_number="+14155550123", reason="asked")

    response = admin_client.post(f"{SUPPRESSIONS}{entry.pk}/change/", {"reason": "changed"})

    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.reason == "asked"


def test_a_number_removed_by_someone_else_a_moment_before_is_no_error(workspace):
    # given staff opened a number's delete page, and it was removed over the API meanwhile
    from django.contrib import admin

    from campaigns.contacts import suppression_remove

    entry = Suppression.objects.create(workspace=workspace, phone_number="+14155550123")
    suppression_remove(workspace=workspace, phone_number=entry.phone_number)

    # when the admin deletes the entry it had loaded, then nothing fails and nothing is left
    admin.site._registry[Suppression].delete_model(None, entry)
    assert not Suppression.objects.exists()
