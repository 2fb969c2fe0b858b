"""How long notifications are kept (docs/notifications.md "How long they are kept"):
a workspace keeps its newest NOTIFICATIONS_MAX_PER_WORKSPACE, trimmed as new ones are
written, and none older than NOTIFICATIONS_RETENTION_DAYS, trimmed by the beat."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Notification, NotificationRead
from notifications.services import Reader, notification_mark_read
from notifications.tasks import trim_notifications
from notifications.tests.helpers import exports_completed

pytestmark = pytest.mark.django_db


def test_a_workspace_keeps_its_newest_notifications_up_to_the_limit(
    workspace, other_workspace, settings, owner
):
    # given a limit of 3, and the oldest notification read
    settings.NOTIFICATIONS_MAX_PER_WORKSPACE = 3
    [oldest] = exports_completed(workspace, 1)
    notification_mark_read(workspace=workspace, reader=Reader(user_id=owner.pk), notification_id=oldest.pk)
    exports_completed(other_workspace, 2)

    # when four more are raised
    kept = exports_completed(workspace, 4)

    # then the newest three are kept, the oldest went with its read, and the other workspace is untouched
    assert len(kept) == 3 and oldest.pk not in {n.pk for n in kept}
    assert not NotificationRead.objects.exists()
    assert Notification.objects.filter(workspace=other_workspace).count() == 2


def test_the_beat_trims_notifications_past_the_retention(workspace, settings):
    settings.NOTIFICATIONS_RETENTION_DAYS = 30
    old, recent = exports_completed(workspace, 2)
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))

    assert trim_notifications() == 1
    assert list(Notification.objects.values_list("pk", flat=True)) == [recent.pk]
