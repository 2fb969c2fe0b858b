"""Periodic upkeep of the event log (scheduled in CELERY_BEAT_SCHEDULE), and the
runs of reactions (realtime/reactions.py)."""

from celery import shared_task
from django.conf import settings

from realtime import reactions, relay


@shared_task(ignore_result=True)
def sweep_unpublished_events() -> int:
    return relay.sweep_unpublished(grace_seconds=settings.REALTIME_SWEEP_GRACE_SECONDS)


@shared_task(ignore_result=True)
def trim_event_history() -> int:
    return relay.trim_history(hours=settings.REALTIME_HISTORY_HOURS)


@shared_task(ignore_result=True)
def run_reactions(workspace_id: str) -> int:
    """Enqueued after the commit of a transaction that emitted an event some reaction wants."""
    return reactions.run(workspace_id)


@shared_task(ignore_result=True)
def sweep_reactions() -> int:
    return reactions.sweep(grace_seconds=settings.REALTIME_REACTION_GRACE_SECONDS)
