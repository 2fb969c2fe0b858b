"""Where deliveries may go (docs/webhooks.md "Where deliveries may go") and secret
rotation ("Rotating the secret"), through the real sender and a real receiver."""

import base64
import hashlib
import hmac
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from webhooks import safety, services, signing
from webhooks.models import WebhookDelivery
from webhooks.tests.helpers import commit_events, run_reactions, running_sender, wait_until
from webhooks.tests.receiver import running_receiver

pytestmark = pytest.mark.django_db(transaction=True)


class CountingResolver:
    """A DNS that answers `answers` in turn (the last one again after), counting questions."""

    def __init__(self, *answers: list[str]):
        self.answers, self.questions = list(answers), []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.questions.append(host)
        return self.answers[min(len(self.questions), len(self.answers)) - 1]


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "192.168.1.1",
                                     "100.64.0.1", "224.0.0.1", "::ffff:127.0.0.1", "fd00::1"])
def test_a_host_resolving_to_a_private_address_is_refused_and_nothing_is_sent(workspace, settings, address):
    # given an endpoint whose name resolves to a private address, in a deployment that refuses them
    with running_receiver([]) as receiver:
        services.webhook_create(workspace=workspace, url="https://hooks.example.com/in")
        settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
        commit_events(workspace, 1)
        run_reactions(workspace)

        # when the sender tries it
        with running_sender(resolver=CountingResolver([address])):
            retrying = wait_until(lambda: WebhookDelivery.objects.filter(status="retrying").first(),
                                  message="the attempt was refused")

    # then it failed with a clear error and no request went anywhere
    assert f"resolves to {address}" in retrying.last_error and "may not go there" in retrying.last_error
    assert retrying.response_status_code is None
    assert receiver.received == [] and receiver.unverified == []


def test_a_loopback_receiver_is_refused_when_private_urls_are_not_allowed(workspace, settings):
    with running_receiver([]) as receiver:
        services.webhook_create(workspace=workspace, url=receiver.url)
        settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
        commit_events(workspace, 1)
        run_reactions(workspace)
        with running_sender():
            retrying = wait_until(lambda: WebhookDelivery.objects.filter(status="retrying").first(),
                                  message="the attempt was refused")

    assert "127.0.0.1, a loopback address" in retrying.last_error
    assert receiver.received == [] and receiver.unverified == []


def test_the_host_is_resolved_once_and_the_request_goes_to_that_address(workspace):
    # given a name no DNS knows, whose answer would change after the first question (rebinding)
    with running_receiver([]) as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        _, secret = services.webhook_create(workspace=workspace, url=f"http://rebind.test:{port}/hook")
        receiver.secrets.append(secret)
        resolver = CountingResolver(["127.0.0.1"], ["10.0.0.1"])
        commit_events(workspace, 1)
        run_reactions(workspace)

        # when the sender sends it
        with running_sender(resolver=resolver):
            wait_until(lambda: WebhookDelivery.objects.filter(status="succeeded").exists(),
                       message="the delivery succeeded")

    # then one question was asked, and the request reached the address it answered, with the name as Host
    assert resolver.questions == ["rebind.test"]
    [received] = receiver.received
    assert received.headers["host"] == f"rebind.test:{port}"


def test_an_internationalised_host_name_is_resolved_and_reached_by_its_ascii_form(workspace):
    # given a webhook to an internationalised name (as a user types it)
    with running_receiver([]) as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        _, secret = services.webhook_create(workspace=workspace, url=f"http://bücher.test:{port}/hook")
        receiver.secrets.append(secret)
        resolver = CountingResolver(["127.0.0.1"])
        commit_events(workspace, 1)
        run_reactions(workspace)

        # when the sender sends it
        with running_sender(resolver=resolver):
            wait_until(lambda: WebhookDelivery.objects.filter(status="succeeded").exists(),
                       message=lambda: f"the delivery succeeded ({WebhookDelivery.objects.get().last_error})")

    # then the name asked and the Host sent are its IDNA form, as DNS and the receiver know it
    assert resolver.questions == ["xn--bcher-kva.test"]
    assert receiver.received[0].headers["host"] == f"xn--bcher-kva.test:{port}"


def test_the_address_checks():
    for address in ["127.0.0.1", "10.0.0.1", "172.16.0.1", "169.254.169.254", "::1", "fe80::1", "0.0.0.0",  # noqa: S104
                    "100.100.100.200"]:
        assert safety.address_problem(address) is not None, address
    for address in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"]:
        assert safety.address_problem(address) is None, address


# --- rotation ----------------------------------------------------------------------------------


def test_during_the_grace_period_both_secrets_sign_and_a_receiver_with_either_verifies(workspace):
    # given an endpoint whose secret was rotated just now
    with running_receiver([]) as receiver:
        endpoint, old_secret = services.webhook_create(workspace=workspace, url=receiver.url)
        _, new_secret = services.webhook_rotate_secret(workspace=workspace, endpoint_id=endpoint.pk)
        receiver.secrets.extend([old_secret, new_secret])  # verified with each one on its own
        commit_events(workspace, 1)
        run_reactions(workspace)

        with running_sender():
            wait_until(lambda: WebhookDelivery.objects.filter(status="succeeded").exists(),
                       message="the delivery succeeded")

    # then a receiver that knows only the old secret verifies it, and one that knows only the new
    [received] = receiver.received
    assert received.verified_by == [old_secret, new_secret]
    assert len(received.headers["webhook-signature"].split(" ")) == 2


def test_after_the_grace_period_only_the_new_secret_signs(workspace):
    with running_receiver([]) as receiver:
        endpoint, old_secret = services.webhook_create(workspace=workspace, url=receiver.url)
        _, new_secret = services.webhook_rotate_secret(
            workspace=workspace, endpoint_id=endpoint.pk, now=timezone.now() - timedelta(hours=24, seconds=1))
        receiver.secrets.extend([old_secret, new_secret])
        commit_events(workspace, 1)
        run_reactions(workspace)

        with running_sender():
            wait_until(lambda: WebhookDelivery.objects.filter(status="succeeded").exists(),
                       message="the delivery succeeded")

    [received] = receiver.received
    assert received.verified_by == [new_secret]
    assert len(received.headers["webhook-signature"].split(" ")) == 1
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(received.body, received.headers)


def test_signatures_follow_the_standard_scheme():
    secret = signing.new_secret()
    header = signing.signature_header([secret], msg_id="evt_1", timestamp=1_700_000_000, body='{"a":1}')

    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, b'evt_1.1700000000.{"a":1}', hashlib.sha256).digest()).decode()
    assert header == f"v1,{expected}"
    assert 24 <= len(key) <= 64
