"""The dialer: places a running campaign's calls (docs/campaigns.md "How the dialer works").

`dial(campaign_id)` places calls one at a time, each in ONE short transaction
that starts by locking the campaign's row: every dialer of a campaign, in any
worker, waits for that lock, so the count of its active calls against
`max_concurrency` and the pacing clock (`next_dial_at`) are read and moved by
one dialer at a time, and a call it places is committed before the next
dialer counts. Under the lock a dial claims one due contact with
`SELECT ... FOR UPDATE SKIP LOCKED` (a contact another transaction holds is
passed over, never waited for), checks the suppression list again, and places
the call through `calls.services.call_create`, the path of `POST /calls`,
whose own savepoint undoes a refused call: billing's admission (402: the
campaign pauses, `insufficient-balance`), the workspace's active-call cap
(this round stops) and data the call service refuses (the contact fails with
that code) apply unchanged. The contact becomes `in-progress` in the same
transaction as its call, so no contact is dialed twice at once.

A run places at most DIALS_PER_RUN calls and, when more may be due, enqueues
the next run instead of keeping its worker: other tenants' campaigns get their
turn. A paced campaign arms one wake-up at its `next_dial_at`.

Lock order, as everywhere in campaigns: the workspace's event cursor, then the
campaign (`campaign_locked` takes both), then its contacts.
"""

import enum
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from redis.exceptions import RedisError

from calls.models import ACTIVE_STATUSES, Call
from calls.services import call_create
from campaigns.models import (
    DIALABLE_CONTACT_STATUSES,
    TERMINAL_CONTACT_STATUSES,
    Campaign,
    CampaignStatus,
    Contact,
    ContactStatus,
    PauseReason,
    Suppression,
)
from campaigns.services import (
    campaign_complete_if_done,
    campaign_locked,
    campaign_set_status,
    campaign_start_if_due,
)
from campaigns.window import CONTACT_ZONE, is_open, window_zone, zones_open
from project.errors import ApiError, NotFound, PaymentRequired, TooManyRequests
from project.metrics import background_failures
from project.redis_client import get_redis
from realtime.emit import hold_cursor
from workspaces.models import Workspace
from workspaces.scoping import scoped

logger = logging.getLogger(__name__)

# The most calls one run places before it hands its worker back (and enqueues the next run).
DIALS_PER_RUN = 100
# The most campaigns one beat tick starts, resumes or wakes.
BEAT_BATCH = 500
FAILURE_LOOP = "campaign-dial"


class Dialed(enum.Enum):
    PLACED = "placed"  # a call went out
    SKIPPED = "skipped"  # a contact was settled without a call (suppressed, refused data)
    FULL = "full"  # max_concurrency calls are active: a call's end dials again
    PACED = "paced"  # calls_per_minute: not before next_dial_at
    IDLE = "idle"  # nothing due now (none left, retries waiting, the window closed)
    CAPPED = "capped"  # the workspace's active-call cap: the beat tries again
    STOPPED = "stopped"  # not running (or gone, or paused just now)


@dataclass(frozen=True)
class Result:
    dialed: Dialed
    wait: float = 0.0  # PACED: seconds until next_dial_at


def dial(campaign_id) -> int:
    """Places the campaign's due calls, as many as its free slots, pacing and window
    allow, at most DIALS_PER_RUN; the number placed."""
    workspace = _workspace_of(campaign_id)
    if workspace is None:
        return 0
    zones = _ContactZones(workspace)
    placed, result = 0, Result(Dialed.IDLE)
    for _ in range(DIALS_PER_RUN):
        try:
            result = _dial_once(workspace, campaign_id, zones)
        except Exception:  # the dial's transaction is undone; the beat tries again
            logger.exception("dialer: campaign %s stopped its round", campaign_id)
            background_failures.labels(FAILURE_LOOP).inc()
            return placed
        placed += result.dialed is Dialed.PLACED
        if result.dialed not in (Dialed.PLACED, Dialed.SKIPPED):
            break
    else:
        dial_after_commit(campaign_id)
    if result.dialed is Dialed.PACED:
        transaction.on_commit(lambda: _wake_at(campaign_id, result.wait))
    return placed


