"""manage.py createworkspace and seed_demo (docs/operations.md#workspaces-and-keys)."""

import io
import json
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from workspaces.models import ApiKey, Membership, Role, Workspace

User = get_user_model()


def _run(command, *args) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def _create(*args) -> dict:
    return json.loads(_run("createworkspace", *args, "--json"))


def _get_workspace(key: str):
    return Client().get("/api/v1/workspace", HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.mark.django_db
def test_createworkspace_json_prints_the_workspace_and_a_key_that_works():
    # when
    result = _create("Initech", "--api-key")

    # then
    workspace = Workspace.objects.get(pk=result["workspace_id"])
    assert result["slug"] == workspace.slug == "initech"
    assert result["api_key"].startswith("cbk_")
    response = _get_workspace(result["api_key"])
    assert response.status_code == 200
    assert response.json()["id"] == result["workspace_id"]
    assert response.json()["slug"] == "initech"


@pytest.mark.django_db
def test_createworkspace_without_json_prints_the_key_once_for_a_person_to_read():
    # when
    output = _run("createworkspace", "Initech", "--api-key")

    # then
    workspace = Workspace.objects.get(slug="initech")
    assert str(workspace.pk) in output
    [key_line] = [line for line in output.splitlines() if line.startswith("API key")]
    key = key_line.rsplit(" ", 1)[-1]
    assert _get_workspace(key).status_code == 200


@pytest.mark.django_db
def test_createworkspace_without_api_key_makes_no_key():
    # when
    result = _create("Initech")

    # then
    assert result["api_key"] is None
    assert not ApiKey.objects.filter(workspace_id=result["workspace_id"]).exists()


@pytest.mark.django_db
def test_createworkspace_creates_a_missing_owner_who_can_sign_in_with_the_password():
    # when
    result = _create("Initech", "--owner", "peter", "--password", "tps-report-cover-sheet")

    # then
    user = User.objects.get(username="peter")
    membership = Membership.objects.get(user=user)
    assert str(membership.workspace_id) == result["workspace_id"]
    assert membership.role == Role.OWNER
    assert Client().login(username="peter", password="tps-report-cover-sheet")


@pytest.mark.django_db
def test_createworkspace_creates_an_owner_without_password_who_cannot_sign_in_yet():
    # when
    _create("Initech", "--owner", "peter")

    # then
    user = User.objects.get(username="peter")
    assert not user.has_usable_password()
    assert Membership.objects.get(user=user).role == Role.OWNER


@pytest.mark.django_db
def test_createworkspace_makes_an_existing_user_the_owner(outsider, other_workspace):
    # given a user who already belongs to globex
    users_before = User.objects.count()

    # when
    result = _create("Initech", "--owner", outsider.username)

    # then
    assert User.objects.count() == users_before
    membership = Membership.objects.get(user=outsider, workspace_id=result["workspace_id"])
    assert membership.role == Role.OWNER
    assert Membership.objects.filter(user=outsider, workspace=other_workspace).exists()
    assert Client().login(username=outsider.username, password="correct horse battery staple")


@pytest.mark.django_db
def test_createworkspace_stores_the_credit_to_the_cent():
    # when
    result = _create("Initech", "--credit", "12.5")

    # then
    workspace = Workspace.objects.get(pk=result["workspace_id"])
    assert workspace.opening_credit == Decimal("12.50")
    assert result["credit"] == "12.50"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("scopes", "expected"),
    [("read,runtime", ["read", "runtime"]), ("runtime", ["runtime"]), ("admin, read", ["read", "admin"])],
)
def test_createworkspace_gives_the_key_exactly_the_scopes_asked_for(scopes, expected):
    # when
    result = _create("Initech", "--api-key", "--scopes", scopes)

    # then
    api_key = ApiKey.objects.get(workspace_id=result["workspace_id"])
    assert sorted(api_key.scopes) == sorted(expected)
    assert sorted(result["api_key_scopes"]) == sorted(expected)


