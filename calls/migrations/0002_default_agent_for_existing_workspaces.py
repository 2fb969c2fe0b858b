"""Workspaces created before the calls app get their default agent (new ones
get it from the workspace_created signal)."""

from django.db import migrations

DEFAULT_AGENT = {
    "name": "helpdesk", "language": "en-US", "voice": "aria", "max_duration_seconds": 600,
    "greeting": "Hi, you've reached the help desk. How can I help you today?",
    "nodes": ["greeting", "identify", "resolve", "wrap-up"],
    "tools": ["lookup_account", "create_ticket"],
}


def create_default_agents(apps, schema_editor):
    Workspace = apps.get_model("workspaces", "Workspace")
    Agent = apps.get_model("calls", "Agent")
    with_default = Agent.objects.filter(is_default=True).values("workspace_id")
    for workspace in Workspace.objects.exclude(pk__in=with_default):
        named = Agent.objects.filter(workspace=workspace, name=DEFAULT_AGENT["name"]).first()
        if named is not None:
            named.is_default = True
            named.save(update_fields=["is_default"])
        else:
            Agent.objects.create(workspace=workspace, is_default=True, **DEFAULT_AGENT)


class Migration(migrations.Migration):
    dependencies = [("calls", "0001_initial"), ("workspaces", "0001_initial")]

    operations = [migrations.RunPython(create_default_agents, migrations.RunPython.noop)]
