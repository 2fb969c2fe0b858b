"""The beat task that sends campaigns' due progress (docs/campaigns.md "Watching a
campaign"). Apart from campaigns/tasks.py (the dialer's) because it is another idea:
it only reports counts. Registered in CELERY_IMPORTS (autodiscovery reads tasks.py)."""

from celery import shared_task

from campaigns import progress


@shared_task(name="campaigns.progress_tasks.flush_campaign_progress")
def flush_campaign_progress() -> int:
    return progress.campaigns_flush_due_progress()
