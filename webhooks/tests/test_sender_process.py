"""The sender as a process of its own (manage.py run_webhook_sender): killed while
deliveries are in flight, another one delivers everything, none lost
(docs/webhooks.md "How deliveries are sent")."""

import os
import signal
import subprocess
import sys

import pytest
from django.conf import settings
from django.db.models import Count

from project import testing
from project.testing import stop_process
from webhooks import services
from webhooks.models import WebhookDelivery
from webhooks.tests.helpers import commit_events, run_reactions, wait_until
from webhooks.tests.receiver import Answer, running_receiver

pytestmark = pytest.mark.django_db(transaction=True)
EVENTS = 300


def _start_sender(tmp_path, name: str) -> subprocess.Popen:
    log = tmp_path / f"sender-{name}.log"
    env = {**os.environ, "DEBUG": "false", "DATABASE_URL": testing.test_database_url(),
           "LOG_LEVEL": "WARNING", "SECRET_KEY": os.environ.get("SECRET_KEY", "test-secret"),
           "WEBHOOKS_ALLOW_PRIVATE_URLS": "true",
           "WEBHOOKS_TIMEOUT_SECONDS": "1", "WEBHOOKS_LEASE_SECONDS": "2",
           "WEBHOOKS_SENDER_CONCURRENCY": "20",
           "WEBHOOKS_CONCURRENCY_PER_ENDPOINT": "10", "WEBHOOKS_POLL_SECONDS": "0.1",
           "WEBHOOKS_RETRY_SCHEDULE": "1,1,1,1,1"}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "manage.py", "run_webhook_sender"], cwd=settings.BASE_DIR,
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_until(lambda: b"webhook sender started" in log.read_bytes() or process.poll() is not None,
               timeout=30, message="the sender started")
    assert process.poll() is None, log.read_text()
    return process


def _statuses() -> dict:
    counts = WebhookDelivery.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    errors = WebhookDelivery.objects.exclude(status="succeeded").values_list("attempts", "last_error")[:5]
    return {**dict(counts), "errors": list(errors)}


def test_killing_the_sender_mid_run_loses_no_event(workspace, tmp_path):
    # given a receiver that takes a moment per request, and events committed for it
    with running_receiver([], lambda request, index: Answer(200, delay=0.05)) as receiver:
        _, secret = services.webhook_create(workspace=workspace, url=receiver.url)
        receiver.secrets.append(secret)
        event_ids = commit_events(workspace, EVENTS)
        run_reactions(workspace)

        # when the sender is killed (SIGKILL) with deliveries in flight
        first = _start_sender(tmp_path, "first")
        try:
            receiver.wait_for(40)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            stop_process(first)
        in_flight = WebhookDelivery.objects.filter(status="pending", attempts__gte=1).count()
        delivered_before = len(receiver.received)

        # and another one starts
        second = _start_sender(tmp_path, "second")
        try:
            wait_until(lambda: WebhookDelivery.objects.filter(status="succeeded").count() == EVENTS,
                       timeout=90, message=lambda: f"every delivery succeeded ({_statuses()}; "
                                                  f"{(tmp_path / 'sender-second.log').read_text()[-3000:]})")
        finally:
            stop_process(second)

    # then every event arrived, verified, and only the killed run's attempts came twice
    assert in_flight > 0 and delivered_before < EVENTS
    assert set(receiver.event_ids()) == set(event_ids)
    assert receiver.unverified == []
    assert len(receiver.received) - EVENTS <= in_flight + 20
