"""Email of notifications (docs/notifications.md "Email"): the kinds listed in
NOTIFICATIONS_EMAIL_KINDS go to the workspace's owners and admins, one message each,
through Django's email backend (locmem here), after the reaction's commit;
NOTIFICATIONS_EMAIL_ENABLED turns it off; a mail server that fails loses no
notification and holds up no reaction."""

import smtplib
import uuid
from decimal import Decimal

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from billing import services as billing
from notifications.models import Notification
from realtime.emit import emit
from realtime.models import Event, ReactionCursor

pytestmark = pytest.mark.django_db


class RefusingBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("connection refused")


@pytest.fixture
def team(owner, workspace_admin, teammate, viewer):
    for user in (owner, workspace_admin, teammate, viewer):
        user.email = f"{user.username}@acme.example"
        user.save(update_fields=["email"])
    return {"owner": owner, "admin": workspace_admin, "teammate": teammate, "viewer": viewer}


def credit_falls_low(workspace, react) -> None:
    billing.adjust(workspace=workspace, amount=Decimal("-96"), reason="test: spent", actor="staff:test")
    react(workspace)


def export_completes(workspace, react) -> None:
    emit(workspace, "data-export-status", {"export_id": str(uuid.uuid4()), "status": "completed",
                                           "progress": 100.0, "row_count": 10})
    react(workspace)


def test_a_kind_listed_is_emailed_to_each_owner_and_admin(workspace, team, eager_tasks, react):
    credit_falls_low(workspace, react)

    assert sorted(message.to[0] for message in mail.outbox) == ["adam-admin@acme.example",
                                                                "olivia-owner@acme.example"]
    message = mail.outbox[0]
    assert all(len(sent.to) == 1 for sent in mail.outbox)  # nobody sees the others' addresses
    assert message.subject == "[Acme] Credit is low"
    assert message.body.startswith(Notification.objects.get().body)


def test_a_kind_not_listed_is_not_emailed(workspace, team, eager_tasks, react):
    # export-ready is not in the default list
    export_completes(workspace, react)
    credit_falls_low(workspace, react)

    assert {message.subject for message in mail.outbox} == {"[Acme] Credit is low"}


def test_the_list_of_kinds_is_a_setting(workspace, team, eager_tasks, react, settings):
    settings.NOTIFICATIONS_EMAIL_KINDS = ["export-ready"]

    credit_falls_low(workspace, react)
    export_completes(workspace, react)

    assert Notification.objects.count() == 2
    assert {message.subject for message in mail.outbox} == {"[Acme] Export ready"}


def test_email_can_be_turned_off(workspace, team, eager_tasks, react, settings):
    settings.NOTIFICATIONS_EMAIL_ENABLED = False

    credit_falls_low(workspace, react)

    assert Notification.objects.count() == 1
    assert mail.outbox == []


def test_a_mail_server_that_fails_loses_no_notification(workspace, team, eager_tasks, react, settings):
    # given a mail server that refuses every message
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"

    # when the credit falls low
    credit_falls_low(workspace, react)

    # then the notification and its event are committed, and the reaction moved on
    assert Notification.objects.filter(kind="low-balance").count() == 1
    assert Event.objects.filter(workspace=workspace, type="notification").count() == 1
    cursor = ReactionCursor.objects.get(workspace=workspace, reaction="notifications")
    assert cursor.last_seq == Event.objects.filter(workspace=workspace).order_by("-seq").first().seq
    assert mail.outbox == []


def test_an_unknown_kind_in_the_setting_fails_the_system_check(settings):
    from notifications.checks import check_email_kinds

    settings.NOTIFICATIONS_EMAIL_KINDS = ["low-balance", "lowbalance"]

    [error] = check_email_kinds()
    assert error.id == "notifications.E001" and "lowbalance" in error.msg
