"""The tally of calls.call's rows (workspaces/tallies.py): the total_count of the unfiltered list."""

from django.db import migrations

from workspaces.tallies import tallied_by_triggers


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0006_admin_filter_indexes"),
        ("workspaces", "0002_row_tally"),
    ]

    operations = [tallied_by_triggers("calls.call", "calls_call")]
