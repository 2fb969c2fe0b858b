"""The sender (docs/webhooks.md "What is sent", "Retries"): every committed event
reaches every matching endpoint, signed, verified by a real receiver; retries on
the schedule; 410 disables; Retry-After honoured; redirects and timeouts fail."""

import gzip
import threading
import tracemalloc
import uuid
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone

from notifications.models import Notification
from project.testing import emitted
from webhooks import claims, outcomes, services
from webhooks.attempt import Result
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.tests.helpers import PROGRESS, commit_events, run_reactions, running_sender, wait_until
from webhooks.tests.receiver import Answer, running_receiver

pytestmark = pytest.mark.django_db(transaction=True)


def _endpoint(workspace, receiver, **fields):
    """An endpoint to the receiver, which verifies with its secret."""
    endpoint, secret = services.webhook_create(workspace=workspace, url=receiver.url, **fields)
    receiver.secrets.append(secret)
    return endpoint


def _settled(count: int, status: str = "succeeded"):
    return lambda: WebhookDelivery.objects.filter(status=status).count() >= count


def _answers(*answers):
    """The receiver answers these in turn, then 200."""
    return lambda request, index: answers[index] if index < len(answers) else Answer()


def test_every_committed_event_reaches_every_matching_endpoint_once_signed(workspace):
    # given two receivers: one for every type, one for campaign progress only
    with running_receiver([]) as everything, running_receiver([]) as progress_only:
        endpoint = _endpoint(workspace, everything)
        _endpoint(workspace, progress_only, event_types=["campaign-progress"])

        # when events commit, the reaction runs and the sender sends
        statuses = commit_events(workspace, 20)
        progress = commit_events(workspace, 5, "campaign-progress", PROGRESS)
        run_reactions(workspace)
        with running_sender():
            wait_until(_settled(30), message="30 deliveries succeeded")

        # then each got exactly its events, once, each verified by standardwebhooks
        assert sorted(everything.event_ids()) == sorted(statuses + progress)
        assert sorted(progress_only.event_ids()) == sorted(progress)
        assert everything.unverified == [] and progress_only.unverified == []
        first = everything.received[0]
        assert first.headers["content-type"] == "application/json"
        assert first.event["event_id"] == first.headers["webhook-id"]
        assert set(first.event) == {"event_id", "type", "workspace_id", "timestamp", "data"}
        delivery = WebhookDelivery.objects.filter(endpoint=endpoint).first()
        assert (delivery.attempts, delivery.response_status_code) == (1, 200)
        assert delivery.delivered_at is not None and delivery.response_body == "ok"


def test_a_failed_attempt_is_retried_on_the_schedule_and_then_succeeds(workspace, settings):
    settings.WEBHOOKS_RETRY_SCHEDULE = [1, 300]
    with running_receiver([], _answers(Answer(500, body=b"boom"))) as receiver:
        endpoint = _endpoint(workspace, receiver)
        commit_events(workspace, 1)
        run_reactions(workspace)

        with running_sender():
            retrying = wait_until(lambda: WebhookDelivery.objects.filter(status="retrying").first(),
                                  message="the first attempt failed")
            observed = timezone.now()
            # then the next attempt is due 1 s ± 20 % after the first's result was
            # written, which came between the attempt's start and this observation
            delay = (retrying.next_attempt_at - retrying.last_attempt_at).total_seconds()
            written_within = (observed - retrying.last_attempt_at).total_seconds()
            assert 0.8 <= delay <= 1.2 + written_within
            assert (retrying.response_status_code, retrying.response_body, retrying.last_error) == (
                500, "boom", "Answered 500.")
            endpoint.refresh_from_db()
            assert endpoint.failing_since is not None
            wait_until(_settled(1), message="the retry succeeded")

        delivery = WebhookDelivery.objects.get()
        assert (delivery.attempts, delivery.status, delivery.last_error) == (2, "succeeded", "")
        assert len(receiver.received) == 2 and len(set(receiver.event_ids())) == 1
        endpoint.refresh_from_db()
        assert endpoint.failing_since is None


def test_410_disables_the_endpoint_emits_its_event_and_raises_the_notification(workspace):
    with running_receiver([], _answers(Answer(410))) as receiver:
        endpoint = _endpoint(workspace, receiver)
        commit_events(workspace, 1)
        run_reactions(workspace)

        with running_sender():
            wait_until(lambda: not WebhookEndpoint.objects.get(pk=endpoint.pk).enabled,
                       message="the endpoint was disabled")
        run_reactions(workspace)  # the notifications' reaction, as after any commit

    endpoint.refresh_from_db()
    assert endpoint.disabled_reason == "gone"
    assert WebhookDelivery.objects.get().status == "failed"
    assert emitted(workspace, "webhook-status-changed") == [
        {"webhook_id": str(endpoint.pk), "enabled": False, "previous_enabled": True, "reason": "gone"}]
    notification = Notification.objects.get(workspace=workspace, kind="webhook-disabled")
    assert (notification.severity, notification.subject_type, notification.subject_id) == (
        "error", "webhook", str(endpoint.pk))
    assert "to 127.0.0.1 was disabled" in notification.body and receiver.url not in notification.body


