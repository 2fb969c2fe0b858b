"""GET /api/v1/workspace (docs/reference/rest.md#workspace): the workspace a request acts in, with the
caller's role (a user) or scopes (a key)."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from workspaces import services
from workspaces.models import Role

WORKSPACE = "/api/v1/workspace"


def _expected(workspace, *, role=None, scopes=()):
    return {
        "id": str(workspace.pk), "slug": workspace.slug, "name": workspace.name,
        "timezone": workspace.timezone, "role": role, "scopes": list(scopes),
    }


def _user_in(workspace, role):
    user = get_user_model().objects.create_user(username=f"user-of-{workspace.slug}")
    services.membership_add(workspace=workspace, user=user, role=role)
    return user


@pytest.mark.parametrize(("persona", "role"), [
    ("owner", "owner"), ("workspace_admin", "admin"), ("teammate", "member"), ("viewer", "viewer"),
])
def test_signed_in_user_sees_the_workspace_and_their_role(request, signed_in, workspace, persona, role):
    # given
    client = signed_in(request.getfixturevalue(persona))

    # when
    response = client.get(WORKSPACE)

    # then
    assert response.status_code == 200, response.content
    assert response.json() == _expected(workspace, role=role)


@pytest.mark.parametrize(("key_name", "scopes"), [
    ("read_key", ["read"]), ("write_key", ["write"]), ("admin_key", ["admin"]),
])
def test_api_key_sees_the_workspace_and_its_scopes(request, workspace, key_name, scopes):
    # given
    key = request.getfixturevalue(key_name)

    # when
    response = key.get(WORKSPACE)

    # then
    assert response.status_code == 200, response.content
    assert response.json() == _expected(workspace, scopes=scopes)


def test_runtime_key_may_not_read_the_workspace(runtime_key):
    # when
    response = runtime_key.get(WORKSPACE)

    # then
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


@pytest.mark.parametrize(("given_scopes", "shown_scopes"), [
    (["admin", "read"], ["read", "admin"]),
    (["runtime", "write", "read", "write"], ["read", "write", "runtime"]),
    (["read", "write", "admin", "runtime"], ["read", "write", "admin", "runtime"]),
])
def test_key_with_several_scopes_shows_them_in_canonical_order(workspace, given_scopes, shown_scopes):
    # given
    issued = services.api_key_create(workspace=workspace, name="multi", scopes=given_scopes)

    # when
    response = Client().get(WORKSPACE, HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")

    # then
    assert response.status_code == 200, response.content
    assert response.json() == _expected(workspace, scopes=shown_scopes)


def test_outsider_sees_globex_never_acme(signed_in, workspace, other_workspace, outsider):
    # when
    response = signed_in(outsider).get(WORKSPACE)

    # then
    assert response.status_code == 200, response.content
    assert response.json() == _expected(other_workspace, role="owner")
    assert str(workspace.pk) not in response.content.decode()


def test_outsider_key_sees_globex_never_acme(workspace, other_workspace, outsider_key):
    # when
    response = outsider_key.get(WORKSPACE)

    # then
    assert response.status_code == 200, response.content
    assert response.json() == _expected(other_workspace, scopes=["read", "write", "admin"])
    assert str(workspace.pk) not in response.content.decode()


@pytest.mark.parametrize("selector", ["acme", "{acme_id}"])
def test_outsider_naming_acme_is_forbidden(signed_in, workspace, outsider, outsider_key, selector):
    # given
    selector = selector.format(acme_id=workspace.pk)

    # when
    by_session = signed_in(outsider).get(WORKSPACE, HTTP_X_WORKSPACE=selector)
    by_key = outsider_key.get(WORKSPACE, headers={"HTTP_X_WORKSPACE": selector})

    # then
    for response in (by_session, by_key):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "workspace_forbidden"
        assert str(workspace.pk) not in response.content.decode()


def test_workspace_shows_its_own_timezone_and_name(signed_in, db):
    # given
    berlin = services.workspace_create(name="Berliner Büro", slug="berlin", timezone_name="Europe/Berlin")
    user = signed_in(_user_in(berlin, Role.MEMBER))

    # when
    response = user.get(WORKSPACE)

    # then
    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": str(berlin.pk), "slug": "berlin", "name": "Berliner Büro",
        "timezone": "Europe/Berlin", "role": "member", "scopes": [],
    }


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ADMIN])
def test_user_in_two_workspaces_sees_the_role_of_the_chosen_one(signed_in, owner, other_workspace, role):
    # given
    services.membership_add(workspace=other_workspace, user=owner, role=role)
    client = signed_in(owner)

    # when
    response = client.get(WORKSPACE, HTTP_X_WORKSPACE="globex")

    # then
    assert response.status_code == 200, response.content
    assert response.json() == _expected(other_workspace, role=role.value)


def test_role_change_shows_on_the_next_request(signed_in, workspace, teammate):
    # given
    client = signed_in(teammate)
    assert client.get(WORKSPACE).json()["role"] == "member"
    services.membership_add(workspace=workspace, user=teammate, role=Role.VIEWER)

    # when
    response = client.get(WORKSPACE)

    # then
    assert response.json() == _expected(workspace, role="viewer")
