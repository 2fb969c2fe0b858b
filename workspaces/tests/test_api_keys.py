"""API keys (docs/reference/rest.md#api-keys, docs/reference/rest.md#keys): list, create, revoke; shown
once, stored as a hash;
cursor pagination of the list."""

import hashlib
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from workspaces import services
from workspaces.models import ApiKey

API_KEYS = "/api/v1/api-keys"
WORKSPACE = "/api/v1/workspace"
PUBLIC_FIELDS = {"id", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"}


def _assert_error(response, status, code):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    return error


def _csrf_token(client) -> str:
    client.get("/accounts/login/")
    return client.cookies["csrftoken"].value


def _post(caller, path, body=None):
    """POSTs JSON as `caller`: a KeyedClient, or a signed-in Client with its CSRF token."""
    if isinstance(caller, Client):
        return caller.post(path, body or {}, content_type="application/json")
    return caller.post(path, body or {})


@pytest.fixture(params=["admin_key", "owner", "workspace_admin"])
def manager(request, signed_in):
    """Each kind of caller that may manage keys: an admin key, an owner, an admin."""
    if request.param == "admin_key":
        return request.getfixturevalue("admin_key")
    client = signed_in(request.getfixturevalue(request.param))
    client.defaults["HTTP_X_CSRFTOKEN"] = _csrf_token(client)
    return client


@pytest.fixture
def owner_client(signed_in, owner):
    client = signed_in(owner)
    client.defaults["HTTP_X_CSRFTOKEN"] = _csrf_token(client)
    return client


def _keys(workspace, count, *, at=None):
    """`count` keys of `workspace`, created one minute apart (or all at `at`), oldest first."""
    base = timezone.now() - timedelta(days=1)
    keys = []
    for i in range(count):
        key = services.api_key_create(workspace=workspace, name=f"key-{i}", scopes=["read"]).api_key
        ApiKey.objects.filter(pk=key.pk).update(created_at=at or base + timedelta(minutes=i))
        keys.append(key)
    return keys


def _walk(client, page_size, between_pages=None):
    """Every page of the list, following next_page_token to the end."""
    pages, token = [], ""
    while True:
        response = client.get(API_KEYS, {"page_size": page_size, "page_token": token})
        assert response.status_code == 200, response.content
        pages.append(response.json())
        token = pages[-1]["next_page_token"]
        if not token:
            return pages
        if between_pages:
            between_pages()
        assert len(pages) < 50, "pagination does not end"


def _ids(pages):
    return [item["id"] for page in pages for item in page["results"]]


def test_manager_lists_the_keys_of_the_workspace(manager, workspace, read_key, runtime_key):
    # when
    response = manager.get(API_KEYS)

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    expected = {str(k.pk) for k in ApiKey.objects.filter(workspace=workspace)}
    assert {item["id"] for item in body["results"]} == expected
    assert {str(read_key.api_key.pk), str(runtime_key.api_key.pk)} <= expected
    assert body["total_count"] == len(expected)
    assert body["next_page_token"] == ""
    assert all(set(item) == PUBLIC_FIELDS for item in body["results"])


def test_manager_creates_a_key_shown_once(manager, workspace):
    # when
    response = _post(manager, API_KEYS, {"name": "  CI deploy  ", "scopes": ["write"]})

    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == PUBLIC_FIELDS | {"key"}
    stored = ApiKey.objects.get(pk=body["id"])
    assert (stored.workspace, stored.name, stored.scopes) == (workspace, "CI deploy", ["write"])
    assert body["key"].startswith(stored.prefix + "_")
    assert (body["prefix"], body["scopes"], body["revoked_at"]) == (stored.prefix, ["write"], None)


def test_manager_revokes_a_key(manager, read_key):
    # when
    response = _post(manager, f"{API_KEYS}/{read_key.api_key.pk}/revoke")

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == PUBLIC_FIELDS
    read_key.api_key.refresh_from_db()
    assert read_key.api_key.revoked_at is not None
    assert body["id"] == str(read_key.api_key.pk)
    assert body["revoked_at"] is not None


def test_session_created_key_records_its_creator(owner_client, owner):
    # when
    response = _post(owner_client, API_KEYS, {"name": "mine", "scopes": ["read"]})

    # then
    assert response.status_code == 201, response.content
    assert ApiKey.objects.get(pk=response.json()["id"]).created_by == owner


def test_key_is_never_listed_after_creation(owner_client):
    # given
    plaintext = _post(owner_client, API_KEYS, {"name": "once", "scopes": ["read"]}).json()["key"]

    # when
    listed = owner_client.get(API_KEYS)

    # then
    assert listed.status_code == 200
    assert len(listed.json()["results"]) == 1
    assert "key" not in listed.json()["results"][0]
    assert plaintext not in listed.content.decode()
    assert plaintext.split("_")[-1] not in listed.content.decode()


def test_database_stores_only_the_hash_and_prefix(owner_client):
    # given
    plaintext = _post(owner_client, API_KEYS, {"name": "stored", "scopes": ["read"]}).json()["key"]
    secret = plaintext[13:]

    # when
    stored = ApiKey.objects.get()
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT * FROM "{ApiKey._meta.db_table}"')  # noqa: S608
        raw_row = cursor.fetchone()

    # then
    assert stored.hashed_secret == hashlib.sha256(plaintext.encode()).hexdigest()
    assert stored.prefix == plaintext[:12]
    for value in raw_row:
        assert plaintext not in str(value)
        assert secret not in str(value)


def test_new_key_authenticates(manager, workspace):
    # given
    plaintext = _post(manager, API_KEYS, {"name": "fresh", "scopes": ["read", "write"]}).json()["key"]

    # when
    response = Client().get(WORKSPACE, HTTP_AUTHORIZATION=f"Bearer {plaintext}")

    # then
    assert response.status_code == 200, response.content
    assert (response.json()["slug"], response.json()["scopes"]) == ("acme", ["read", "write"])


@pytest.mark.parametrize(("given", "canonical"), [
    (["admin", "read"], ["read", "admin"]),
    (["runtime", "write", "read", "write"], ["read", "write", "runtime"]),
    (["read", "read"], ["read"]),
])
def test_scopes_are_canonicalised(admin_key, given, canonical):
    # when
    response = admin_key.post(API_KEYS, {"name": "canon", "scopes": given})

    # then
    assert response.status_code == 201, response.content
    assert response.json()["scopes"] == canonical
    assert ApiKey.objects.get(pk=response.json()["id"]).scopes == canonical


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "", "scopes": ["read"]}, "name"),
    ({"name": "x" * 101, "scopes": ["read"]}, "name"),
    ({"scopes": ["read"]}, "name"),
    ({"name": "k", "scopes": ["read", "root"]}, "scopes.1"),
    ({"name": "k", "scopes": ["superuser"]}, "scopes.0"),
    ({"name": "k", "scopes": []}, "scopes"),
    ({"name": "k", "scopes": "read"}, "scopes"),
    ({"name": "k"}, "scopes"),
])
def test_invalid_key_request_is_400_naming_the_field(admin_key, body, field):
    # when
    response = admin_key.post(API_KEYS, body)

    # then
    error = _assert_error(response, 400, "validation_error")
    assert field in [f["field"] for f in error["details"]["fields"]]
    assert all(not f["field"].startswith("payload") for f in error["details"]["fields"])
    assert ApiKey.objects.count() == 1


