"""Gives `make run`'s demo workspace two schedules, so the dashboard's schedules
view has runs to show: a call every two minutes and a morning call on weekdays,
idempotent, through the same service as the API (docs/schedules.md)."""

from django.core.management.base import BaseCommand, CommandError

from schedules import services
from schedules.models import Schedule
from workspaces.models import Workspace
from workspaces.scoping import scoped

# 555-0100 to 555-0199 are reserved for fiction.
DEMO_SCHEDULES = [
    {"name": "Demo: check-in every two minutes", "cron": "*/2 * * * *",
     "action": {"type": "call", "to_number": "+12125550150", "variables": {"first_name": "Ada"}}},
    {"name": "Demo: weekday morning reminder", "cron": "0 9 * * 1-5", "timezone": "America/New_York",
     "action": {"type": "call", "to_number": "+13125550151", "variables": {"first_name": "Grace"}}},
]


class Command(BaseCommand):
    help = "Creates the demo workspace's schedules unless they exist."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", default="demo", help="the workspace's slug")

    def handle(self, *args, **options):
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"no workspace {options['workspace']!r}: run seed_demo first")
        for demo in DEMO_SCHEDULES:
            schedule = scoped(Schedule, workspace).filter(name=demo["name"]).first()
            if schedule is None:
                schedule = services.schedule_create(workspace=workspace, **demo)
            self.stdout.write(f"Demo schedule:  {schedule.name} ({schedule.status}, {schedule.cron})")
