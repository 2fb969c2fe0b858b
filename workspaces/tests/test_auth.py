"""Authentication and authorisation (docs/reference/rest.md#authentication-and-tenancy): bearer keys,
sessions with CSRF,
X-Workspace, scopes and roles, and the coarse last_used_at of keys."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from workspaces import services
from workspaces.models import ApiKey, Role

WORKSPACE = "/api/v1/workspace"
SSE_TICKET = "/api/v1/auth/sse-ticket"
API_KEYS = "/api/v1/api-keys"
NEW_KEY = {"name": "ci", "scopes": ["read"]}


def _assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def _csrf_token(client) -> str:
    client.get("/accounts/login/")
    return client.cookies["csrftoken"].value


def _request(client, method, path, **extra):
    """One call to `path`: `client` is a Django Client, or a KeyedClient (which sends JSON itself)."""
    if method == "get":
        return client.get(path, **extra)
    if isinstance(client, Client):
        extra["content_type"] = "application/json"
    return client.post(path, NEW_KEY if path == API_KEYS else {}, **extra)


def _revoked(api_key):
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    return api_key


@pytest.fixture
def owner_in_two_workspaces(owner, other_workspace):
    services.membership_add(workspace=other_workspace, user=owner, role=Role.ADMIN)
    return owner


ENDPOINTS = [("get", WORKSPACE), ("post", SSE_TICKET), ("get", API_KEYS), ("post", API_KEYS)]


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("get", WORKSPACE, 200), ("post", SSE_TICKET, 200), ("get", API_KEYS, 200), ("post", API_KEYS, 201),
])
def test_valid_bearer_key_is_accepted(admin_key, method, path, expected):
    # when
    response = _request(Client(), method, path, HTTP_AUTHORIZATION=f"Bearer {admin_key.key}")

    # then
    assert response.status_code == expected, response.content


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_missing_credentials_is_401_not_authenticated(workspace, method, path):
    # when
    response = _request(Client(), method, path)

    # then
    _assert_error(response, 401, "not_authenticated")
    assert ApiKey.objects.count() == 0


@pytest.mark.parametrize("header", [
    "Basic x", "Bearer", "Bearer ", "Bearer    ", "Token {key}", "Basic {key}", "{key}", "   ",
])
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_malformed_authorization_header_is_401_invalid_authorization(admin_key, header, method, path):
    # when
    response = _request(Client(), method, path, HTTP_AUTHORIZATION=header.format(key=admin_key.key))

    # then
    _assert_error(response, 401, "invalid_authorization")


@pytest.mark.parametrize("presented", [
    "garbage",
    "cbk_",
    "cbk_nope",
    "cbk_zzzzzzzz_" + "A" * 43,
    "{prefix}_" + "B" * 43,
    "{key}x",
    "{key_without_last_char}",
    "{upper_key}",
])
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_unknown_or_wrong_secret_key_is_401_invalid_api_key(admin_key, presented, method, path):
    # given
    key = admin_key.key
    presented = presented.format(
        prefix=key[:12], key=key, key_without_last_char=key[:-1], upper_key=key.upper(),
    )

    # when
    response = _request(Client(), method, path, HTTP_AUTHORIZATION=f"Bearer {presented}")

    # then
    _assert_error(response, 401, "invalid_api_key")
    assert ApiKey.objects.count() == 1


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_revoked_key_is_401_api_key_revoked(admin_key, method, path):
    # given
    _revoked(admin_key.api_key)

    # when
    response = _request(admin_key, method, path)

    # then
    _assert_error(response, 401, "api_key_revoked")
    assert ApiKey.objects.count() == 1
    admin_key.api_key.refresh_from_db()
    assert admin_key.api_key.last_used_at is None


@pytest.mark.parametrize(("header", "code"), [
    ("Bearer cbk_zzzzzzzz_" + "A" * 43, "invalid_api_key"),
    ("Bearer garbage", "invalid_api_key"),
    ("Bearer {revoked_key}", "api_key_revoked"),
    ("Basic x", "invalid_authorization"),
    ("Bearer", "invalid_authorization"),
])
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_bad_bearer_header_is_401_even_with_a_valid_session(
    signed_in, owner, read_key, header, code, method, path
):
    # given
    client = signed_in(owner)
    token = _csrf_token(client)
    _revoked(read_key.api_key)

    # when
    response = _request(client, method, path, HTTP_AUTHORIZATION=header.format(revoked_key=read_key.key),
                        HTTP_X_CSRFTOKEN=token)

    # then
    _assert_error(response, 401, code)
    assert ApiKey.objects.count() == 1


@pytest.mark.parametrize(("key_name", "method", "path"), [
    ("runtime_key", "get", WORKSPACE),
    ("runtime_key", "post", SSE_TICKET),
    ("runtime_key", "get", API_KEYS),
    ("read_key", "get", API_KEYS),
    ("read_key", "post", API_KEYS),
    ("write_key", "get", API_KEYS),
    ("write_key", "post", API_KEYS),
])
def test_key_without_the_needed_scope_is_403_insufficient_scope(request, key_name, method, path):
    # given
    key = request.getfixturevalue(key_name)

    # when
    response = _request(key, method, path)

    # then
    _assert_error(response, 403, "insufficient_scope")
    assert ApiKey.objects.count() == 1


@pytest.mark.parametrize("persona", ["viewer", "teammate"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_role_without_admin_is_403_insufficient_role_on_api_keys(request, signed_in, persona, method):
    # given
    client = signed_in(request.getfixturevalue(persona))
    token = _csrf_token(client)

    # when
    response = _request(client, method, API_KEYS, HTTP_X_CSRFTOKEN=token)

    # then
    _assert_error(response, 403, "insufficient_role")
    assert ApiKey.objects.count() == 0


@pytest.mark.parametrize(("caller", "code"), [
    ("read_key", "insufficient_scope"), ("write_key", "insufficient_scope"),
    ("viewer", "insufficient_role"), ("teammate", "insufficient_role"),
])
def test_caller_without_admin_cannot_revoke(request, signed_in, admin_key, caller, code):
    # given
    if caller.endswith("_key"):
        client = request.getfixturevalue(caller)
    else:
        client = signed_in(request.getfixturevalue(caller))
        client.defaults["HTTP_X_CSRFTOKEN"] = _csrf_token(client)

    # when
    response = _request(client, "post", f"{API_KEYS}/{admin_key.api_key.pk}/revoke")

    # then
    _assert_error(response, 403, code)
    assert admin_key.get(WORKSPACE).status_code == 200


@pytest.mark.parametrize("path", [WORKSPACE, API_KEYS])
def test_session_get_works_without_csrf_token(signed_in, owner, path):
    # when
    response = signed_in(owner).get(path)

    # then
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path", [SSE_TICKET, API_KEYS, API_KEYS + "/{key_id}/revoke"])
@pytest.mark.parametrize("token", [None, "wrong-token", "x" * 64])
def test_session_post_without_valid_csrf_token_is_403_and_changes_nothing(
    signed_in, owner, read_key, path, token
):
    # given
    client = signed_in(owner)
    _csrf_token(client)
    extra = {} if token is None else {"HTTP_X_CSRFTOKEN": token}

    # when
    response = _request(client, "post", path.format(key_id=read_key.api_key.pk), **extra)

    # then
    _assert_error(response, 403, "csrf_failed")
    assert ApiKey.objects.count() == 1
    assert read_key.get(WORKSPACE).status_code == 200


@pytest.mark.parametrize(("path", "expected"), [(SSE_TICKET, 200), (API_KEYS, 201)])
def test_session_post_with_csrf_token_works(signed_in, owner, path, expected):
    # given
    client = signed_in(owner)
    token = _csrf_token(client)

    # when
    response = _request(client, "post", path, HTTP_X_CSRFTOKEN=token)

    # then
    assert response.status_code == expected, response.content
    assert ApiKey.objects.count() == (1 if path == API_KEYS else 0)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_user_in_two_workspaces_without_x_workspace_is_400_workspace_required(
    signed_in, owner_in_two_workspaces, method, path
):
    # given
    client = signed_in(owner_in_two_workspaces)

    # when
    response = _request(client, method, path, HTTP_X_CSRFTOKEN=_csrf_token(client))

    # then
    error = _assert_error(response, 400, "workspace_required")
    assert sorted(error["details"]["workspaces"]) == ["acme", "globex"]
    assert ApiKey.objects.count() == 0


@pytest.mark.parametrize(("target", "role"), [("workspace", "owner"), ("other_workspace", "admin")])
@pytest.mark.parametrize("by", ["slug", "id"])
def test_x_workspace_by_slug_or_id_selects_the_workspace(
    request, signed_in, owner_in_two_workspaces, target, role, by
):
    # given
    chosen = request.getfixturevalue(target)
    selector = chosen.slug if by == "slug" else str(chosen.pk)
    client = signed_in(owner_in_two_workspaces)
    token = _csrf_token(client)

    # when
    shown = client.get(WORKSPACE, HTTP_X_WORKSPACE=selector)
    created = _request(client, "post", API_KEYS, HTTP_X_WORKSPACE=selector, HTTP_X_CSRFTOKEN=token)

    # then
    assert shown.status_code == 200, shown.content
    assert (shown.json()["slug"], shown.json()["role"]) == (chosen.slug, role)
    assert created.status_code == 201, created.content
    assert ApiKey.objects.get(pk=created.json()["id"]).workspace == chosen


@pytest.mark.parametrize("selector", ["globex", "{globex_id}", "no-such-workspace", "{acme_id}x"])
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_foreign_x_workspace_is_403_never_a_fallback(
    signed_in, owner, workspace, other_workspace, selector, method, path
):
    # given
    client = signed_in(owner)
    selector = selector.format(globex_id=other_workspace.pk, acme_id=workspace.pk)

    # when
    response = _request(client, method, path, HTTP_X_WORKSPACE=selector, HTTP_X_CSRFTOKEN=_csrf_token(client))

    # then
    _assert_error(response, 403, "workspace_forbidden")
    assert ApiKey.objects.count() == 0


@pytest.mark.parametrize("selector", ["globex", "{globex_id}", "no-such-workspace"])
def test_key_with_x_workspace_of_another_workspace_is_403(admin_key, other_workspace, selector):
    # given
    selector = selector.format(globex_id=other_workspace.pk)

    # when
    response = admin_key.get(WORKSPACE, headers={"HTTP_X_WORKSPACE": selector})

    # then
    _assert_error(response, 403, "workspace_forbidden")
    admin_key.api_key.refresh_from_db()
    assert admin_key.api_key.last_used_at is None


@pytest.mark.parametrize("by", ["slug", "id"])
def test_key_with_x_workspace_of_its_own_workspace_is_200(admin_key, workspace, by):
    # given
    selector = workspace.slug if by == "slug" else str(workspace.pk)

    # when
    response = admin_key.get(WORKSPACE, headers={"HTTP_X_WORKSPACE": selector})

    # then
    assert response.status_code == 200, response.content
    assert response.json()["slug"] == "acme"


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_user_without_memberships_is_403_no_workspace(signed_in, workspace, method, path):
    # given
    loner = get_user_model().objects.create_user(username="lonely", password="pw-unused-here")
    client = signed_in(loner)

    # when
    response = _request(client, method, path, HTTP_X_CSRFTOKEN=_csrf_token(client))

    # then
    _assert_error(response, 403, "no_workspace")


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_inactive_user_is_401(signed_in, owner, method, path):
    # given
    client = signed_in(owner)
    token = _csrf_token(client)
    owner.is_active = False
    owner.save(update_fields=["is_active"])

    # when
    response = _request(client, method, path, HTTP_X_CSRFTOKEN=token)

    # then
    _assert_error(response, 401, "not_authenticated")
    assert ApiKey.objects.count() == 0


def test_first_use_of_a_key_sets_last_used_at(read_key):
    # given
    assert read_key.api_key.last_used_at is None

    # when
    response = read_key.get(WORKSPACE)

    # then
    assert response.status_code == 200
    read_key.api_key.refresh_from_db()
    assert read_key.api_key.last_used_at is not None
    assert read_key.api_key.last_used_at >= read_key.api_key.created_at


def test_second_use_within_the_resolution_does_not_rewrite_last_used_at(read_key):
    # given
    read_key.get(WORKSPACE)
    read_key.api_key.refresh_from_db()
    first = read_key.api_key.last_used_at

    # when
    with CaptureQueriesContext(connection) as queries:
        response = read_key.get(WORKSPACE)

    # then
    assert response.status_code == 200
    read_key.api_key.refresh_from_db()
    assert read_key.api_key.last_used_at == first
    table = ApiKey._meta.db_table
    assert not [q for q in queries if q["sql"].startswith("UPDATE") and table in q["sql"]]


def test_use_after_the_resolution_rewrites_last_used_at(read_key):
    # given
    read_key.get(WORKSPACE)
    read_key.api_key.refresh_from_db()
    first = read_key.api_key.last_used_at

    # when
    with override_settings(API_KEY_LAST_USED_RESOLUTION_SECONDS=0):
        response = read_key.get(WORKSPACE)

    # then
    assert response.status_code == 200
    read_key.api_key.refresh_from_db()
    assert read_key.api_key.last_used_at > first


def test_use_long_after_the_last_recorded_use_rewrites_last_used_at(read_key):
    # given
    long_ago = timezone.now() - timedelta(hours=2)
    ApiKey.objects.filter(pk=read_key.api_key.pk).update(last_used_at=long_ago)

    # when
    response = read_key.get(WORKSPACE)

    # then
    assert response.status_code == 200
    read_key.api_key.refresh_from_db()
    assert read_key.api_key.last_used_at > long_ago + timedelta(hours=1)
