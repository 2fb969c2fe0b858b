"""Uploading a campaign's contacts (docs/reference/rest.md#contacts, docs/campaigns.md
"Contacts and uploads"): JSON, a CSV body or a multipart file; bad rows reported by
row number while the good ones are kept; duplicates and suppressed numbers counted;
a file that cannot be read whole refused with a 400 that names the problem, and
nothing written; who may upload, and to which campaign."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.models import Contact, Suppression
from campaigns.tests.upload_helpers import contacts_path, make_campaign, numbers_of, post_csv
from campaigns.uploads import MAX_COLUMNS, MAX_LINE_CHARS, MAX_ROWS

pytestmark = pytest.mark.django_db

ADA, BOB, CY = "+14155550123", "+14155550124", "+442071838750"


def numbered(count: int, start: int = 2_000_000) -> list[str]:
    """`count` distinct valid San Francisco numbers."""
    return [f"+1415{n:07d}" for n in range(start, start + count)]


@pytest.fixture
def campaign(workspace):
    return make_campaign(workspace)


def test_a_json_upload_adds_pending_contacts_with_their_variables_and_zones(write_key, campaign):
    # when
    response = write_key.post(contacts_path(campaign), {"contacts": [
        {"phone_number": ADA, "variables": {"first_name": "Ada", "plan": {"tier": "gold"}}},
        {"phone_number": CY},
    ]})

    # then
    assert response.status_code == 200
    assert response.json() == {"accepted": 2, "duplicates": 0, "suppressed": 0, "errors": [],
                               "error_count": 0}
    ada, cy = Contact.objects.get(phone_number=ADA), Contact.objects.get(phone_number=CY)
    assert ada.campaign_id == campaign.pk and ada.status == "pending" and ada.attempts == 0
    assert ada.variables == {"first_name": "Ada", "plan": {"tier": "gold"}} and cy.variables == {}
    assert (ada.timezone, cy.timezone) == ("America/Los_Angeles", "Europe/London")
    campaign.refresh_from_db()
    assert campaign.progress_due is True


def test_a_csv_body_takes_its_columns_as_string_variables_and_an_empty_cell_as_none(write_key, campaign):
    # given: a spreadsheet's export, numbers written with spaces, a blank line and a row of empty cells
    text = ("phone_number,first_name,balance\r\n"
            "+1 415 555 0123,Ada,12.50\r\n"
            "\r\n"
            "+1 (415) 555-0124,,0\r\n"
            ",,\r\n")

    # when
    response = post_csv(write_key, campaign, text)

    # then
    assert response.status_code == 200
    assert response.json()["accepted"] == 2 and response.json()["error_count"] == 0
    assert Contact.objects.get(phone_number=ADA).variables == {"first_name": "Ada", "balance": "12.50"}
    assert Contact.objects.get(phone_number=BOB).variables == {"balance": "0"}


def test_a_csv_with_a_byte_order_mark_reads_its_header(write_key, campaign):
    response = post_csv(write_key, campaign, "\ufeffphone_number,name\n+14155550123,Ada\n".encode())

    assert response.status_code == 200 and response.json()["accepted"] == 1
    assert Contact.objects.get().variables == {"name": "Ada"}


def test_a_member_uploads_a_csv_file_in_the_multipart_field_file(signed_in, teammate, campaign):
    # given: a signed-in browser with its CSRF token, as the dashboard sends it
    client = signed_in(teammate)
    client.get("/accounts/login/")
    upload = SimpleUploadedFile("list.csv", b"phone_number,name\n+14155550123,Ada\n+14155550124,Bob\n",
                                content_type="text/csv")

    # when
    response = client.post(contacts_path(campaign), {"file": upload},
                           HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)

    # then
    assert response.status_code == 200 and response.json()["accepted"] == 2
    assert numbers_of(campaign) == {ADA, BOB}


def test_a_multipart_upload_without_a_file_is_400_file_required(write_key, campaign):
    response = write_key.client.post(contacts_path(campaign), {"other": "x"},
                                     HTTP_AUTHORIZATION=f"Bearer {write_key.key}")

    assert response.status_code == 400 and response.json()["error"]["code"] == "file_required"


def test_bad_rows_are_reported_by_row_number_and_the_good_rows_are_kept(write_key, campaign):
    # given
    text = ("phone_number,name\n"
            "+14155550123,Ada\n"      # row 1
            "4155550124,no plus\n"    # row 2: no country code
            "+1555,too short\n"       # row 3
            ",missing\n"              # row 4
            "+442071838750,Cy\n"      # row 5
            "+14155550125,a\x00b\n")  # row 6: text PostgreSQL cannot store

    # when
    response = post_csv(write_key, campaign, text)

    # then
    body = response.json()
    assert response.status_code == 200
    assert body["accepted"] == 2 and body["error_count"] == 4
    assert [(error["row"], error["code"], error["phone_number"]) for error in body["errors"]] == [
        (2, "invalid_phone_number", "4155550124"),
        (3, "invalid_phone_number", "+1555"),
        (4, "invalid_phone_number", ""),
        (6, "unstorable_text", "+14155550125"),
    ]
    assert all(error["message"] for error in body["errors"])
    assert numbers_of(campaign) == {ADA, CY}


def test_bad_json_contacts_are_reported_by_position_with_their_codes(write_key, campaign, settings):
    # given
    settings.CALLS_MAX_VARIABLES_BYTES = 100
    settings.CALLS_MAX_VARIABLES_DEPTH = 2
    contacts = [
        {"phone_number": ADA},                                       # 1
        "+14155550124",                                              # 2
        {"phone_number": BOB, "name": "Bob"},                        # 3
        {"phone_number": 14155550124},                               # 4
        {"phone_number": BOB, "variables": ["not", "an", "object"]},  # 5
        {"phone_number": BOB, "variables": {"note": "x" * 200}},     # 6
        {"phone_number": BOB, "variables": {"a": {"b": {"c": 1}}}},  # 7
        {"variables": {}},                                           # 8
    ]

    # when
    response = write_key.post(contacts_path(campaign), {"contacts": contacts})

    # then
    assert response.status_code == 200
    assert [(error["row"], error["code"]) for error in response.json()["errors"]] == [
        (2, "invalid_contact"), (3, "invalid_contact"), (4, "invalid_phone_number"),
        (5, "invalid_variables"), (6, "variables_too_large"), (7, "variables_too_deep"),
        (8, "invalid_phone_number"),
    ]
    assert numbers_of(campaign) == {ADA}


def test_nan_in_variables_is_a_row_error(write_key, campaign):
    body = '{"contacts": [{"phone_number": "+14155550123", "variables": {"score": NaN}}]}'

    response = write_key.client.post(contacts_path(campaign), body, content_type="application/json",
                                     HTTP_AUTHORIZATION=f"Bearer {write_key.key}")

    assert response.status_code == 200
    assert [error["code"] for error in response.json()["errors"]] == ["invalid_variables"]


def test_the_error_list_stops_at_1000_and_error_count_counts_every_bad_row(write_key, campaign):
    text = "phone_number\n" + "not a number\n" * 1_001 + "+14155550123\n"

    body = post_csv(write_key, campaign, text).json()

    assert body["accepted"] == 1 and body["error_count"] == 1_001 and len(body["errors"]) == 1_000
    assert body["errors"][-1]["row"] == 1_000


def test_numbers_the_campaign_has_and_repeats_within_the_file_are_duplicates(write_key, campaign):
    # given: Ada is in the campaign already
    post_csv(write_key, campaign, f"phone_number\n{ADA}\n")

    # when: Ada again, and Bob twice (once in another format)
    response = post_csv(write_key, campaign,
                        f"phone_number,name\n{ADA},x\n{BOB},first\n+1 415-555-0124,again\n")

    # then
    assert response.json() == {"accepted": 1, "duplicates": 2, "suppressed": 0, "errors": [],
                               "error_count": 0}
    assert Contact.objects.get(phone_number=BOB).variables == {"name": "first"}
    assert Contact.objects.count() == 2


def test_the_same_number_in_two_campaigns_is_two_contacts(write_key, workspace, campaign):
    other = make_campaign(workspace, name="Other")

    post_csv(write_key, campaign, f"phone_number\n{ADA}\n")
    response = post_csv(write_key, other, f"phone_number\n{ADA}\n")

    assert response.json()["accepted"] == 1 and numbers_of(other) == {ADA}


def test_suppressed_numbers_are_counted_and_not_added(write_key, workspace, other_workspace, campaign):
    # given: Bob is on this workspace's list; Ada only on another workspace's
    Suppression.objects.create(workspace=workspace, phone_number=BOB, reason="asked")
    Suppression.objects.create(workspace=other_workspace, phone_number=ADA)

    # when
    response = post_csv(write_key, campaign, f"phone_number\n{ADA}\n{BOB}\n+1 415 555 0124\n")

    # then
    assert response.json() == {"accepted": 1, "duplicates": 0, "suppressed": 2, "errors": [],
                               "error_count": 0}
    assert numbers_of(campaign) == {ADA}


def test_an_upload_of_nothing_but_bad_rows_leaves_progress_alone(write_key, campaign):
    response = post_csv(write_key, campaign, "phone_number\nnope\n")

    assert response.status_code == 200 and response.json()["accepted"] == 0
    campaign.refresh_from_db()
    assert campaign.progress_due is False


BAD_CSV = [
    pytest.param(b"\r\n\n", "csv_missing_phone_number", id="blank lines only"),
    pytest.param(b"number,name\n+14155550123,Ada\n", "csv_missing_phone_number", id="no phone_number column"),
    pytest.param("phone_number,name\n+14155550123,Zoë\n".encode("latin-1"), "invalid_encoding",
                 id="latin-1, not utf-8"),
    pytest.param("phone_number\n+14155550123\n".encode("utf-16"), "invalid_encoding", id="utf-16"),
    pytest.param(b"phone_number,name\n+14155550123,Ada\n+14155550124,Bob,extra\n", "csv_ragged_row",
                 id="more cells than the header"),
    pytest.param(b"phone_number,name,plan\n+14155550123,Ada\n", "csv_ragged_row",
                 id="fewer cells than the header"),
    pytest.param(("phone_number," + ",".join(f"c{n}" for n in range(MAX_COLUMNS)) + "\n").encode(),
                 "csv_too_many_columns", id="too many columns"),
    pytest.param(b"phone_number,name,name\n+14155550123,a,b\n", "csv_invalid_column", id="a column twice"),
    pytest.param(b"phone_number,,plan\n+14155550123,a,b\n", "csv_invalid_column", id="an empty column name"),
    pytest.param(b'phone_number,name\n+14155550123,"Ada\n', "invalid_csv", id="a quote that never closes"),
    pytest.param(b'phone_number,name\n+14155550123,"Ada"x\n', "invalid_csv", id="text after a closing quote"),
    pytest.param(b"phone_number,note\n+14155550123," + b"x" * MAX_LINE_CHARS + b"\n", "csv_line_too_long",
                 id="a line too long"),
    pytest.param(b'phone_number,note\n+14155550123,"' + b"x\n" * 70_000 + b'"\n', "csv_field_too_large",
                 id="a cell too large"),
]


@pytest.mark.parametrize(("body", "code"), BAD_CSV)
def test_a_csv_that_cannot_be_read_whole_is_400_naming_the_problem_and_adds_nothing(
        write_key, campaign, body, code):
    # given: good rows come first, so a refusal found later must undo nothing
    response = post_csv(write_key, campaign, body)

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert Contact.objects.count() == 0


def test_a_ragged_row_names_its_row_and_line(write_key, campaign):
    text = "phone_number,name\n" + "".join(f"{n},x\n" for n in numbered(2_500)) + "+14155550123,a,b\n"

    error = post_csv(write_key, campaign, text).json()["error"]

    assert error["details"] == {"row": 2_501, "line": 2_502, "cells": 3, "columns": 2}
    assert Contact.objects.count() == 0


@pytest.mark.parametrize(("body", "code"), [
    pytest.param(b"  \n", "invalid_json", id="whitespace only"),
    pytest.param(b'{"contacts": [{"phone_number": "+14155550123"}', "invalid_json", id="cut short"),
    pytest.param(b'{"contacts": [{"phone_number": "+14155550123"},]}', "invalid_json", id="trailing comma"),
    pytest.param(b'{"contacts": []} []', "invalid_json", id="text after the body"),
    pytest.param(b'{"contacts": [], "campaign": 1}', "invalid_json", id="another member after contacts"),
    pytest.param(b'{"people": []}', "validation_error", id="no contacts member"),
    pytest.param(b'[{"phone_number": "+14155550123"}]', "invalid_json", id="a list, not an object"),
    pytest.param(b'{"contacts": {"phone_number": "+14155550123"}}', "invalid_json", id="contacts not a list"),
    pytest.param(b'{"contacts": [{"phone_number": "+14155550123", "variables": {"note": "' + b"x" * 300_000
                 + b'"}}]}', "contact_too_large", id="a contact too large"),
    pytest.param('{"contacts": [{"phone_number": "+14155550123", "variables": {"n": "Zoë"}}]}'
                 .encode("latin-1"), "invalid_encoding", id="not utf-8"),
])
def test_a_json_body_that_cannot_be_read_whole_is_400_and_adds_nothing(write_key, campaign, body, code):
    response = write_key.client.post(contacts_path(campaign), body, content_type="application/json",
                                     HTTP_AUTHORIZATION=f"Bearer {write_key.key}")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert Contact.objects.count() == 0


def test_more_than_100000_rows_is_413_too_many_rows_and_adds_nothing(write_key, campaign):
    # given: every row good, one too many
    text = "phone_number\n" + "\n".join(numbered(MAX_ROWS + 1)) + "\n"

    # when
    response = post_csv(write_key, campaign, text)

    # then
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "too_many_rows" and error["details"] == {"max_rows": MAX_ROWS}
    assert Contact.objects.count() == 0


def test_json_with_more_than_100000_contacts_is_413_too(write_key, campaign):
    body = json.dumps({"contacts": [{"phone_number": ADA}] * (MAX_ROWS + 1)})

    response = write_key.client.post(contacts_path(campaign), body, content_type="application/json",
                                     HTTP_AUTHORIZATION=f"Bearer {write_key.key}")

    assert response.status_code == 413 and response.json()["error"]["code"] == "too_many_rows"
    assert Contact.objects.count() == 0


@pytest.mark.parametrize(("content_type", "status", "code"), [
    ("text/plain", 415, "unsupported_media_type"),
    ("application/xml", 415, "unsupported_media_type"),
    ("text/csv; charset=latin-1", 400, "invalid_encoding"),
])
def test_a_body_that_is_not_json_csv_or_utf8_is_refused(write_key, campaign, content_type, status, code):
    response = post_csv(write_key, campaign, f"phone_number\n{ADA}\n", content_type=content_type)

    assert response.status_code == status and response.json()["error"]["code"] == code
    assert Contact.objects.count() == 0


@pytest.mark.parametrize("status", ["draft", "scheduled", "running", "paused"])
def test_a_campaign_that_has_not_finished_takes_contacts(write_key, workspace, status):
    campaign = make_campaign(workspace, status=status)

    response = post_csv(write_key, campaign, f"phone_number\n{ADA}\n")

    assert response.status_code == 200 and numbers_of(campaign) == {ADA}


@pytest.mark.parametrize("status", ["completed", "canceled"])
def test_a_finished_campaign_is_409_campaign_finished(write_key, workspace, status):
    campaign = make_campaign(workspace, status=status)

    response = post_csv(write_key, campaign, f"phone_number\n{ADA}\n")

    assert response.status_code == 409
    assert response.json()["error"] == {"code": "campaign_finished", "details": {"status": status},
                                        "message": f"The campaign is {status}: it takes no more contacts."}
    assert Contact.objects.count() == 0


@pytest.mark.parametrize(("persona", "code"), [("read_key", "insufficient_scope"),
                                               ("viewer", "insufficient_role")])
def test_readers_cannot_upload(request, signed_in, campaign, persona, code):
    if persona == "viewer":
        client = signed_in(request.getfixturevalue("viewer"))
        client.get("/accounts/login/")
        response = client.post(contacts_path(campaign), f"phone_number\n{ADA}\n", content_type="text/csv",
                               HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    else:
        response = post_csv(request.getfixturevalue(persona), campaign, f"phone_number\n{ADA}\n")

    assert response.status_code == 403 and response.json()["error"]["code"] == code
    assert Contact.objects.count() == 0


def test_another_workspaces_campaign_is_404_for_upload_and_list(outsider_key, campaign):
    upload = post_csv(outsider_key, campaign, f"phone_number\n{ADA}\n")
    listing = outsider_key.get(contacts_path(campaign))

    assert upload.status_code == 404 and listing.status_code == 404
    assert upload.json()["error"]["code"] == "not_found"
    assert Contact.objects.count() == 0


@pytest.mark.parametrize("campaign_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid"])
def test_an_unknown_campaign_is_404(write_key, campaign_id):
    response = write_key.client.post(f"/api/v1/campaigns/{campaign_id}/contacts", f"phone_number\n{ADA}\n",
                                     content_type="text/csv", HTTP_AUTHORIZATION=f"Bearer {write_key.key}")

    assert response.status_code == 404


# --- the list ------------------------------------------------------------------------------------


def test_the_list_shows_each_contact_newest_first_and_pages_without_gaps(write_key, read_key, campaign):
    # given
    numbers = numbered(5)
    post_csv(write_key, campaign, "phone_number,n\n" + "".join(f"{number},{i}\n" for i, number in
                                                                enumerate(numbers)))

    # when
    first = read_key.get(contacts_path(campaign), {"page_size": 3}).json()
    second = read_key.get(contacts_path(campaign), {"page_size": 3,
                                                    "page_token": first["next_page_token"]}).json()

    # then: the file backwards
    seen = [item["phone_number"] for item in first["results"] + second["results"]]
    assert seen == numbers[::-1] and first["total_count"] == 5 and second["next_page_token"] == ""
    item = first["results"][0]
    assert set(item) == {"id", "phone_number", "variables", "status", "attempts", "last_call_id",
                         "next_attempt_at", "outcome"}
    assert item["variables"] == {"n": "4"} and item["status"] == "pending" and item["outcome"] is None


def test_the_list_filters_by_status(read_key, write_key, campaign):
    post_csv(write_key, campaign, f"phone_number\n{ADA}\n{BOB}\n{CY}\n")
    Contact.objects.filter(phone_number=BOB).update(status="completed", outcome="completed", attempts=1)
    Contact.objects.filter(phone_number=CY).update(status="failed", outcome="busy", attempts=3)

    done = read_key.get(contacts_path(campaign), {"status": "completed"}).json()
    ended = read_key.get(contacts_path(campaign), {"status": "completed,failed"}).json()
    wrong = read_key.get(contacts_path(campaign), {"status": "done"})

    assert [item["phone_number"] for item in done["results"]] == [BOB]
    assert done["results"][0]["attempts"] == 1 and done["results"][0]["outcome"] == "completed"
    assert {item["phone_number"] for item in ended["results"]} == {BOB, CY}
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "invalid_status"


def test_the_list_shows_only_that_campaigns_contacts(read_key, write_key, workspace, campaign):
    other = make_campaign(workspace, name="Other")
    post_csv(write_key, campaign, f"phone_number\n{ADA}\n")
    post_csv(write_key, other, f"phone_number\n{BOB}\n")

    listed = read_key.get(contacts_path(campaign)).json()

    assert [item["phone_number"] for item in listed["results"]] == [ADA] and listed["total_count"] == 1


def test_a_multipart_body_without_a_boundary_is_400_invalid_multipart(write_key, campaign):
    response = post_csv(write_key, campaign, '{"contacts": []}', content_type="multipart/form-data")

    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_multipart"


def test_a_byte_that_is_not_utf8_is_refused_naming_its_line(write_key, campaign):
    # given: 3,000 good lines (far past the decoder's first chunk), then a Latin-1 "ë"
    good = "".join(f"{number},x\n" for number in numbered(3_000)).encode()
    body = b"phone_number,name\n" + good + b"+14155550123,Zo\xeb\n"

    error = post_csv(write_key, campaign, body).json()["error"]

    assert error["code"] == "invalid_encoding" and error["details"] == {"line": 3_002}
    assert Contact.objects.count() == 0
