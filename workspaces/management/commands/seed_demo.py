"""Seeds the demo workspace for `make run`: idempotent, with a fresh key each time."""

import json

from django.core.management.base import BaseCommand
from django.db import transaction

from workspaces import services
from workspaces.models import ApiKey, Role, Workspace
from workspaces.scoping import scoped

DEMO_SLUG = "demo"
DEMO_KEY_NAME = "make run demo key"


class Command(BaseCommand):
    help = "Creates (or refreshes) the demo workspace, its owner and an API key."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo-password")
        parser.add_argument("--credit", default="50.00")
        parser.add_argument("--json", action="store_true")

    @transaction.atomic
    def handle(self, *args, **options):
        user = services.user_ensure(username=options["username"], password=options["password"])
        workspace = Workspace.objects.filter(slug=DEMO_SLUG).first()
        if workspace is None:
            workspace = services.workspace_create(
                name="Demo", slug=DEMO_SLUG, owner=user,
                opening_credit=services.parse_credit(options["credit"]),
            )
        services.membership_add(workspace=workspace, user=user, role=Role.OWNER)
        # The key is shown only once, so each run issues a new one and retires the last.
        for old in scoped(ApiKey, workspace).filter(name=DEMO_KEY_NAME, revoked_at__isnull=True):
            services.api_key_revoke(workspace=workspace, key_id=old.pk)
        issued = services.api_key_create(
            workspace=workspace, name=DEMO_KEY_NAME,
            scopes=["read", "write", "admin", "runtime"], created_by=user,
        )
        result = {
            "workspace_id": str(workspace.id), "slug": workspace.slug,
            "username": user.username, "password": options["password"],
            "api_key": issued.plaintext,
        }
        self.stdout.write(json.dumps(result) if options["json"] else self._describe(result))

    def _describe(self, result) -> str:
        return (
            f"Demo workspace: {result['slug']} ({result['workspace_id']})\n"
            f"Sign in:        {result['username']} / {result['password']}\n"
            f"API key:        {result['api_key']}"
        )
