"""The workspace's suppression list (docs/reference/rest.md#suppression-list,
docs/campaigns.md "The suppression list"): numbers normalised to E.164, adding is
idempotent, a number added skips the contacts still waiting to dial it, removal,
the list, and who may do what."""

import pytest

from campaigns.models import Contact, Suppression
from campaigns.tests.upload_helpers import make_campaign, post_csv
from project.testing import emitted

pytestmark = pytest.mark.django_db

PATH = "/api/v1/suppressions"
ADA, BOB = "+14155550123", "+14155550124"


def delete(keyed, number: str):
    return keyed.client.delete(f"{PATH}/{number}", HTTP_AUTHORIZATION=f"Bearer {keyed.key}")


def test_adding_a_number_stores_it_in_e164_and_answers_201(write_key, workspace):
    # when
    response = write_key.post(PATH, {"phone_number": "+1 (415) 555-0123", "reason": "asked not to be called"})

    # then
    assert response.status_code == 201
    body = response.json()
    assert body["phone_number"] == ADA and body["reason"] == "asked not to be called" and body["created_at"]
    assert Suppression.objects.get().workspace == workspace


def test_adding_a_number_again_is_200_with_the_entry_unchanged(write_key):
    first = write_key.post(PATH, {"phone_number": ADA, "reason": "first"})

    again = write_key.post(PATH, {"phone_number": "+1 415 555 0123", "reason": "second"})

    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()
    assert Suppression.objects.count() == 1


@pytest.mark.parametrize("number", ["4155550123", "+1555", "call me", ""])
def test_a_number_that_is_not_e164_is_400(write_key, number):
    response = write_key.post(PATH, {"phone_number": number})

    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_phone_number"
    assert Suppression.objects.count() == 0


def test_a_reason_longer_than_200_characters_is_400(write_key):
    response = write_key.post(PATH, {"phone_number": ADA, "reason": "x" * 201})

    assert response.status_code == 400 and Suppression.objects.count() == 0


def test_adding_a_number_skips_the_contacts_still_waiting_to_dial_it(write_key, workspace, other_workspace):
    # given: Ada in several campaigns, at several stages; Bob elsewhere; Ada in another workspace too
    running, paused, draft = (make_campaign(workspace, status=status, name=status)
                              for status in ("running", "paused", "draft"))
    done = make_campaign(workspace, status="completed", name="done")
    foreign = make_campaign(other_workspace)
    for campaign in (running, paused, draft, done, foreign):
        Contact.objects.create(workspace=campaign.workspace, campaign=campaign, phone_number=ADA)
    Contact.objects.create(workspace=workspace, campaign=running, phone_number=BOB)
    Contact.objects.filter(campaign=paused).update(status="retry-wait", attempts=1, outcome="busy")
    Contact.objects.filter(campaign=draft).update(status="in-progress", attempts=1)

    # when
    response = write_key.post(PATH, {"phone_number": ADA})

    # then: pending and retry-wait are skipped; a call under way, a finished campaign, Bob
    # and the other workspace are not
    assert response.status_code == 201
    state = {(contact.campaign.name, contact.phone_number): (contact.status, contact.outcome)
             for contact in Contact.objects.select_related("campaign")}
    assert state[("running", ADA)] == ("skipped", "suppressed")
    assert state[("paused", ADA)] == ("skipped", "suppressed")
    assert state[("draft", ADA)] == ("in-progress", None)
    assert state[("done", ADA)] == ("pending", None)
    assert state[("running", BOB)] == ("pending", None)
    assert state[("Renewals", ADA)] == ("pending", None)
    # and the campaigns whose counts changed owe a progress event
    due = {campaign.name for campaign in (running, paused, draft, done, foreign)
           if type(campaign).objects.get(pk=campaign.pk).progress_due}
    assert due == {"running", "paused"}


def test_a_suppressed_number_is_counted_at_upload_and_not_added(write_key, workspace):
    campaign = make_campaign(workspace)
    write_key.post(PATH, {"phone_number": ADA})

    response = post_csv(write_key, campaign, f"phone_number\n{ADA}\n{BOB}\n")

    assert response.json()["suppressed"] == 1 and response.json()["accepted"] == 1


def test_removing_a_number_takes_it_off_the_list_and_later_uploads_take_it(write_key, workspace):
    # given
    write_key.post(PATH, {"phone_number": ADA})

    # when: the + URL-encoded
    response = delete(write_key, "%2B14155550123")

    # then
    assert response.status_code == 204 and Suppression.objects.count() == 0
    campaign = make_campaign(workspace)
    assert post_csv(write_key, campaign, f"phone_number\n{ADA}\n").json()["accepted"] == 1


def test_removing_a_number_leaves_the_contacts_it_skipped_skipped(write_key, workspace):
    campaign = make_campaign(workspace, status="running")
    Contact.objects.create(workspace=workspace, campaign=campaign, phone_number=ADA)
    write_key.post(PATH, {"phone_number": ADA})

    delete(write_key, "%2B14155550123")

    assert Contact.objects.get().status == "skipped"


