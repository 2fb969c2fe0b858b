"""Gives `make run`'s demo workspace a running campaign, so the dashboard's
campaigns view has something to show: idempotent, through the same services as
the API (docs/campaigns.md)."""

import io

from django.core.management.base import BaseCommand, CommandError

from campaigns import contacts, services
from campaigns.models import FINISHED_CAMPAIGN_STATUSES, Campaign
from workspaces.models import Workspace
from workspaces.scoping import scoped

DEMO_CAMPAIGN_NAME = "Demo: renewal reminders"
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Dennis")
# 555-0100 to 555-0199 are reserved for fiction. Four area codes, four zones: the
# contact list shows numbers from across the country. No calling window: the demo
# calls whenever someone runs it.
AREA_CODES = ("212", "312", "303", "415")


class Command(BaseCommand):
    help = "Creates and starts the demo workspace's campaign unless one is still going."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", default="demo", help="the workspace's slug")
        parser.add_argument("--contacts", type=int, default=40, help="at most 100 (555-0100 to 0199)")
        parser.add_argument("--max-concurrency", type=int, default=2)

    def handle(self, *args, **options):
        if not 1 <= options["contacts"] <= 100:
            raise CommandError("--contacts must be 1 to 100: the demo numbers are 555-0100 to 555-0199")
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"no workspace {options['workspace']!r}: run seed_demo first")
        going = (scoped(Campaign, workspace).filter(name=DEMO_CAMPAIGN_NAME)
                 .exclude(status__in=FINISHED_CAMPAIGN_STATUSES).first())
        if going is not None:
            self.stdout.write(f"Demo campaign:  {going.name} ({going.status})")
            return
        campaign = services.campaign_create(
            workspace=workspace, name=DEMO_CAMPAIGN_NAME, max_concurrency=options["max_concurrency"],
            retry={"max_attempts": 2, "retry_on": ["no-answer", "busy", "voicemail"], "delay_seconds": 120},
        )
        rows = ["phone_number,first_name,plan"]
        for n in range(options["contacts"]):
            number = f"+1{AREA_CODES[n % len(AREA_CODES)]}555{100 + n:04d}"
            rows.append(f"{number},{FIRST_NAMES[n % len(FIRST_NAMES)]},{'annual' if n % 3 else 'monthly'}")
        result = contacts.contacts_upload(workspace=workspace, campaign_id=campaign.pk,
                                          file=io.BytesIO("\n".join(rows).encode()), kind="csv")
        campaign = services.campaign_start(workspace=workspace, campaign_id=campaign.pk)
        self.stdout.write(f"Demo campaign:  {campaign.name} ({campaign.status}, {result.accepted} contacts)")
