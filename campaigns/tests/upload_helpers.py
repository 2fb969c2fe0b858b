"""What the contacts and suppression tests share: a campaign, and uploads as a client sends them."""

from calls.agents import ensure_default_agent
from campaigns.models import Campaign, Contact


def make_campaign(workspace, *, status: str = "draft", name: str = "Renewals") -> Campaign:
    return Campaign.objects.create(workspace=workspace, name=name, status=status,
                                   agent=ensure_default_agent(workspace), from_number="+14155550100")


def contacts_path(campaign) -> str:
    return f"/api/v1/campaigns/{campaign.pk}/contacts"


def post_csv(keyed, campaign, text: str | bytes, content_type: str = "text/csv"):
    body = text.encode() if isinstance(text, str) else text
    return keyed.client.post(contacts_path(campaign), body, content_type=content_type,
                             HTTP_AUTHORIZATION=f"Bearer {keyed.key}")


def numbers_of(campaign) -> set[str]:
    return set(Contact.objects.filter(campaign=campaign).values_list("phone_number", flat=True))
