"""manage.py createworkspace NAME [--owner U [--password P]] [--credit A] [--api-key]
[--scopes read,write,admin,runtime] [--json] (docs/operations.md#workspaces-and-keys)."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from project.errors import ApiError
from workspaces import services


class Command(BaseCommand):
    help = "Creates a workspace, optionally with its owner and an API key."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--owner", help="username of the owner; created when missing")
        parser.add_argument("--password", help="password for the owner (sets it when given)")
        parser.add_argument("--credit", default="0", help="opening credit in USD, e.g. 25.00")
        parser.add_argument("--timezone", default="UTC", help="IANA time zone of the workspace")
        parser.add_argument("--api-key", action="store_true", help="also create an API key")
        parser.add_argument("--scopes", default="read,write,admin",
                            help="comma-separated scopes of that key (read,write,admin,runtime)")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options):
        if options["password"] and not options["owner"]:
            raise CommandError("--password needs --owner")
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        try:
            with transaction.atomic():
                result = self._create(options, scopes)
        except ApiError as error:
            raise CommandError(error.message) from None
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self._print_human(result)

    def _create(self, options, scopes):
        owner = None
        if options["owner"]:
            owner = services.user_ensure(username=options["owner"], password=options["password"])
        workspace = services.workspace_create(
            name=options["name"], owner=owner, timezone_name=options["timezone"],
            opening_credit=services.parse_credit(options["credit"]),
        )
        result = {
            "workspace_id": str(workspace.id),
            "slug": workspace.slug,
            "name": workspace.name,
            "owner": owner.username if owner else None,
            "credit": str(workspace.opening_credit),
            "api_key": None,
        }
        if options["api_key"]:
            issued = services.api_key_create(workspace=workspace, name="createworkspace",
                                             scopes=scopes, created_by=owner)
            result["api_key"] = issued.plaintext
            result["api_key_scopes"] = issued.api_key.scopes
        return result

    def _print_human(self, result):
        self.stdout.write(f"Workspace {result['name']!r} created: id {result['workspace_id']}, "
                          f"slug {result['slug']}, credit {result['credit']} USD")
        if result["owner"]:
            self.stdout.write(f"Owner: {result['owner']}")
        if result["api_key"]:
            self.stdout.write(f"API key (shown once): {result['api_key']}")
