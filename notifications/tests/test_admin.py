"""Staff see notifications in the admin, read-only (docs/operations.md "Admin")."""

import pytest

from notifications.tests.helpers import exports_completed

pytestmark = pytest.mark.django_db

NOTIFICATIONS = "/admin/notifications/notification/"


def test_staff_see_notifications_and_their_subject(admin_client, workspace):
    [notification] = exports_completed(workspace)

    listed = admin_client.get(NOTIFICATIONS).content.decode()
    page = admin_client.get(f"{NOTIFICATIONS}{notification.pk}/change/").content.decode()
    found = admin_client.get(NOTIFICATIONS, {"q": str(notification.pk)}).content.decode()

    assert "Export ready" in listed and f"export {notification.subject_id[:8]}" in listed
    assert notification.body in page
    assert "Export ready" in found


def test_staff_cannot_add_edit_or_delete_a_notification(admin_client, workspace):
    [notification] = exports_completed(workspace)

    assert admin_client.get(f"{NOTIFICATIONS}add/").status_code == 403
    assert admin_client.post(f"{NOTIFICATIONS}{notification.pk}/delete/", {"post": "yes"}).status_code == 403
    response = admin_client.post(f"{NOTIFICATIONS}{notification.pk}/change/", {"title": "Changed"})
    assert response.status_code == 403
    notification.refresh_from_db()
    assert notification.title == "Export ready"