def test_blank_name_is_400_and_creates_nothing(admin_key):
    # when
    response = admin_key.post(API_KEYS, {"name": "   ", "scopes": ["read"]})

    # then
    _assert_error(response, 400, "invalid_name")
    assert ApiKey.objects.count() == 1


def test_revoked_key_stops_working(owner_client, read_key):
    # given
    assert read_key.get(WORKSPACE).status_code == 200

    # when
    revoked = _post(owner_client, f"{API_KEYS}/{read_key.api_key.pk}/revoke")

    # then
    assert revoked.status_code == 200
    _assert_error(read_key.get(WORKSPACE), 401, "api_key_revoked")
    listed = owner_client.get(API_KEYS).json()["results"]
    assert [item["revoked_at"] for item in listed] == [revoked.json()["revoked_at"]]


def test_revoking_twice_is_idempotent(admin_key, read_key):
    # given
    path = f"{API_KEYS}/{read_key.api_key.pk}/revoke"
    first = admin_key.post(path)
    read_key.api_key.refresh_from_db()
    first_revoked_at = read_key.api_key.revoked_at

    # when
    second = admin_key.post(path)

    # then
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["revoked_at"] == first.json()["revoked_at"] is not None
    read_key.api_key.refresh_from_db()
    assert read_key.api_key.revoked_at == first_revoked_at is not None


