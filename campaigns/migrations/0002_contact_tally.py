"""The tally of campaigns.contact's rows (workspaces/tallies.py): the total_count of the unfiltered list."""

from django.db import migrations

from workspaces.tallies import tallied_by_triggers


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        ("workspaces", "0002_row_tally"),
    ]

    operations = [tallied_by_triggers("campaigns.contact", "campaigns_contact", "campaign_id")]
