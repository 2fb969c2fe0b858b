"""Celery tasks of campaigns: the dialer's run for one campaign, and the beat's
tick that starts, resumes and wakes campaigns (campaigns/dialer.py)."""

from celery import shared_task

from campaigns import dialer


@shared_task(name="campaigns.tasks.dial_campaign")
def dial_campaign(campaign_id: str) -> int:
    return dialer.dial(campaign_id)


@shared_task(name="campaigns.tasks.dial_running_campaigns")
def dial_running_campaigns() -> int:
    return dialer.dial_due_campaigns()