def test_an_endpoint_failing_for_days_is_disabled(workspace):
    with running_receiver([], lambda request, index: Answer(500)) as receiver:
        endpoint = _endpoint(workspace, receiver)
        # given it has failed since six days ago
        six_days_ago = timezone.now() - timedelta(days=6)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=six_days_ago)
        commit_events(workspace, 1)
        run_reactions(workspace)

        with running_sender():
            wait_until(lambda: not WebhookEndpoint.objects.get(pk=endpoint.pk).enabled,
                       message="the endpoint was disabled")

    assert WebhookEndpoint.objects.get(pk=endpoint.pk).disabled_reason == "failing"
    assert emitted(workspace, "webhook-status-changed")[-1]["reason"] == "failing"


@pytest.mark.parametrize(("status", "retry_after", "expected"), [(429, "7", 7), (503, "999999", 3600)])
def test_retry_after_of_429_and_503_is_honoured_within_its_bound(workspace, status, retry_after, expected):
    with running_receiver([], _answers(Answer(status, headers={"Retry-After": retry_after}))) as receiver:
        _endpoint(workspace, receiver)
        commit_events(workspace, 1)
        run_reactions(workspace)

        with running_sender():
            retrying = wait_until(lambda: WebhookDelivery.objects.filter(status="retrying").first(),
                                  message="the attempt failed")

    delay = (retrying.next_attempt_at - retrying.last_attempt_at).total_seconds()
    assert expected - 1 <= delay <= expected + 1


def test_a_redirect_is_a_failure_and_is_not_followed(workspace):
    with running_receiver([]) as elsewhere, \
            running_receiver([], _answers(Answer(302, headers={"Location": "/moved"}))) as receiver:
        receiver.answer = _answers(Answer(302, headers={"Location": elsewhere.url}))
        _endpoint(workspace, receiver)
        commit_events(workspace, 1)
        run_reactions(workspace)

        with running_sender():
            retrying = wait_until(lambda: WebhookDelivery.objects.filter(status="retrying").first(),
                                  message="the attempt failed")

        assert retrying.response_status_code == 302 and "redirects are not followed" in retrying.last_error
        assert elsewhere.received == [] and elsewhere.unverified == []


def test_an_answer_slower_than_the_timeout_is_a_failure(workspace, settings):
    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.5
    with running_receiver([], _answers(Answer(200, delay=3))) as receiver:
        _endpoint(workspace, receiver)
        commit_events(workspace, 1)
        run_reactions(workspace)

        with running_sender():
            retrying = wait_until(lambda: WebhookDelivery.objects.filter(status="retrying").first(),
                                  message="the attempt timed out")

    assert retrying.last_error == "No answer within 0.5 s." and retrying.response_status_code is None
    assert retrying.duration_ms < 2000


def test_a_long_answer_is_kept_up_to_4_kib(workspace):
    with running_receiver([], _answers(Answer(200, body=b"x" * 10_000))) as receiver:
        _endpoint(workspace, receiver)
        commit_events(workspace, 1)
        run_reactions(workspace)
        with running_sender():
            wait_until(_settled(1), message="the delivery succeeded")

    assert WebhookDelivery.objects.get().response_body == "x" * 4096


def test_a_compressed_answer_is_not_inflated_past_the_cap(workspace):
    # given a receiver that answers 64 MB of zeros, gzipped to about 64 KB (a decompression bomb)
    bomb = gzip.compress(b"\0" * 64_000_000, compresslevel=9)
    answer = Answer(200, headers={"Content-Encoding": "gzip"}, body=bomb)
    with running_receiver([], _answers(answer)) as receiver:
        _endpoint(workspace, receiver)
        commit_events(workspace, 1)
        run_reactions(workspace)

        # when the sender sends to it
        tracemalloc.start()
        try:
            with running_sender():
                wait_until(_settled(1), message="the delivery succeeded")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    # then it asked for no encoding, and the answer was never inflated in memory
    assert receiver.received[0].headers["accept-encoding"] == "identity"
    assert peak < 16_000_000, f"{peak:,} bytes at the peak"
    assert WebhookDelivery.objects.get().response_body == "(a gzip-encoded body, not kept)"