def test_revoking_a_key_of_another_workspace_is_404_and_it_keeps_working(manager, outsider_key):
    # when
    response = _post(manager, f"{API_KEYS}/{outsider_key.api_key.pk}/revoke")

    # then
    _assert_error(response, 404, "not_found")
    outsider_key.api_key.refresh_from_db()
    assert outsider_key.api_key.revoked_at is None
    assert outsider_key.get(WORKSPACE).status_code == 200


@pytest.mark.parametrize("key_id", ["not-a-uuid", str(uuid.uuid4()), "1", "%20"])
def test_revoking_an_unknown_id_is_404(admin_key, key_id):
    # when
    response = admin_key.post(f"{API_KEYS}/{key_id}/revoke")

    # then
    _assert_error(response, 404, "not_found")
    admin_key.api_key.refresh_from_db()
    assert admin_key.api_key.revoked_at is None


def test_listing_never_shows_another_workspace_keys(admin_key, outsider_key, other_workspace):
    # given
    _keys(other_workspace, 3)

    # when
    ours = admin_key.get(API_KEYS).json()
    theirs = outsider_key.get(API_KEYS).json()

    # then
    assert [item["id"] for item in ours["results"]] == [str(admin_key.api_key.pk)]
    assert ours["total_count"] == 1
    assert str(admin_key.api_key.pk) not in [item["id"] for item in theirs["results"]]
    assert theirs["total_count"] == 4


def test_pages_walk_every_key_once_newest_first(owner_client, workspace):
    # given
    keys = _keys(workspace, 5)

    # when
    pages = _walk(owner_client, page_size=2)

    # then
    assert [len(page["results"]) for page in pages] == [2, 2, 1]
    assert _ids(pages) == [str(k.pk) for k in reversed(keys)]
    assert [page["total_count"] for page in pages] == [5, 5, 5]
    assert pages[-1]["next_page_token"] == ""


def test_pages_keep_keys_that_share_a_creation_time(owner_client, workspace):
    # given
    keys = _keys(workspace, 5, at=timezone.now() - timedelta(hours=1))

    # when
    pages = _walk(owner_client, page_size=2)

    # then
    assert _ids(pages) == sorted((str(k.pk) for k in keys), reverse=True)


def test_keys_created_between_pages_cause_no_duplicates_or_gaps(owner_client, workspace):
    # given
    originals = _keys(workspace, 5)

    def create_another():
        services.api_key_create(workspace=workspace, name="late", scopes=["read"])

    # when
    pages = _walk(owner_client, page_size=2, between_pages=create_another)

    # then
    assert _ids(pages) == [str(k.pk) for k in reversed(originals)]
    assert ApiKey.objects.filter(workspace=workspace, name="late").count() == 2


@pytest.mark.parametrize("tamper", [
    lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
    lambda token: "x" + token,
    lambda token: token.split(":")[0],
    lambda token: "garbage",
    lambda token: "W10:1tampered:signature",
])
def test_tampered_page_token_is_400(owner_client, workspace, tamper):
    # given
    _keys(workspace, 3)
    token = owner_client.get(API_KEYS, {"page_size": 1}).json()["next_page_token"]
    assert token

    # when
    response = owner_client.get(API_KEYS, {"page_size": 1, "page_token": tamper(token)})

    # then
    _assert_error(response, 400, "invalid_page_token")


@pytest.mark.parametrize("page_size", [0, -1, 201, "ten"])
def test_out_of_range_page_size_is_400(owner_client, page_size):
    # when
    response = owner_client.get(API_KEYS, {"page_size": page_size})

    # then
    error = _assert_error(response, 400, "validation_error")
    assert [(f["field"], f["location"]) for f in error["details"]["fields"]] == [("page_size", "query")]


@pytest.mark.parametrize("page_size", [1, 200])
def test_page_size_bounds_are_accepted(owner_client, workspace, page_size):
    # given
    _keys(workspace, 3)

    # when
    response = owner_client.get(API_KEYS, {"page_size": page_size})

    # then
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == min(page_size, 3)
    assert response.json()["total_count"] == 3
