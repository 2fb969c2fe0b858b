"""The tally of billing.ledgerentry's rows (workspaces/tallies.py): the total_count of the unfiltered list."""

from django.db import migrations

from workspaces.tallies import tallied_by_triggers


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("workspaces", "0002_row_tally"),
    ]

    operations = [tallied_by_triggers("billing.ledgerentry", "billing_ledgerentry")]
