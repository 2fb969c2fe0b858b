"""Periodic upkeep of the event log (scheduled in CELERY_BEAT_SCHEDULE)."""

from celery import shared_task
from django.conf import settings

from realtime import relay


@shared_task(ignore_result=True)
def sweep_unpublished_events() -> int:
    return relay.sweep_unpublished(grace_seconds=settings.REALTIME_SWEEP_GRACE_SECONDS)


@shared_task(ignore_result=True)
def trim_event_history() -> int:
    return relay.trim_history(hours=settings.REALTIME_HISTORY_HOURS)
