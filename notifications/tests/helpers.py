"""Shared by the notification tests: notifications raised the way a user gets them,
by exports that the exports' runner writes, for tests about reading them."""

import tempfile

from django.conf import settings
from django.test import override_settings

from exports import runner as export_runner
from exports import services as export_services
from notifications.models import Notification
from realtime import reactions


def exports_completed(workspace, count: int = 1) -> list[Notification]:
    """`count` export-ready notifications (empty exports, written for real), oldest first."""
    storage = "django.core.files.storage.FileSystemStorage"
    with tempfile.TemporaryDirectory() as directory, override_settings(STORAGES={
        **settings.STORAGES, "exports": {"BACKEND": storage, "OPTIONS": {"location": directory}},
    }):
        for _ in range(count):
            export = export_services.export_create(workspace=workspace, kind="ledger", format="csv",
                                                   filters={})
            assert export_runner.export_run(str(export.pk)) == "completed"
    reactions.run(workspace.pk)
    return list(Notification.objects.filter(workspace=workspace).order_by("created_at", "id"))
