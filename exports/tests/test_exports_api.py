"""The exports REST API (docs/reference/rest.md#exports): requesting, listing,
reading, canceling; bad filters and the per-workspace bound refused at once."""

import pytest
from django.test import override_settings

from exports.models import DataExport
from project.testing import emitted

pytestmark = pytest.mark.django_db


def _request(client, **body):
    return client.post("/api/v1/exports", {"kind": "calls", "format": "csv", **body})


def test_request_is_202_with_a_queued_export_and_its_event(write_key, workspace, export_dir):
    # when
    response = _request(write_key, filters={"status": "completed,failed", "agent": "helpdesk"})

    # then
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["kind"] == "calls" and body["format"] == "csv"
    assert body["filters"] == {"status": "completed,failed", "agent": "helpdesk"}
    assert body["progress"] == 0 and body["row_count"] == 0 and body["download_url"] is None
    assert set(body) == {"id", "kind", "format", "filters", "status", "progress", "row_count", "size_bytes",
                         "download_url", "expires_at", "error", "created_at", "completed_at"}
    assert emitted(workspace, "data-export-status") == [
        {"export_id": body["id"], "status": "queued", "progress": 0, "row_count": 0, "download_url": None,
         "error": None}]


@pytest.mark.parametrize(("kind", "filters", "code"), [
    ("calls", {"status": "ringing,bogus"}, "invalid_status"),
    ("calls", {"direction": "sideways"}, "invalid_direction"),
    ("calls", {"created_after": "yesterday"}, "invalid_filters"),
    ("calls", {"active": "maybe"}, "invalid_filters"),
    ("calls", {"colour": "red"}, "invalid_filters"),
    ("ledger", {"kind": "gift"}, "invalid_kind"),
    ("call-events", {"call_id": "00000000-0000-0000-0000-000000000000"}, "unknown_call"),
])
def test_a_bad_filter_is_a_400_and_creates_nothing(write_key, workspace, kind, filters, code):
    # when
    response = _request(write_key, kind=kind, filters=filters)

    # then
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert not DataExport.objects.exists()
    assert emitted(workspace, "data-export-status") == []


@pytest.mark.parametrize(("kind", "filters"), [
    ("calls", {"agent": "a" * 20_000}),
    ("calls", {"campaign_id": "c" * 20_000}),
    ("calls", {"status": ",".join(["completed"] * 5_000)}),
    ("call-events", {"call_id": "0" * 20_000}),
    ("ledger", {"call_id": "0" * 20_000}),
])
def test_filters_longer_than_their_bound_are_a_400_and_create_nothing(write_key, workspace, kind, filters):
    # when a filter value far past any real one is sent (it would be stored and shown with the export)
    response = _request(write_key, kind=kind, filters=filters)

    # then
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_filters"
    assert response.json()["error"]["details"]["field"] == next(iter(filters))
    assert not DataExport.objects.exists()


@pytest.mark.parametrize("body", [{"kind": "people"}, {"kind": "calls", "format": "xlsx"},
                                  {"kind": "calls", "filters": []}, {"kind": "calls", "extra": 1}])
def test_a_bad_kind_format_or_body_is_a_400(write_key, body):
    response = write_key.post("/api/v1/exports", body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert not DataExport.objects.exists()


@override_settings(EXPORTS_MAX_ACTIVE_PER_WORKSPACE=2)
def test_a_workspace_has_at_most_the_bound_of_exports_queued_or_running(write_key, outsider_key):
    # given two queued exports
    assert _request(write_key).status_code == 202
    assert _request(write_key).status_code == 202

    # when a third is asked for
    response = _request(write_key)

    # then it is refused, and another workspace is not held back
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_exports"
    assert response.json()["error"]["details"] == {"limit": 2, "active": 2}
    assert response["Retry-After"]
    assert _request(outsider_key).status_code == 202
    # and a canceled one frees its place
    first = DataExport.objects.filter(workspace=write_key.api_key.workspace).first()
    assert write_key.post(f"/api/v1/exports/{first.pk}/cancel").status_code == 200
    assert _request(write_key).status_code == 202


def test_list_is_paginated_newest_first_and_filters_by_status(write_key):
    ids = [_request(write_key).json()["id"] for _ in range(3)]
    write_key.post(f"/api/v1/exports/{ids[0]}/cancel")

    page = write_key.get("/api/v1/exports", {"page_size": 2}).json()
    assert [item["id"] for item in page["results"]] == ids[:0:-1]
    assert page["total_count"] == 3 and page["next_page_token"]
    rest = write_key.get("/api/v1/exports", {"page_size": 2, "page_token": page["next_page_token"]}).json()
    assert [item["id"] for item in rest["results"]] == [ids[0]]

    canceled = write_key.get("/api/v1/exports", {"status": "canceled"}).json()
    assert [item["id"] for item in canceled["results"]] == [ids[0]]
    assert write_key.get("/api/v1/exports", {"status": "lost"}).status_code == 400


def test_detail_shows_the_export(write_key):
    export_id = _request(write_key).json()["id"]

    response = write_key.get(f"/api/v1/exports/{export_id}")

    assert response.status_code == 200
    assert response.json()["id"] == export_id


def test_cancel_a_queued_export_emits_canceled_and_a_second_cancel_is_409(write_key, workspace):
    export_id = _request(write_key).json()["id"]

    response = write_key.post(f"/api/v1/exports/{export_id}/cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert [event["status"] for event in emitted(workspace, "data-export-status")] == ["queued", "canceled"]
    again = write_key.post(f"/api/v1/exports/{export_id}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "export_not_cancelable"


def test_a_viewer_key_reads_but_cannot_request(read_key):
    assert _request(read_key).status_code == 403
    assert read_key.get("/api/v1/exports").status_code == 200


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("post", "/cancel"), ("get", "/download")])
def test_another_workspaces_export_is_404_on_every_endpoint(write_key, outsider_key, method, suffix):
    # given an export of acme
    export_id = _request(write_key).json()["id"]

    # when globex asks for it
    response = getattr(outsider_key, method)(f"/api/v1/exports/{export_id}{suffix}")

    # then it does not exist for them, and nothing changed
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert DataExport.objects.get(pk=export_id).status == "queued"
    assert outsider_key.get("/api/v1/exports").json()["total_count"] == 0


def test_an_unknown_export_is_404(read_key):
    assert read_key.get("/api/v1/exports/not-a-uuid").status_code == 404
    assert read_key.get("/api/v1/exports/00000000-0000-0000-0000-000000000000").status_code == 404


def test_download_before_completion_is_409(write_key):
    export_id = _request(write_key).json()["id"]

    response = write_key.get(f"/api/v1/exports/{export_id}/download")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "export_not_ready"