def _workspace_of(campaign_id) -> Workspace | None:
    """The campaign's workspace (the dialer is handed only an id, by a task)."""
    try:
        campaign = Campaign.objects.select_related("workspace").filter(pk=campaign_id).first()
    except (ValueError, TypeError):
        return None
    return campaign.workspace if campaign is not None else None


def _dial_once(workspace: Workspace, campaign_id, zones: "_ContactZones") -> Result:
    with transaction.atomic():
        campaign = _locked_running(workspace, campaign_id)
        if campaign is None:
            return Result(Dialed.STOPPED)
        now = datetime.now(UTC)
        # Read under the lock: only a holder of it adds calls to the campaign, so
        # the count can only fall until this transaction commits its call.
        calls = scoped(Call, workspace).filter(campaign_id=str(campaign.pk))
        active = calls.filter(status__in=ACTIVE_STATUSES).count()
        if active >= campaign.max_concurrency:
            return Result(Dialed.FULL)
        if campaign.calls_per_minute and campaign.next_dial_at and campaign.next_dial_at > now:
            return Result(Dialed.PACED, wait=(campaign.next_dial_at - now).total_seconds())
        contact = _claim(campaign, now, zones.open_now(campaign, now))
        if contact is None:
            if active == 0:
                campaign_complete_if_done(campaign)
            return Result(Dialed.IDLE)
        result = _dial_contact(campaign, contact)
        _record(campaign, result)
        return result


def _locked_running(workspace: Workspace, campaign_id) -> Campaign | None:
    """The campaign, locked (`campaign_locked`: the event cursor, then its row), if it
    still exists and is running."""
    try:
        campaign = campaign_locked(workspace, campaign_id)
    except NotFound:
        return None
    return campaign if campaign.status == CampaignStatus.RUNNING else None


def _record(campaign: Campaign, result: Result) -> None:
    """What a dial changed on the locked campaign: its progress is due, and a placed
    call moves the pacing clock."""
    if result.dialed not in (Dialed.PLACED, Dialed.SKIPPED):
        return
    campaign.progress_due = True
    fields = ["progress_due"]
    if result.dialed is Dialed.PLACED:
        # From this call, not from the last due time: a campaign idle for an hour
        # does not make up the hour in a burst, and calls are at least the interval
        # apart by their creation. Unpaced, it still records the dial: the beat
        # wakes the least recently dialed first.
        interval = 60 / campaign.calls_per_minute if campaign.calls_per_minute else 0
        campaign.next_dial_at = datetime.now(UTC) + timedelta(seconds=interval)
        fields.append("next_dial_at")
    campaign.save(update_fields=fields)


# --- which contact --------------------------------------------------------------------------


