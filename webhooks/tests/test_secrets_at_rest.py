"""Signing secrets at rest (docs/webhooks.md "Secrets at rest"): encrypted in the
database with WEBHOOKS_SECRETS_KEYS, so that a copy of the database (a backup, a
replica, a dump) does not let anyone sign deliveries; a delivery still verifies
with the secret shown once; the keys can be rotated."""

import importlib
import io

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection

from webhooks import services, signing
from webhooks.models import WebhookEndpoint
from webhooks.sealing import UnreadableSecret

seal_stored_secrets = importlib.import_module("webhooks.migrations.0004_sealed_secrets").seal_stored_secrets

pytestmark = pytest.mark.django_db


def _db_id(endpoint):
    """The id as this database stores it (a uuid on PostgreSQL, 32 hex digits on SQLite)."""
    return WebhookEndpoint._meta.pk.get_db_prep_value(endpoint.pk, connection)


def _stored(endpoint) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret, previous_secret FROM webhooks_webhookendpoint WHERE id = %s",
                       [_db_id(endpoint)])
        return cursor.fetchone()


def test_the_database_holds_neither_the_secret_nor_the_rotated_one(workspace):
    # given a webhook, its secret rotated
    endpoint, first = services.webhook_create(workspace=workspace, url="https://hooks.example.com/in")
    _, second = services.webhook_rotate_secret(workspace=workspace, endpoint_id=endpoint.pk)

    # then neither secret, nor its random part, is in the row
    stored = " ".join(_stored(endpoint))
    for secret in (first, second):
        assert secret.removeprefix("whsec_")[:20] not in stored
    # and the sender reads both back, to sign with
    endpoint = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (endpoint.secret, endpoint.previous_secret) == (second, first)


def test_secrets_sealed_with_a_retired_key_are_read_while_it_is_listed(workspace, settings):
    # given a secret sealed under the key of the time
    settings.WEBHOOKS_SECRETS_KEYS = ["old-key-" + "o" * 32]
    endpoint, secret = services.webhook_create(workspace=workspace, url="https://hooks.example.com/in")

    # when a new key comes first, the old one kept after it
    settings.WEBHOOKS_SECRETS_KEYS = ["new-key-" + "n" * 32, "old-key-" + "o" * 32]

    # then the secret still reads, and a rotation seals the new secret under the new key only
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == secret
    _, fresh = services.webhook_rotate_secret(workspace=workspace, endpoint_id=endpoint.pk)
    settings.WEBHOOKS_SECRETS_KEYS = ["new-key-" + "n" * 32]
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == fresh


def test_resealing_lets_the_old_key_go(workspace, settings):
    # given a secret sealed under an old key, and a new key put first
    settings.WEBHOOKS_SECRETS_KEYS = ["old-key-" + "o" * 32]
    endpoint, secret = services.webhook_create(workspace=workspace, url="https://hooks.example.com/in")
    settings.WEBHOOKS_SECRETS_KEYS = ["new-key-" + "n" * 32, "old-key-" + "o" * 32]

    # when every secret is resealed, and the old key dropped
    call_command("reseal_webhook_secrets", stdout=io.StringIO())
    settings.WEBHOOKS_SECRETS_KEYS = ["new-key-" + "n" * 32]

    # then it still reads; had it not been resealed, it would be refused loudly
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == secret
    settings.WEBHOOKS_SECRETS_KEYS = ["another-key-" + "a" * 32]
    with pytest.raises(UnreadableSecret):
        WebhookEndpoint.objects.get(pk=endpoint.pk)


def test_a_row_written_before_encryption_is_still_read(workspace):
    endpoint, _ = services.webhook_create(workspace=workspace, url="https://hooks.example.com/in")
    legacy = signing.new_secret()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE webhooks_webhookendpoint SET secret = %s WHERE id = %s",
                       [legacy, _db_id(endpoint)])

    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == legacy

    # and the migration that introduced sealing seals it
    seal_stored_secrets(django_apps, None)
    assert legacy.removeprefix("whsec_")[:20] not in _stored(endpoint)[0]
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == legacy