def test_removing_a_number_not_on_the_list_is_404_and_a_bad_number_400(write_key):
    assert delete(write_key, "%2B14155550123").status_code == 404
    bad = delete(write_key, "12345")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_phone_number"


def test_the_list_pages_newest_first_and_shows_only_this_workspace(read_key, write_key, outsider_key):
    # given
    numbers = [f"+1415555{n:04d}" for n in range(120, 125)]
    for number in numbers:
        write_key.post(PATH, {"phone_number": number, "reason": number[-3:]})
    outsider_key.post(PATH, {"phone_number": ADA})

    # when
    first = read_key.get(PATH, {"page_size": 3}).json()
    second = read_key.get(PATH, {"page_size": 3, "page_token": first["next_page_token"]}).json()

    # then
    assert [item["phone_number"] for item in first["results"] + second["results"]] == numbers[::-1]
    assert first["total_count"] == 5 and second["next_page_token"] == ""
    assert set(first["results"][0]) == {"phone_number", "reason", "created_at"}


def test_another_workspace_cannot_remove_this_workspaces_entry(write_key, outsider_key):
    write_key.post(PATH, {"phone_number": ADA})

    assert delete(outsider_key, "%2B14155550123").status_code == 404
    assert Suppression.objects.count() == 1


@pytest.mark.parametrize(("persona", "code"), [("read_key", "insufficient_scope"),
                                               ("viewer", "insufficient_role")])
def test_readers_see_the_list_but_cannot_change_it(request, signed_in, write_key, persona, code):
    # given
    write_key.post(PATH, {"phone_number": ADA})
    if persona == "viewer":
        client = signed_in(request.getfixturevalue("viewer"))
        client.get("/accounts/login/")
        client.defaults["HTTP_X_CSRFTOKEN"] = client.cookies["csrftoken"].value
        add = client.post(PATH, {"phone_number": BOB}, content_type="application/json")
        remove = client.delete(f"{PATH}/%2B14155550123")
        listed = client.get(PATH)
    else:
        keyed = request.getfixturevalue(persona)
        add, remove, listed = keyed.post(PATH, {"phone_number": BOB}), delete(keyed, "%2B14155550123"), \
            keyed.get(PATH)

    # then
    assert listed.status_code == 200 and listed.json()["total_count"] == 1
    for refused in (add, remove):
        assert refused.status_code == 403 and refused.json()["error"]["code"] == code
    assert list(Suppression.objects.values_list("phone_number", flat=True)) == [ADA]


def test_a_running_campaign_left_with_nothing_to_dial_completes(write_key, workspace):
    # given: a running campaign whose only number still waiting is Ada's; Bob was called
    campaign = make_campaign(workspace, status="running")
    Contact.objects.create(workspace=workspace, campaign=campaign, phone_number=ADA)
    Contact.objects.create(workspace=workspace, campaign=campaign, phone_number=BOB, status="completed",
                           outcome="completed", attempts=1)

    # when
    write_key.post(PATH, {"phone_number": ADA})

    # then
    campaign.refresh_from_db()
    assert campaign.status == "completed" and campaign.completed_at is not None
    changes = emitted(workspace, "campaign-status-changed")
    assert [(data["previous_status"], data["status"]) for data in changes] == [("running", "completed")]


def test_a_paused_campaign_left_with_nothing_to_dial_stays_paused(write_key, workspace):
    campaign = make_campaign(workspace, status="paused")
    Contact.objects.create(workspace=workspace, campaign=campaign, phone_number=ADA)

    write_key.post(PATH, {"phone_number": ADA})

    campaign.refresh_from_db()
    assert campaign.status == "paused" and campaign.progress_due is True


@pytest.mark.parametrize("source, target", [
    ("/api/v1/campaigns", PATH),
    (PATH, "/api/v1/campaigns"),
])
def test_a_page_token_of_another_list_is_400_not_500(write_key, workspace, source, target):
    """Given a genuine page token of one list (campaigns: uuid ids; suppressions:
    integer ids), when it is sent to the other list, then it is refused as a bad
    token: it signs a position in another table."""
    for index in range(2):
        write_key.post(PATH, {"phone_number": f"+1415555012{index}"})
        write_key.post("/api/v1/campaigns", {"name": f"Campaign {index}"})
    token = write_key.get(source, {"page_size": 1}).json()["next_page_token"]
    assert token

    response = write_key.get(target, {"page_size": 1, "page_token": token})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_page_token"


def test_an_unknown_field_is_400_and_adds_nothing(write_key):
    """A misspelt `reason` is refused, not silently dropped (as for campaigns)."""
    response = write_key.post(PATH, {"phone_number": ADA, "reasn": "asked not to be called"})

    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"][0]["field"] == "reasn"
    assert Suppression.objects.count() == 0
