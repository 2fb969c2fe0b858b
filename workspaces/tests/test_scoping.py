"""Tenant scoping (docs/reference/rest.md#authentication-and-tenancy): every tenant row carries its
workspace, and every query
of tenant data goes through one helper that cannot forget the workspace filter."""

import uuid

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models

from project.errors import NotFound
from workspaces.models import ApiKey, Membership, TenantModel, Workspace
from workspaces.scoping import get_scoped_or_404, scoped

PROJECT_APPS = ("workspaces", "calls", "billing", "campaigns", "exports", "notifications", "realtime",
                "webhooks")
GLOBAL_MODELS = {Workspace}


def _project_models():
    return [
        model for model in apps.get_models()
        if model.__module__.split(".")[0] in PROJECT_APPS
    ]


def _tenancy_problem(model) -> str | None:
    if not issubclass(model, TenantModel):
        return "does not derive from TenantModel"
    field = model._meta.get_field("workspace")
    if not isinstance(field, models.ForeignKey) or field.related_model is not Workspace:
        return "its `workspace` is not a foreign key to Workspace"
    if field.null:
        return "its `workspace` may be null"
    return None


def test_every_model_of_the_project_is_a_tenant_model_unless_allowed_to_be_global():
    # given
    project_models = _project_models()

    # when
    problems = {
        f"{model._meta.label}: {problem}"
        for model in project_models
        if model not in GLOBAL_MODELS and (problem := _tenancy_problem(model)) is not None
    }

    # then
    assert {Membership, ApiKey} <= set(project_models)
    assert problems == set()


def test_the_tenancy_check_flags_a_model_without_a_workspace():
    # given Django's own user model, which belongs to no workspace
    user_model = get_user_model()

    # when
    problem = _tenancy_problem(user_model)

    # then
    assert problem == "does not derive from TenantModel"


@pytest.mark.parametrize("model", [Workspace, get_user_model()], ids=["workspace", "user"])
def test_scoped_refuses_a_model_that_is_not_a_tenant_model(model, workspace):
    # when / then
    with pytest.raises(TypeError, match="not a tenant model"):
        scoped(model, workspace)


@pytest.mark.parametrize(
    "given", [None, "workspace-id", "workspace-slug"], ids=["none", "an-id", "a-slug"]
)
def test_scoped_refuses_anything_but_a_workspace(given, workspace):
    # given
    value = {None: None, "workspace-id": workspace.pk, "workspace-slug": workspace.slug}[given]

    # when / then
    with pytest.raises(TypeError, match="workspace is required"):
        scoped(ApiKey, value)


def test_scoped_returns_only_the_workspaces_own_rows(read_key, admin_key, outsider_key, workspace):
    # when
    keys = set(scoped(ApiKey, workspace))

    # then
    assert keys == {read_key.api_key, admin_key.api_key}


def test_get_scoped_or_404_finds_an_own_api_key(read_key, workspace):
    # when
    found = get_scoped_or_404(ApiKey, workspace, pk=read_key.api_key.pk)

    # then
    assert found == read_key.api_key


def test_get_scoped_or_404_finds_an_own_membership(teammate, workspace):
    # given
    membership = Membership.objects.get(user=teammate)

    # when
    found = get_scoped_or_404(Membership, workspace, pk=membership.pk)

    # then
    assert found == membership


@pytest.mark.parametrize(
    "which", ["another-workspaces", "nonexistent", "malformed", "empty"]
)
def test_get_scoped_or_404_does_not_find_an_api_key_that_is_not_the_workspaces(
    which, workspace, read_key, outsider_key
):
    # given
    key_id = {
        "another-workspaces": outsider_key.api_key.pk,
        "nonexistent": uuid.uuid4(),
        "malformed": "not-a-uuid",
        "empty": "",
    }[which]

    # when
    with pytest.raises(NotFound) as excinfo:
        get_scoped_or_404(ApiKey, workspace, pk=key_id)

    # then
    assert excinfo.value.status == 404
    assert excinfo.value.code == "not_found"


@pytest.mark.parametrize("which", ["another-workspaces", "nonexistent", "malformed"])
def test_get_scoped_or_404_does_not_find_a_membership_that_is_not_the_workspaces(
    which, workspace, teammate, outsider
):
    # given
    membership_id = {
        "another-workspaces": Membership.objects.get(user=outsider).pk,
        "nonexistent": Membership.objects.order_by("-pk").first().pk + 1000,
        "malformed": "abc",
    }[which]

    # when
    with pytest.raises(NotFound) as excinfo:
        get_scoped_or_404(Membership, workspace, pk=membership_id)

    # then
    assert excinfo.value.status == 404
    assert excinfo.value.code == "not_found"


def test_the_row_of_another_workspace_is_found_in_its_own(outsider_key, other_workspace, workspace):
    # given a key that acme cannot see
    key_id = outsider_key.api_key.pk
    with pytest.raises(NotFound):
        get_scoped_or_404(ApiKey, workspace, pk=key_id)

    # when
    found = get_scoped_or_404(ApiKey, other_workspace, pk=key_id)

    # then
    assert found == outsider_key.api_key


def test_the_not_found_message_names_the_model_as_people_write_it(workspace):
    # when
    with pytest.raises(NotFound) as excinfo:
        get_scoped_or_404(ApiKey, workspace, pk=uuid.uuid4())

    # then
    assert excinfo.value.message == "API key not found."
