"""`make run`'s demo campaign (bin/run-dev runs seed_demo, then seed_demo_campaign)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Campaign, CampaignStatus, Contact
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_given_the_demo_workspace_when_seeded_then_a_campaign_runs_with_its_contacts_once():
    _run("seed_demo")
    first = _run("seed_demo_campaign")
    second = _run("seed_demo_campaign")

    demo = Workspace.objects.get(slug="demo")
    campaigns = Campaign.objects.filter(workspace=demo)
    assert campaigns.count() == 1
    campaign = campaigns.get()
    assert campaign.status == CampaignStatus.RUNNING
    assert Contact.objects.filter(campaign=campaign).count() == 40
    assert Contact.objects.filter(campaign=campaign).exclude(timezone="").count() == 40
    assert "40 contacts" in first and "running" in second


def test_given_the_demo_campaign_finished_when_seeded_again_then_a_new_one_starts():
    _run("seed_demo")
    _run("seed_demo_campaign")
    Campaign.objects.update(status=CampaignStatus.COMPLETED)

    _run("seed_demo_campaign", "--contacts", "5")

    assert Campaign.objects.filter(status=CampaignStatus.RUNNING).count() == 1
    assert Campaign.objects.count() == 2


def test_without_the_demo_workspace_the_command_says_to_seed_it_first():
    with pytest.raises(CommandError, match="seed_demo"):
        _run("seed_demo_campaign")