class _ContactZones:
    """The zones a `"timezone": "contact"` campaign's contacts are in, read once per
    run (a contact uploaded meanwhile in a new zone waits for the next run: the
    open zones are an allow-list, so nobody is called out of hours for it)."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self._zones: set[str] | None = None

    def open_now(self, campaign: Campaign, now: datetime) -> set[str] | None:
        """None: any contact may be called now; else only contacts whose `timezone`
        is in the set ("" standing for the workspace's zone)."""
        window = campaign.calling_window
        if not window:
            return None
        workspace_zone = self.workspace.timezone
        if window["timezone"] != CONTACT_ZONE:
            return None if is_open(window, window_zone(window, workspace_zone=workspace_zone), now) else set()
        if self._zones is None:
            self._zones = set(
                scoped(Contact, self.workspace)
                .filter(campaign_id=campaign.pk, status__in=DIALABLE_CONTACT_STATUSES)
                .values_list("timezone", flat=True)
                .distinct()
            )
        # A contact's zone ("" for none) -> the zone whose clock the window reads for it.
        clocks = {zone: window_zone(window, workspace_zone=workspace_zone, contact_zone=zone)
                  for zone in self._zones}
        opened = zones_open(window, clocks.values(), now)
        return {zone for zone, clock in clocks.items() if clock in opened}


def _claim(campaign: Campaign, now: datetime, open_zones: set[str] | None) -> Contact | None:
    """One due contact, locked, or None: a retry that came due first (oldest due
    first), else a pending contact (in upload order). Each query walks an index
    (contact_due, contact_status) and stops at the first row nobody holds."""
    contacts = scoped(Contact, campaign.workspace).filter(campaign=campaign)
    if open_zones is not None:
        if not open_zones:
            return None
        contacts = contacts.filter(timezone__in=open_zones)
    retries = contacts.filter(status=ContactStatus.RETRY_WAIT, next_attempt_at__lte=now)
    retries = retries.order_by("next_attempt_at")
    fresh = (
        contacts.filter(status=ContactStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("created_at", "id")
    )
    for due in (retries, fresh):
        found = list(due.select_for_update(skip_locked=True)[:1])
        if found:
            found[0].workspace = campaign.workspace
            return found[0]
    return None


# --- one contact -------------------------------------------------------------------------


def _dial_contact(campaign: Campaign, contact: Contact) -> Result:
    """The claimed contact called, skipped or failed. Anything unforeseen fails this
    contact alone (counted in callboard_background_failures_total), so a row the
    dialer cannot handle does not stop the campaign."""
    try:
        with transaction.atomic():
            return _place(campaign, contact)
    except Exception:
        logger.exception("dialer: contact %s of campaign %s failed", contact.pk, campaign.pk)
        background_failures.labels(FAILURE_LOOP).inc()
        _settle(contact, ContactStatus.FAILED, outcome="error")
        return Result(Dialed.SKIPPED)


def _place(campaign: Campaign, contact: Contact) -> Result:
    workspace = campaign.workspace
    # Again at the dial: a number suppressed after the upload is never called.
    if scoped(Suppression, workspace).filter(phone_number=contact.phone_number).exists():
        _settle(contact, ContactStatus.SKIPPED, outcome="suppressed")
        return Result(Dialed.SKIPPED)
    try:
        call = call_create(
            workspace=workspace,
            to_number=contact.phone_number,
            from_number=campaign.from_number,
            agent=campaign.agent.name,
            variables=contact.variables,
            source="campaign",
            campaign_id=str(campaign.pk),
        )
    except PaymentRequired:
        # The contact stays due: it is called when a top-up resumes the campaign.
        campaign_set_status(campaign, CampaignStatus.PAUSED, pause_reason=PauseReason.INSUFFICIENT_BALANCE)
        return Result(Dialed.STOPPED)
    except TooManyRequests:  # the workspace's cap on active calls, across all its calls
        return Result(Dialed.CAPPED)
    except ApiError as error:  # the contact's data: its number or variables refused
        _settle(contact, ContactStatus.FAILED, outcome=error.code)
        return Result(Dialed.SKIPPED)
    contact.status = ContactStatus.IN_PROGRESS
    contact.attempts += 1
    contact.last_call_id = call.pk
    contact.next_attempt_at = None
    contact.save(update_fields=["status", "attempts", "last_call_id", "next_attempt_at", "updated_at"])
    return Result(Dialed.PLACED)


def _settle(contact: Contact, status: str, *, outcome: str) -> None:
    contact.status = status
    contact.outcome = outcome[:32]
    contact.next_attempt_at = None
    contact.save(update_fields=["status", "outcome", "next_attempt_at", "updated_at"])


# --- what runs next ------------------------------------------------------------------------


def dial_after_commit(campaign_id) -> None:
    """A run of the campaign's dialer, enqueued once the caller's transaction commits
    (at once outside one): the run then sees what the transaction changed."""
    from campaigns.tasks import dial_campaign

    transaction.on_commit(lambda: dial_campaign.delay(str(campaign_id)))


def _wake_key(campaign_id) -> str:
    return f"callboard:dialer:wake:{campaign_id}"


def _wake_at(campaign_id, wait: float) -> None:
    """One run at the paced campaign's next_dial_at. Every dialer that finds the
    campaign paced asks; the first one arms it (a key in Redis that lives until
    then), the others find it armed: wake-ups do not multiply."""
    from campaigns.tasks import dial_campaign

    wait = max(wait, 0.01)
    try:
        armed = get_redis().set(_wake_key(campaign_id), "1", nx=True, px=max(1, int(wait * 1000)))
    except RedisError:  # the beat's next tick dials instead
        logger.warning("dialer: no wake-up for campaign %s (Redis unavailable)", campaign_id)
        return
    if armed:
        dial_campaign.apply_async((str(campaign_id),), countdown=wait)


def dial_due_campaigns(now: datetime | None = None) -> int:
    """The beat's tick: starts scheduled campaigns whose start_at has come, resumes
    campaigns paused for credit whose workspace has credit again (a repair: the
    `balance-updated` reaction does it at once), and enqueues a run for each
    running campaign with work due; the number of runs enqueued.

    System-wide by design, like the calls sweeper: it picks campaigns across
    workspaces, then acts on each in its own workspace's name."""
    now = now or datetime.now(UTC)
    scheduled = Campaign.objects.filter(status=CampaignStatus.SCHEDULED, start_at__lte=now)
    for campaign in scheduled.select_related("workspace")[:BEAT_BATCH]:
        _guarded(campaign, _start_if_due, now)
    resume_paused_for_credit(
        Campaign.objects.filter(status=CampaignStatus.PAUSED, pause_reason=PauseReason.INSUFFICIENT_BALANCE)
    )
    due = [str(campaign.pk) for campaign in _with_due_work(now) if _window_may_be_open(campaign, now)]
    for campaign_id in due:
        dial_after_commit(campaign_id)
    return len(due)


def _guarded(campaign: Campaign, action, *args) -> None:
    """One campaign's part of a tick, in its own transaction; a failure is logged,
    counted and skipped."""
    try:
        with transaction.atomic():
            action(campaign, *args)
    except Exception:
        logger.exception("dialer beat: campaign %s skipped", campaign.pk)
        background_failures.labels(FAILURE_LOOP).inc()


def _start_if_due(campaign: Campaign, now: datetime) -> None:
    # Its `campaign-status-changed` (running) makes the reaction dial.
    campaign_start_if_due(campaign_locked(campaign.workspace, campaign.pk), now=now)


def resume_paused_for_credit(candidates) -> int:
    """Resumes the campaigns among `candidates` (a queryset) paused for
    `insufficient-balance` whose workspace's account is no longer blocked; the
    number resumed. Each workspace's are locked together, in id order, after its
    event cursor (the lock order of `campaign_locked`)."""
    from billing.services import account_of

    by_workspace: dict = {}
    for campaign in candidates.select_related("workspace")[:BEAT_BATCH]:
        by_workspace.setdefault(campaign.workspace_id, (campaign.workspace, []))[1].append(campaign.pk)
    resumed = 0
    for workspace, ids in by_workspace.values():
        try:
            with transaction.atomic():
                if account_of(workspace).blocked:
                    continue
                hold_cursor(workspace)
                locked = (
                    scoped(Campaign, workspace)
                    .select_for_update()
                    .filter(pk__in=ids, status=CampaignStatus.PAUSED,
                            pause_reason=PauseReason.INSUFFICIENT_BALANCE)
                    .order_by("pk")
                )
                for campaign in list(locked):
                    campaign.workspace = workspace
                    campaign_set_status(campaign, CampaignStatus.RUNNING)
                    resumed += 1
        except Exception:
            logger.exception("dialer: campaigns of workspace %s not resumed", workspace.pk)
            background_failures.labels(FAILURE_LOOP).inc()
    return resumed


def _with_due_work(now: datetime) -> list[Campaign]:
    """Running campaigns not paced past now with a contact due, or with none left
    to call (their run completes them); least recently dialed first."""
    contacts = Contact.objects.filter(campaign=OuterRef("pk"))
    due = contacts.filter(
        Q(status=ContactStatus.RETRY_WAIT, next_attempt_at__lte=now)
        | Q(status=ContactStatus.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    )
    unfinished = contacts.exclude(status__in=TERMINAL_CONTACT_STATUSES)
    return list(
        Campaign.objects.filter(status=CampaignStatus.RUNNING)
        .filter(Q(next_dial_at__isnull=True) | Q(next_dial_at__lte=now))
        .filter(Exists(due) | ~Exists(unfinished))
        .select_related("workspace")
        .order_by(F("next_dial_at").asc(nulls_first=True))[:BEAT_BATCH]
    )


def _window_may_be_open(campaign: Campaign, now: datetime) -> bool:
    """False only when a campaign's one zone is out of hours; a campaign in its
    contacts' zones is asked per contact by its run."""
    window = campaign.calling_window
    if not window or window["timezone"] == CONTACT_ZONE:
        return True
    return is_open(window, window_zone(window, workspace_zone=campaign.workspace.timezone), now)
