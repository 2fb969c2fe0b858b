"""Agents (docs/reference/rest.md#agents): every workspace has a default, `helpdesk`; admins create and
change them; names are unique in a workspace; other workspaces see nothing."""

import json

import pytest
from django.core.management import call_command

from calls.models import Agent
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db


def test_a_new_workspace_has_the_default_helpdesk_agent(workspace):
    [agent] = Agent.objects.filter(workspace=workspace)

    assert agent.name == "helpdesk"
    assert agent.is_default
    assert agent.nodes and agent.tools


def test_createworkspace_creates_the_default_agent(capsys):
    call_command("createworkspace", "Initech", "--json")
    created = json.loads(capsys.readouterr().out)

    workspace = Workspace.objects.get(slug=created["slug"])
    assert list(Agent.objects.filter(workspace=workspace).values_list("name", "is_default")) == [
        ("helpdesk", True)]


def test_an_admin_creates_reads_and_changes_an_agent(admin_key, read_key):
    created = admin_key.post("/api/v1/agents", {"name": "sales", "language": "en-GB",
                                                "max_duration_seconds": 300, "nodes": ["hello", "pitch"],
                                                "tools": ["book_demo"]})
    agent_id = created.json()["id"]

    changed = admin_key.patch(f"/api/v1/agents/{agent_id}", {"voice": "nova", "max_duration_seconds": 900})
    read = read_key.get(f"/api/v1/agents/{agent_id}")
    listed = read_key.get("/api/v1/agents")

    assert created.status_code == 201
    assert created.json()["is_default"] is False
    assert changed.status_code == 200
    assert read.json()["voice"] == "nova" and read.json()["max_duration_seconds"] == 900
    assert read.json()["language"] == "en-GB" and read.json()["nodes"] == ["hello", "pitch"]
    assert sorted(agent["name"] for agent in listed.json()["results"]) == ["helpdesk", "sales"]
    assert listed.json()["total_count"] == 2


def test_agent_names_are_unique_in_a_workspace(admin_key):
    first = admin_key.post("/api/v1/agents", {"name": "sales"})
    second = admin_key.post("/api/v1/agents", {"name": "sales"})
    renamed = admin_key.patch(f"/api/v1/agents/{first.json()['id']}", {"name": "helpdesk"})

    assert second.status_code == 409 and second.json()["error"]["code"] == "agent_exists"
    assert renamed.status_code == 409 and renamed.json()["error"]["code"] == "agent_exists"
    assert Agent.objects.filter(name="sales").count() == 1


@pytest.mark.parametrize("body", [
    {"name": ""}, {"name": "x" * 65}, {"name": "a", "max_duration_seconds": 5},
    {"name": "a", "nodes": "greeting"}, {"name": "a", "tools": [""]},
])
def test_an_invalid_agent_is_a_400_and_creates_nothing(admin_key, body):
    response = admin_key.post("/api/v1/agents", body)

    assert response.status_code == 400
    assert "error" in response.json()
    assert Agent.objects.count() == 1  # the default only


def test_only_admins_change_agents(write_key, read_key):
    helpdesk = Agent.objects.get(name="helpdesk")

    for client in (write_key, read_key):
        assert client.post("/api/v1/agents", {"name": "x"}).status_code == 403
        assert client.patch(f"/api/v1/agents/{helpdesk.pk}", {"voice": "x"}).status_code == 403
    assert Agent.objects.count() == 1


def test_another_workspaces_agent_is_not_found(outsider_key, other_workspace, workspace):
    ours = Agent.objects.get(workspace=workspace)

    assert outsider_key.get(f"/api/v1/agents/{ours.pk}").status_code == 404
    assert outsider_key.patch(f"/api/v1/agents/{ours.pk}", {"voice": "x"}).status_code == 404
    assert outsider_key.get("/api/v1/agents/not-a-uuid").status_code == 404
    assert [agent["id"] for agent in outsider_key.get("/api/v1/agents").json()["results"]] == [
        str(Agent.objects.get(workspace=other_workspace).pk)]


def test_workspaces_from_before_the_calls_app_get_their_default_agent_by_migration():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("calls.migrations.0002_default_agent_for_existing_workspaces")
    bare = Workspace.objects.create(name="Old", slug="old")  # no service, no signal
    named = Workspace.objects.create(name="Named", slug="named")
    Agent.objects.create(workspace=named, name="helpdesk")

    migration.create_default_agents(apps, None)
    migration.create_default_agents(apps, None)

    for workspace in (bare, named):
        agents = Agent.objects.filter(workspace=workspace).values_list("name", "is_default")
        assert list(agents) == [("helpdesk", True)]
