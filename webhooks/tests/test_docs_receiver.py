"""The receiver example of docs/webhooks.md ("Verifying signatures"), run as it is
written (only its address changed to a free port on 127.0.0.1), against real
deliveries of the sender: it verifies them, answers 204, and refuses a forgery."""

import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest
from django.conf import settings

from project.testing import stop_process
from webhooks import services
from webhooks.models import WebhookDelivery
from webhooks.tests.helpers import commit_events, run_reactions, running_sender, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _example() -> str:
    text = (settings.BASE_DIR / "docs" / "webhooks.md").read_text()
    [code] = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return code


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_documented_receiver_verifies_real_deliveries_and_refuses_a_forgery(workspace, tmp_path):
    # given the documented receiver, with the secret of a new webhook to it
    port = _free_port()
    code = _example()
    assert 'ThreadingHTTPServer(("0.0.0.0", 8080), Receiver)' in code
    script = tmp_path / "receiver.py"
    script.write_text(code.replace('("0.0.0.0", 8080)', f'("127.0.0.1", {port})'))
    _, secret = services.webhook_create(workspace=workspace, url=f"http://127.0.0.1:{port}/")
    out = (tmp_path / "out.txt").open("wb")
    process = subprocess.Popen([sys.executable, "-u", str(script)], stdout=out, stderr=subprocess.STDOUT,
                               env={**os.environ, "CALLBOARD_WEBHOOK_SECRETS": secret})
    try:
        wait_until(lambda: _listening(port), timeout=15, message="the receiver listens")

        # when an event is delivered to it, and a forged request arrives
        [event_id] = commit_events(workspace, 1)
        run_reactions(workspace)
        with running_sender():
            delivery = wait_until(lambda: WebhookDelivery.objects.filter(status__in=["succeeded", "retrying"])
                                  .first(), message="the delivery was tried")
        forged = httpx.post(f"http://127.0.0.1:{port}/", content=delivery.payload, timeout=5, headers={
            "webhook-id": event_id, "webhook-timestamp": str(int(time.time())),
            "webhook-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})
    finally:
        stop_process(process)
        out.close()

    # then it verified and accepted the delivery (204), printed it, and refused the forgery
    assert (delivery.status, delivery.response_status_code) == ("succeeded", 204), delivery.last_error
    assert forged.status_code == 401
    assert (tmp_path / "out.txt").read_text().startswith("schedule-status-changed {")


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False
