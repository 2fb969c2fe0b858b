"""Celery tasks of webhooks: trimming the delivery log (docs/webhooks.md "The delivery log").
Sending is not a task: the sender is a process of its own (manage.py run_webhook_sender)."""

from celery import shared_task

from webhooks import services


@shared_task(name="webhooks.tasks.trim_deliveries")
def trim_deliveries() -> int:
    return services.deliveries_trim()
