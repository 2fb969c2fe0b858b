"""What the dialer's tests share: a campaign and its contacts as the upload leaves
them, calls ended as a runtime reports them, and what the database says."""

from datetime import UTC, datetime

from calls import services as calls
from calls.agents import ensure_default_agent
from calls.models import ACTIVE_STATUSES, Call
from campaigns.models import Campaign, Contact, Suppression, default_retry
from campaigns.window import zone_for_number

FROM_NUMBER = "+14155550100"


def numbers(count: int, *, first: int = 2000000) -> list[str]:
    """`count` distinct valid San Francisco numbers."""
    return [f"+1415{first + index:07d}" for index in range(count)]


def make_campaign(workspace, *, status: str = "running", retry: dict | None = None, **fields) -> Campaign:
    agent = ensure_default_agent(workspace)
    values = {"name": "Renewals", "agent": agent, "from_number": FROM_NUMBER, "max_concurrency": 5,
              "retry": retry or default_retry(), **fields}
    if status == "running":
        values.setdefault("started_at", datetime.now(UTC))
    return Campaign.objects.create(workspace=workspace, status=status, **values)


def add_contacts(campaign: Campaign, phone_numbers: list[str], *,
                 variables: dict | None = None) -> list[Contact]:
    """Contacts as an upload makes them: pending, each with its number's zone."""
    return [
        Contact.objects.create(
            workspace=campaign.workspace, campaign=campaign, phone_number=number,
            variables=variables if variables is not None else {"row": index},
            timezone=zone_for_number(number),
        )
        for index, number in enumerate(phone_numbers)
    ]


def suppress(workspace, phone_number: str) -> None:
    Suppression.objects.create(workspace=workspace, phone_number=phone_number, reason="asked us not to")


def end_call(workspace, call_id, status: str = "completed", end_reason: str | None = None) -> Call:
    """Moves a queued call to its end the way a runtime reports it."""
    call = Call.objects.get(pk=call_id)
    if call.status == "queued":
        calls.call_transition(workspace=workspace, call_id=call_id, status="ringing")
    if status in ("completed",):
        calls.call_transition(workspace=workspace, call_id=call_id, status="in-progress")
    return calls.call_transition(workspace=workspace, call_id=call_id, status=status, end_reason=end_reason)


def campaign_calls(campaign: Campaign):
    return Call.objects.filter(campaign_id=str(campaign.pk))


def active_calls(campaign: Campaign) -> int:
    return campaign_calls(campaign).filter(status__in=ACTIVE_STATUSES).count()


def statuses(campaign: Campaign) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in Contact.objects.filter(campaign=campaign).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts
