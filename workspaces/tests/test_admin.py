"""Staff tools in the Django admin: workspaces with members and keys, key revocation."""

import pytest

from workspaces import services
from workspaces.models import ApiKey

WORKSPACES = "/admin/workspaces/workspace/"
API_KEYS = "/admin/workspaces/apikey/"


@pytest.fixture
def staff_client(admin_client):
    """A superuser's admin session."""
    return admin_client


def _rows(response):
    return list(response.context["cl"].result_list)


def test_the_workspace_changelist_lists_workspaces(staff_client, workspace, other_workspace):
    # when
    response = staff_client.get(WORKSPACES)

    # then
    assert response.status_code == 200
    assert set(_rows(response)) == {workspace, other_workspace}
    assert "acme" in response.content.decode()


@pytest.mark.parametrize("query", ["globex", "GLOB", "oscar-outsider"])
def test_searching_workspaces_finds_them_by_slug_or_member(
    query, staff_client, workspace, other_workspace, outsider
):
    # when
    response = staff_client.get(WORKSPACES, {"q": query})

    # then
    assert response.status_code == 200
    assert _rows(response) == [other_workspace]


def test_a_workspace_page_shows_its_members_and_keys_but_no_key_secret(
    staff_client, workspace, owner, teammate, read_key, runtime_key, outsider_key
):
    # when
    response = staff_client.get(f"{WORKSPACES}{workspace.pk}/change/")

    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert owner.username in page
    assert teammate.username in page
    assert read_key.api_key.prefix in page
    assert runtime_key.api_key.prefix in page
    assert outsider_key.api_key.prefix not in page
    for secret in (read_key.key, runtime_key.key, read_key.api_key.hashed_secret):
        assert secret not in page


def test_an_api_key_page_shows_no_secret(staff_client, read_key):
    # when
    response = staff_client.get(f"{API_KEYS}{read_key.api_key.pk}/change/")

    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert read_key.api_key.prefix in page
    assert read_key.key not in page
    assert read_key.api_key.hashed_secret not in page


@pytest.mark.parametrize(
    ("isempty", "expect_revoked"), [("0", True), ("1", False)], ids=["revoked", "active"]
)
def test_the_api_key_changelist_filters_by_revoked(
    isempty, expect_revoked, staff_client, workspace, read_key, admin_key, outsider_key
):
    # given
    services.api_key_revoke(workspace=workspace, key_id=read_key.api_key.pk)
    revoked = {read_key.api_key}
    active = {admin_key.api_key, outsider_key.api_key}

    # when
    response = staff_client.get(API_KEYS, {"revoked_at__isempty": isempty})

    # then
    assert response.status_code == 200
    assert set(_rows(response)) == (revoked if expect_revoked else active)


def test_revoke_selected_revokes_the_chosen_keys_and_only_those(
    staff_client, read_key, admin_key, runtime_key, outsider_key
):
    # given
    chosen = [read_key.api_key, outsider_key.api_key]

    # when
    response = staff_client.post(
        API_KEYS,
        {"action": "revoke_selected", "_selected_action": [str(k.pk) for k in chosen]},
        follow=True,
    )

    # then
    assert response.status_code == 200
    assert "Revoked 2 API key(s)." in response.content.decode()
    revoked = set(ApiKey.objects.filter(revoked_at__isnull=False))
    assert revoked == set(chosen)
    assert read_key.get("/api/v1/workspace").json()["error"]["code"] == "api_key_revoked"
    assert outsider_key.get("/api/v1/workspace").json()["error"]["code"] == "api_key_revoked"
    assert admin_key.get("/api/v1/workspace").status_code == 200


def test_revoke_selected_keeps_the_first_revocation_time_of_a_revoked_key(
    staff_client, workspace, read_key, admin_key
):
    # given
    first = services.api_key_revoke(workspace=workspace, key_id=read_key.api_key.pk).revoked_at

    # when
    response = staff_client.post(
        API_KEYS,
        {"action": "revoke_selected",
         "_selected_action": [str(read_key.api_key.pk), str(admin_key.api_key.pk)]},
        follow=True,
    )

    # then
    assert "Revoked 1 API key(s)." in response.content.decode()
    read_key.api_key.refresh_from_db()
    admin_key.api_key.refresh_from_db()
    assert read_key.api_key.revoked_at == first
    assert admin_key.api_key.is_revoked


def test_api_keys_cannot_be_added_in_the_admin(staff_client, workspace):
    # when
    response = staff_client.get(f"{API_KEYS}add/")

    # then
    assert response.status_code == 403
    assert ApiKey.objects.count() == 0


def test_the_admin_turns_away_a_workspace_admin_who_is_not_staff(signed_in, workspace_admin):
    # given a workspace admin, who is not Django staff
    client = signed_in(workspace_admin)

    # when
    response = client.get(WORKSPACES)

    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_key_deleted_in_the_admin_stops_working_at_once_in_this_process(staff_client, read_key):
    # given a key this process has just verified (the key cache holds it)
    before = read_key.get("/api/v1/workspace")

    # when staff delete it
    deleted = staff_client.post(f"{API_KEYS}{read_key.api_key.pk}/delete/", {"post": "yes"})

    # then its next request is refused, not answered from the cache
    after = read_key.get("/api/v1/workspace")
    assert before.status_code == 200
    assert deleted.status_code == 302
    assert not ApiKey.objects.filter(pk=read_key.api_key.pk).exists()
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "invalid_api_key"
