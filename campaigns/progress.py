"""Campaign progress (docs/campaigns.md "Watching a campaign"): the contact counts,
and `campaign-progress` at most once a second per campaign and always once after
the last change.

Whatever changes a campaign's contact counts sets `progress_due` on it;
`campaign_progress_flush` turns that into one event unless one went out less than
PROGRESS_INTERVAL ago, and the beat (campaigns/progress_tasks.py) runs
`campaigns_flush_due_progress` every second, so a change that had to wait is sent
by the next run. Locks as in campaigns/services.py: the event cursor, then the
campaign.
"""

import logging
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Count, F

from campaigns.models import TERMINAL_CONTACT_STATUSES, Campaign, Contact, ContactStatus, empty_stats
from project.metrics import background_failures
from realtime.emit import emit, hold_cursor
from workspaces.models import Workspace
from workspaces.scoping import scoped

logger = logging.getLogger(__name__)

# `stats` key -> the contact status it counts.
STAT_KEYS = {
    "pending": ContactStatus.PENDING,
    "in_progress": ContactStatus.IN_PROGRESS,
    "retry_wait": ContactStatus.RETRY_WAIT,
    "completed": ContactStatus.COMPLETED,
    "failed": ContactStatus.FAILED,
    "skipped": ContactStatus.SKIPPED,
}
# What `campaign-progress` carries of the stats (campaigns/events.py).
PROGRESS_KEYS = ("total", "pending", "in_progress", "completed", "failed", "percent")
PROGRESS_INTERVAL = timedelta(seconds=1)
# The most campaigns one beat run flushes.
PROGRESS_BATCH = 500


def campaign_stats(campaign: Campaign) -> dict:
    """The campaign's contacts counted by status, in one GROUP BY: `total`, a count per
    status and `percent` (finished contacts of all, to one decimal)."""
    contacts = scoped(Contact, campaign.workspace).filter(campaign=campaign)
    counts = dict(contacts.order_by().values_list("status").annotate(n=Count("pk")))
    stats = empty_stats()
    for key, status in STAT_KEYS.items():
        stats[key] = counts.get(status, 0)
    total = sum(counts.values())
    finished = sum(counts.get(status, 0) for status in TERMINAL_CONTACT_STATUSES)
    stats["total"] = total
    stats["percent"] = round(finished * 100 / total, 1) if total else 0.0
    return stats


def campaign_progress_flush(campaign: Campaign, *, force: bool = False, now: datetime | None = None) -> bool:
    """On a locked campaign whose counts changed (`progress_due`, or `force`): stores
    fresh `stats` and emits `campaign-progress`, unless one went out less than
    PROGRESS_INTERVAL ago; then it stays due and the beat sends it. Whether it
    emitted."""
    if not (campaign.progress_due or force):
        return False
    now = now or datetime.now(UTC)
    last = campaign.progress_emitted_at
    if last is not None and now - last < PROGRESS_INTERVAL:
        if not campaign.progress_due:
            campaign.progress_due = True
            campaign.save(update_fields=["progress_due"])
        return False
    stats = campaign_stats(campaign)
    campaign.stats, campaign.progress_emitted_at, campaign.progress_due = stats, now, False
    campaign.save(update_fields=["stats", "progress_emitted_at", "progress_due"])
    emit(
        campaign.workspace,
        "campaign-progress",
        {"campaign_id": str(campaign.pk), **{key: stats[key] for key in PROGRESS_KEYS}},
    )
    return True


def campaigns_flush_due_progress(*, now: datetime | None = None) -> int:
    """Flushes the progress of every campaign that is due, each in its own
    transaction; the number of events emitted. The beat runs it every second; two
    runs at once send nothing twice (the lock, then `progress_due` and the interval
    decide). A campaign that fails is logged, counted
    (`callboard_background_failures_total`) and skipped."""
    # System-wide by design (a sweep acts for no workspace); each campaign is then
    # flushed in its own workspace's name.
    # The longest waiting first, at most PROGRESS_BATCH a run: a run stays short
    # however many campaigns are due, and the rest go first in the next second's run.
    due = list(
        Campaign.objects.filter(progress_due=True)
        .order_by(F("progress_emitted_at").asc(nulls_first=True))
        .values_list("pk", "workspace_id")[:PROGRESS_BATCH]
    )
    workspaces = Workspace.objects.in_bulk({workspace_id for _, workspace_id in due})
    emitted = 0
    for campaign_id, workspace_id in due:
        workspace = workspaces.get(workspace_id)
        if workspace is None:  # deleted meanwhile, with its campaigns
            continue
        try:
            with transaction.atomic():
                emitted += _flush_due(workspace, campaign_id, now)
        except Exception:  # one campaign's failure must not stop everyone's progress
            logger.exception("progress flush: campaign %s skipped", campaign_id)
            background_failures.labels("campaign-progress").inc()
    return emitted


def _flush_due(workspace: Workspace, campaign_id, now: datetime | None) -> int:
    """`now` None: the clock once the campaign is locked, not when the run began (a
    run that waited for locks or spent seconds on other campaigns would stamp its
    event early, and the next could follow in less than PROGRESS_INTERVAL)."""
    hold_cursor(workspace)
    # After the cursor, as everywhere. A row still locked then was locked out of that
    # order (by a writer that emits nothing): the next run sees it.
    campaign = (
        scoped(Campaign, workspace)
        .select_for_update(skip_locked=True)
        .filter(pk=campaign_id, progress_due=True)
        .first()
    )
    if campaign is None:  # flushed meanwhile, or locked
        return 0
    campaign.workspace = workspace
    return int(campaign_progress_flush(campaign, now=now))
