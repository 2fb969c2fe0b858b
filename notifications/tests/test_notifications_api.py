"""Notifications over REST (docs/reference/rest.md#notifications): the list (newest
first, `unread`, paginated), the unread count, marking one or all read; read state is
each reader's own (a user, or an API key); another workspace's notifications are not
found and never listed."""

import pytest

from notifications.models import NotificationRead
from notifications.tests.helpers import exports_completed

pytestmark = pytest.mark.django_db
URL = "/api/v1/notifications"
FIELDS = {"id", "kind", "severity", "title", "body", "subject", "read", "created_at"}


@pytest.fixture
def as_owner(owner, signed_in):
    return signed_in(owner, enforce_csrf=False)


@pytest.fixture
def as_teammate(teammate, signed_in):
    return signed_in(teammate, enforce_csrf=False)


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def unread(client) -> int:
    response = client.get(f"{URL}/unread-count")
    assert response.status_code == 200
    return response.json()["unread"]


def test_the_list_is_the_workspace_s_notifications_newest_first(workspace, as_owner):
    first, second = exports_completed(workspace, 2)

    response = as_owner.get(URL)

    assert ids(response) == [str(second.pk), str(first.pk)]
    body = response.json()
    assert (body["total_count"], body["next_page_token"]) == (2, "")
    item = body["results"][0]
    assert set(item) == FIELDS
    assert (item["kind"], item["severity"], item["read"]) == ("export-ready", "info", False)
    assert item["subject"]["type"] == "export"


def test_the_list_pages_like_every_list(workspace, as_owner):
    notifications = exports_completed(workspace, 3)

    first = as_owner.get(URL, {"page_size": 2})
    second = as_owner.get(URL, {"page_size": 2, "page_token": first.json()["next_page_token"]})

    assert ids(first) + ids(second) == [str(n.pk) for n in reversed(notifications)]
    assert second.json()["next_page_token"] == ""


def test_marking_one_read_changes_the_count_the_filter_and_its_read_flag(workspace, as_owner):
    first, second = exports_completed(workspace, 2)
    assert unread(as_owner) == 2

    response = as_owner.post(f"{URL}/{first.pk}/read")
    again = as_owner.post(f"{URL}/{first.pk}/read")

    assert response.status_code == again.status_code == 200
    assert response.json()["read"] is True and response.json()["id"] == str(first.pk)
    assert unread(as_owner) == 1
    assert ids(as_owner.get(URL, {"unread": "true"})) == [str(second.pk)]
    assert ids(as_owner.get(URL, {"unread": "false"})) == [str(first.pk)]
    assert as_owner.get(f"{URL}/{first.pk}").json()["read"] is True
    assert NotificationRead.objects.count() == 1


def test_read_all_marks_every_one_for_the_caller(workspace, as_owner):
    exports_completed(workspace, 3)
    as_owner.post(f"{URL}/{exports_completed(workspace)[0].pk}/read")

    response = as_owner.post(f"{URL}/read-all")

    assert response.status_code == 200
    assert response.json() == {"marked": 3, "unread": 0}
    assert unread(as_owner) == 0
    assert as_owner.post(f"{URL}/read-all").json() == {"marked": 0, "unread": 0}


def test_read_state_is_each_user_s_own(workspace, as_owner, as_teammate):
    [notification] = exports_completed(workspace)

    as_owner.post(f"{URL}/{notification.pk}/read")

    assert unread(as_owner) == 0
    assert unread(as_teammate) == 1
    assert as_teammate.get(URL).json()["results"][0]["read"] is False


def test_a_viewer_reads_and_marks_its_own(workspace, viewer, signed_in):
    [notification] = exports_completed(workspace)
    client = signed_in(viewer, enforce_csrf=False)

    assert client.post(f"{URL}/{notification.pk}/read").status_code == 200
    assert unread(client) == 0


def test_an_api_key_is_a_reader_of_its_own(workspace, read_key, write_key, as_owner):
    # given two notifications
    first, second = exports_completed(workspace, 2)

    # when a read key marks one, and a write key marks all
    assert read_key.post(f"{URL}/{first.pk}/read").status_code == 200
    assert write_key.post(f"{URL}/read-all").json()["marked"] == 2

    # then each key and the user keep their own state
    assert unread(read_key) == 1
    assert unread(write_key) == 0
    assert unread(as_owner) == 2
    assert ids(read_key.get(URL, {"unread": "true"})) == [str(second.pk)]


def test_a_runtime_key_sees_no_notifications(workspace, runtime_key):
    [notification] = exports_completed(workspace)

    assert runtime_key.get(URL).status_code == 403
    assert runtime_key.post(f"{URL}/{notification.pk}/read").status_code == 403


def test_another_workspace_s_notification_is_not_found_and_never_listed(
    workspace, other_workspace, outsider_key, as_owner
):
    # given a notification in acme and one in globex
    [ours] = exports_completed(workspace)
    [theirs] = exports_completed(other_workspace)

    # then each side sees only its own; the other's id is 404 for reading and marking
    assert ids(outsider_key.get(URL)) == [str(theirs.pk)]
    assert ids(as_owner.get(URL)) == [str(ours.pk)]
    for path in (f"{URL}/{ours.pk}", f"{URL}/{ours.pk}/read"):
        response = outsider_key.post(path) if path.endswith("/read") else outsider_key.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert outsider_key.post(f"{URL}/read-all").json()["marked"] == 1
    assert unread(as_owner) == 1
    assert not NotificationRead.objects.filter(notification=ours).exists()


@pytest.mark.parametrize("bad_id", ["nope", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_notification_is_404(workspace, as_owner, bad_id):
    assert as_owner.post(f"{URL}/{bad_id}/read").status_code == 404
    assert as_owner.get(f"{URL}/{bad_id}").status_code == 404


def test_a_bad_filter_is_a_400(workspace, as_owner):
    response = as_owner.get(URL, {"unread": "perhaps"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_marking_read_from_a_session_needs_the_csrf_token(workspace, owner, signed_in):
    [notification] = exports_completed(workspace)
    client = signed_in(owner)

    response = client.post(f"{URL}/{notification.pk}/read")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert not NotificationRead.objects.exists()


def test_without_credentials_it_is_401(client):
    assert client.get(URL).status_code == 401