def test_the_schedule_is_spent_then_the_delivery_fails(workspace, settings):
    settings.WEBHOOKS_RETRY_SCHEDULE = [1]
    with running_receiver([], lambda request, index: Answer(500)) as receiver:
        _endpoint(workspace, receiver)
        commit_events(workspace, 1)
        run_reactions(workspace)
        with running_sender():
            wait_until(_settled(1, "failed"), message="the delivery failed")

    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.next_attempt_at) == (2, None)
    assert len(receiver.received) == 2


def test_the_per_endpoint_limit_holds_across_senders(workspace, settings):
    # given five due deliveries to one endpoint, whose limit is two attempts at once
    settings.WEBHOOKS_CONCURRENCY_PER_ENDPOINT = 2
    with running_receiver([]) as receiver:
        _endpoint(workspace, receiver)
        commit_events(workspace, 5)
        run_reactions(workspace)
        now = timezone.now()

        # when one sender claims, then another (each with nothing in flight of its own)
        first = claims.claim(limit=10, in_flight={}, finished={}, now=now).jobs
        second = claims.claim(limit=10, in_flight={}, finished={}, now=now).jobs

        # then the first took the endpoint's two slots and the second none
        assert (len(first), len(second)) == (2, 0)

        # when the first sender's two attempts have ended, their results not written yet
        finished = {first[0].endpoint_id: 2}
        # then it may use the two slots again, and the other sender still may not
        assert len(claims.claim(limit=10, in_flight={}, finished=finished, now=now).jobs) == 2
        assert claims.claim(limit=10, in_flight={}, finished={}, now=now).jobs == []

        # and once the first sender's leases have run out (it died), another takes them over
        later = now + timedelta(seconds=settings.WEBHOOKS_LEASE_SECONDS + 1)
        assert len(claims.claim(limit=10, in_flight={}, finished={}, now=later).jobs) == 2


def test_one_webhook_s_backlog_of_due_deliveries_does_not_keep_another_s_from_being_claimed(
        workspace, settings):
    # given a webhook with 100 due deliveries, all older than another webhook's 3 (its
    # retries after a long outage, say), and a limit of 2 attempts at once per webhook
    settings.WEBHOOKS_CONCURRENCY_PER_ENDPOINT = 2
    backlogged, _ = services.webhook_create(workspace=workspace, url="https://hooks.example.com/a")
    commit_events(workspace, 100)
    run_reactions(workspace)
    other, _ = services.webhook_create(workspace=workspace, url="https://hooks.example.com/b")
    commit_events(workspace, 3)
    run_reactions(workspace)
    WebhookDelivery.objects.filter(endpoint=backlogged).update(
        next_attempt_at=timezone.now() - timedelta(hours=1))

    # when a sender with 10 free slots claims
    jobs = claims.claim(limit=10, in_flight={}, finished={}, now=timezone.now()).jobs

    # then it took the backlogged webhook's 2 and the other's deliveries too
    taken = sorted(job.endpoint_id for job in jobs)
    assert taken.count(str(backlogged.pk)) == 2
    assert taken.count(str(other.pk)) == 2


def test_writing_a_result_does_not_wait_for_deliveries_being_created_for_the_same_webhook(workspace):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: row locks and a second connection")
    # given a claimed delivery, and a transaction still open that created another for the same webhook
    # (the reaction's insert holds a key-share lock on the webhook, through the foreign key)
    endpoint, _ = services.webhook_create(workspace=workspace, url="https://hooks.example.com/in")
    commit_events(workspace, 1)
    run_reactions(workspace)
    [job] = claims.claim(limit=1, in_flight={}, finished={}, now=timezone.now()).jobs
    inserted, release = threading.Event(), threading.Event()

    def reaction_in_progress():
        try:
            with transaction.atomic():
                WebhookDelivery.objects.create(workspace=workspace, endpoint=endpoint, event_id=uuid.uuid4(),
                                               event_type="schedule-status-changed", payload="{}")
                with connections["default"].cursor() as cursor:  # the foreign key's check now, not at commit
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                inserted.set()
                release.wait(30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=reaction_in_progress, daemon=True)
    holder.start()
    assert inserted.wait(10)
    try:
        # when the sender writes the claimed delivery's result meanwhile
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")
        written = outcomes.record([Result(job, True, status_code=204)], now=timezone.now())
    finally:
        release.set()
        holder.join(30)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")

    # then it was written without waiting for that transaction (which a lock on the webhook would)
    assert written == 1
    assert WebhookDelivery.objects.get(pk=job.delivery_id).status == "succeeded"
