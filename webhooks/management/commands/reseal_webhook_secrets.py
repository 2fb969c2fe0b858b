"""Seals every webhook secret under the first key of WEBHOOKS_SECRETS_KEYS (docs/webhooks.md
"Secrets at rest"): run after putting a new key first, before dropping the old one."""

from django.core.management.base import BaseCommand
from django.db import transaction

from webhooks.models import WebhookEndpoint


class Command(BaseCommand):
    help = "Seal every webhook secret under the first key of WEBHOOKS_SECRETS_KEYS."

    def handle(self, *args, **options):
        count = 0
        for endpoint_id in WebhookEndpoint.objects.values_list("pk", flat=True).iterator(chunk_size=500):
            with transaction.atomic():
                # Locked, then read: a rotation meanwhile is not undone.
                fresh = WebhookEndpoint.objects.select_for_update().only("pk", "secret", "previous_secret") \
                    .filter(pk=endpoint_id).first()
                if fresh is not None:
                    fresh.save(update_fields=["secret", "previous_secret"])
                    count += 1
        self.stdout.write(f"resealed {count} webhook secrets")
