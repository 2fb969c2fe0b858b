"""The delivery log and replay (docs/webhooks.md "The delivery log"): a test event
through the same path, the log with its status filter, retry now, the retention
trim; and the retry schedule's computed times."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from webhooks import claims, services
from webhooks.attempt import retry_after_seconds
from webhooks.models import WebhookDelivery
from webhooks.outcomes import retry_delay
from webhooks.tasks import trim_deliveries
from webhooks.tests.helpers import commit_events, run_reactions, running_sender, wait_until
from webhooks.tests.receiver import Answer, running_receiver

SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000]


def test_the_retry_schedule_with_its_jitter_bounds(settings):
    rng = random.Random(7)
    for attempt, delay in enumerate(SCHEDULE, start=1):
        found = [retry_delay(attempt, rng=rng) for _ in range(200)]
        assert all(delay * 0.8 <= value <= delay * 1.2 for value in found)
        assert max(found) - min(found) > delay * 0.2  # it does vary
    assert retry_delay(len(SCHEDULE) + 1) is None  # eight attempts, then the delivery fails
    assert retry_delay(1, retry_after=30) == 30
    assert retry_delay(1, retry_after=10**9) == settings.WEBHOOKS_RETRY_AFTER_MAX_SECONDS


@pytest.mark.django_db(transaction=True)
def test_a_test_event_is_delivered_through_the_same_path(admin_key, workspace):
    with running_receiver([]) as receiver:
        webhook = admin_key.post("/api/v1/webhooks", {"url": receiver.url}).json()
        receiver.secrets.append(webhook["secret"])

        response = admin_key.post(f"/api/v1/webhooks/{webhook['id']}/test")
        assert response.status_code == 202
        assert response.json()["status"] == "pending" and response.json()["event_type"] == "webhook-test"
        with running_sender():
            wait_until(lambda: WebhookDelivery.objects.filter(status="succeeded").exists(),
                       message="the test event was delivered")

    [received] = receiver.received
    assert received.event["type"] == "webhook-test"
    assert received.event["data"]["webhook_id"] == webhook["id"]
    assert received.headers["webhook-id"] == response.json()["event_id"]


@pytest.mark.django_db(transaction=True)
def test_retry_now_sends_a_failed_delivery_again_with_the_same_id(admin_key, workspace, settings):
    settings.WEBHOOKS_RETRY_SCHEDULE = [1]
    with running_receiver([], lambda request, index: Answer(500) if index < 2 else Answer()) as receiver:
        webhook = admin_key.post("/api/v1/webhooks", {"url": receiver.url}).json()
        receiver.secrets.append(webhook["secret"])
        commit_events(workspace, 1)
        run_reactions(workspace)
        with running_sender():
            wait_until(lambda: WebhookDelivery.objects.filter(status="failed").exists(),
                       message="the delivery failed")
            base = f"/api/v1/webhooks/{webhook['id']}/deliveries"
            [failed] = admin_key.get(base, {"status": "failed"}).json()["results"]

            # when
            response = admin_key.post(f"{base}/{failed['id']}/retry")

            # then
            assert response.status_code == 202 and response.json()["status"] == "retrying"
            wait_until(lambda: WebhookDelivery.objects.filter(status="succeeded").exists(),
                       message="the retry succeeded")

    assert len(set(receiver.event_ids())) == 1 and len(receiver.received) == 3
    detail = admin_key.get(base).json()["results"][0]
    assert detail["status"] == "succeeded" and detail["attempts"] == 3 and detail["next_attempt_at"] is None
    assert detail["in_flight"] is False  # the result was recorded: the claim is over


@pytest.mark.django_db
def test_the_log_filters_by_status_and_refuses_an_unknown_one(admin_key, workspace):
    webhook = admin_key.post("/api/v1/webhooks", {"url": "https://hooks.example.com/in"}).json()
    admin_key.post(f"/api/v1/webhooks/{webhook['id']}/test")
    base = f"/api/v1/webhooks/{webhook['id']}/deliveries"

    assert admin_key.get(base, {"status": "pending"}).json()["total_count"] == 1
    assert admin_key.get(base, {"status": "succeeded,failed"}).json()["total_count"] == 0
    bad = admin_key.get(base, {"status": "lost"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_status"


@pytest.mark.django_db
def test_test_and_retry_of_a_disabled_webhook_are_409(admin_key, workspace):
    webhook = admin_key.post("/api/v1/webhooks", {"url": "https://hooks.example.com/in"}).json()
    delivery = admin_key.post(f"/api/v1/webhooks/{webhook['id']}/test").json()
    admin_key.patch(f"/api/v1/webhooks/{webhook['id']}", {"enabled": False})

    tested = admin_key.post(f"/api/v1/webhooks/{webhook['id']}/test")
    retried = admin_key.post(f"/api/v1/webhooks/{webhook['id']}/deliveries/{delivery['id']}/retry")

    assert (tested.status_code, retried.status_code) == (409, 409)
    assert tested.json()["error"]["code"] == "webhook_disabled"
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.django_db
def test_deliveries_older_than_the_retention_are_trimmed(workspace, settings):
    settings.WEBHOOKS_DELIVERY_RETENTION_DAYS = 30
    endpoint, _ = services.webhook_create(workspace=workspace, url="https://hooks.example.com/in")
    old, recent = (services.webhook_send_test(workspace=workspace, endpoint_id=endpoint.pk) for _ in range(2))
    WebhookDelivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))

    assert trim_deliveries() == 1

    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [recent.pk]


# --- a delivery whose attempt is under way -------------------------------------------------------


def _claimed(workspace):
    """A webhook with one delivery a sender has claimed (its attempt under way)."""
    endpoint, _ = services.webhook_create(workspace=workspace, url="https://hooks.example.com/in")
    delivery = services.webhook_send_test(workspace=workspace, endpoint_id=endpoint.pk)
    [job] = claims.claim(limit=1, in_flight={}, finished={}, now=timezone.now()).jobs
    assert job.delivery_id == str(delivery.pk)
    return endpoint, delivery


@pytest.mark.django_db
def test_retry_of_a_delivery_being_sent_is_409_and_changes_nothing(admin_key, workspace):
    # given a delivery a sender is sending now (claimed, its lease running)
    endpoint, delivery = _claimed(workspace)
    before = WebhookDelivery.objects.get(pk=delivery.pk)

    # when it is retried
    response = admin_key.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/retry")

    # then 409 delivery_in_flight, and it is not made due again (no second concurrent claim)
    assert response.status_code == 409 and response.json()["error"]["code"] == "delivery_in_flight"
    after = WebhookDelivery.objects.get(pk=delivery.pk)
    assert (after.status, after.next_attempt_at, after.attempts) == (
        before.status, before.next_attempt_at, before.attempts)
    assert claims.claim(limit=10, in_flight={}, finished={}, now=timezone.now()).jobs == []


@pytest.mark.django_db
def test_the_log_shows_a_delivery_being_sent_as_in_flight(admin_key, workspace):
    endpoint, _ = _claimed(workspace)

    [shown] = admin_key.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries").json()["results"]

    # the lease's end is not a due time: no next_attempt_at while in flight
    assert (shown["status"], shown["in_flight"], shown["attempts"], shown["next_attempt_at"]) == (
        "pending", True, 1, None)


@pytest.mark.django_db
def test_a_delivery_whose_lease_ran_out_is_not_in_flight_and_may_be_retried(admin_key, workspace, settings):
    # given a sender claimed it and died: its lease is over
    endpoint, delivery = _claimed(workspace)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        last_attempt_at=timezone.now() - timedelta(seconds=settings.WEBHOOKS_LEASE_SECONDS + 1),
        next_attempt_at=timezone.now() - timedelta(seconds=1))
    base = f"/api/v1/webhooks/{endpoint.pk}/deliveries"
    assert admin_key.get(base).json()["results"][0]["in_flight"] is False

    response = admin_key.post(f"{base}/{delivery.pk}/retry")

    assert response.status_code == 202 and response.json()["in_flight"] is False


# --- disabling ends what was still to send -------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("disable", ["user", "sender"])
def test_disabling_fails_the_deliveries_not_yet_sent_so_enabling_again_sends_none_of_them(workspace, disable):
    # given a webhook with a delivery waiting to retry in two hours, and one not yet tried
    endpoint, _ = services.webhook_create(workspace=workspace, url="https://hooks.example.com/in")
    waiting, fresh = (services.webhook_send_test(workspace=workspace, endpoint_id=endpoint.pk)
                      for _ in range(2))
    later = timezone.now() + timedelta(hours=2)
    WebhookDelivery.objects.filter(pk=waiting.pk).update(status="retrying", attempts=1, next_attempt_at=later)

    # when it is disabled (by a user, or by the sender after a 410), then enabled again at once
    if disable == "user":
        services.webhook_update(workspace=workspace, endpoint_id=endpoint.pk, changes={"enabled": False})
    else:
        services.webhook_disable(workspace=workspace, endpoint_id=endpoint.pk, reason="gone")
    services.webhook_update(workspace=workspace, endpoint_id=endpoint.pk, changes={"enabled": True})

    # then both failed when it was disabled, and no sender ever sends them
    for delivery in (waiting, fresh):
        delivery.refresh_from_db()
        assert (delivery.status, delivery.next_attempt_at) == ("failed", None)
        assert delivery.last_error == "The webhook was disabled before this delivery was sent."
    assert claims.claim(limit=10, in_flight={}, finished={}, now=later + timedelta(minutes=1)).jobs == []


@pytest.mark.django_db
def test_disabling_leaves_a_delivery_being_sent_to_its_attempt(workspace):
    endpoint, delivery = _claimed(workspace)

    services.webhook_update(workspace=workspace, endpoint_id=endpoint.pk, changes={"enabled": False})

    delivery.refresh_from_db()
    assert delivery.status == "pending" and services.in_flight(delivery)  # its result is recorded as it comes


@pytest.mark.parametrize(("header", "expected"), [
    ("120", 120.0), (" 7 ", 7.0), ("0", 0.0), ("9" * 40, float("9" * 40)),  # bounded by retry_delay
    ("-5", None), ("1.5", None), ("soon", None), ("", None), (None, None),
    ("\N{SUPERSCRIPT TWO}", None), ("\N{ARABIC-INDIC DIGIT THREE}", None),  # digits to str.isdigit only
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date gone by: now
])
def test_retry_after_is_read_as_seconds_or_an_http_date_and_anything_else_is_ignored(header, expected):
    assert retry_after_seconds(header) == expected


def test_retry_after_as_a_future_http_date():
    moment = timezone.now() + timedelta(minutes=10)
    assert 590 <= retry_after_seconds(moment.strftime("%a, %d %b %Y %H:%M:%S GMT")) <= 600