@pytest.mark.django_db
def test_a_runtime_only_key_from_createworkspace_cannot_read():
    # given
    result = _create("Initech", "--api-key", "--scopes", "runtime")

    # when
    response = _get_workspace(result["api_key"])

    # then
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [
        ["Initech", "--owner", "peter", "--credit", "-1"],
        ["Initech", "--owner", "peter", "--credit", "abc"],
        ["Initech", "--owner", "peter", "--credit", "NaN"],
        ["Initech", "--owner", "peter", "--credit", "10000000000"],
        ["Initech", "--owner", "peter", "--credit", "1e30"],
        ["Initech", "--owner", "peter", "--api-key", "--scopes", "read,superpowers"],
        ["Initech", "--owner", "peter", "--api-key", "--scopes", ","],
        ["Initech", "--password", "tps-report-cover-sheet"],
        ["Initech", "--owner", "peter", "--timezone", "Mars/Olympus_Mons"],
        # the host's own zone: the same workspace would mean other hours on another host
        ["Initech", "--owner", "peter", "--timezone", "localtime"],
        ["   ", "--owner", "peter"],
        ["I" * 201, "--owner", "peter"],
    ],
    ids=[
        "negative-credit", "credit-abc", "credit-nan", "credit-too-large-to-store",
        "credit-too-large-to-round", "unknown-scope", "no-scopes", "password-without-owner",
        "bad-timezone", "host-localtime", "blank-name", "name-too-long",
    ],
)
def test_createworkspace_refuses_bad_input_and_creates_nothing(args):
    # given
    users_before = User.objects.count()

    # when
    with pytest.raises(CommandError):
        _run("createworkspace", *args, "--json")

    # then
    assert Workspace.objects.count() == 0
    assert ApiKey.objects.count() == 0
    assert User.objects.count() == users_before


@pytest.mark.django_db
def test_two_workspaces_with_the_same_name_get_distinct_slugs():
    # when
    first = _create("Acme Corp")
    second = _create("Acme Corp")

    # then
    assert first["slug"] == "acme-corp"
    assert second["slug"] != first["slug"]
    assert second["slug"].startswith("acme-corp")
    assert Workspace.objects.filter(name="Acme Corp").count() == 2


@pytest.mark.django_db
def test_seed_demo_twice_keeps_one_demo_workspace_and_retires_the_earlier_key():
    # given
    first = json.loads(_run("seed_demo", "--json"))

    # when
    second = json.loads(_run("seed_demo", "--json"))

    # then
    assert Workspace.objects.filter(slug="demo").count() == 1
    assert first["workspace_id"] == second["workspace_id"]
    old = _get_workspace(first["api_key"])
    assert old.status_code == 401
    assert old.json()["error"]["code"] == "api_key_revoked"
    new = _get_workspace(second["api_key"])
    assert new.status_code == 200
    assert new.json()["slug"] == "demo"
    workspace = Workspace.objects.get(slug="demo")
    assert ApiKey.objects.filter(workspace=workspace, revoked_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_seed_demo_user_signs_in_with_the_printed_password():
    # when
    result = json.loads(_run("seed_demo", "--json"))

    # then
    client = Client()
    assert client.login(username=result["username"], password=result["password"])
    response = client.get("/api/v1/workspace")
    assert response.status_code == 200
    assert response.json()["slug"] == "demo"
    assert response.json()["role"] == "owner"


@pytest.mark.django_db
def test_seed_demo_prints_sign_in_and_key_for_a_person_to_read():
    # when
    output = _run("seed_demo", "--username", "demo-dana", "--password", "a-long-demo-password")

    # then
    assert "demo-dana / a-long-demo-password" in output
    [key_line] = [line for line in output.splitlines() if line.startswith("API key")]
    assert _get_workspace(key_line.split()[-1]).status_code == 200
    assert Client().login(username="demo-dana", password="a-long-demo-password")
