"""manage.py check_ledger: every account's balance against the sum of its ledger.
Exits 1 and lists the accounts that differ (there should never be one)."""

import json

from django.core.management.base import BaseCommand

from billing.services import ledger_discrepancies


class Command(BaseCommand):
    help = "Checks that every credit balance equals the sum of its ledger entries."

    def handle(self, *args, **options):
        problems = ledger_discrepancies()
        for problem in problems:
            self.stderr.write(json.dumps(problem))
        if problems:
            raise SystemExit(1)
        self.stdout.write("Every balance equals the sum of its ledger.")
