"""SSE tickets (docs/reference/rest.md#sse-tickets): issued by key or session, single-use, short-lived, bound
to the principal and workspace that asked, stored only as a digest."""

import base64
import hashlib
import json
import string
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from project.errors import NotAuthenticated
from project.redis_client import get_redis
from workspaces import services
from workspaces.models import Membership, Role
from workspaces.tickets import ticket_redeem

TICKET_URL = "/api/v1/auth/sse-ticket"
TICKET_KEYS = "callboard:sse-ticket:*"
URLSAFE_ALPHABET = set(string.ascii_letters + string.digits + "-_")


@pytest.fixture(autouse=True)
def no_tickets_in_redis():
    redis = get_redis()
    for key in list(redis.scan_iter(match=TICKET_KEYS)):
        redis.delete(key)
    yield
    for key in list(redis.scan_iter(match=TICKET_KEYS)):
        redis.delete(key)


def _csrf_token(client) -> str:
    client.get("/accounts/login/")
    return client.cookies["csrftoken"].value


def _session_ticket(client, **headers) -> str:
    response = client.post(TICKET_URL, HTTP_X_CSRFTOKEN=_csrf_token(client), **headers)
    assert response.status_code == 200, response.content
    return response.json()["ticket"]


def _key_ticket(keyed_client) -> str:
    response = keyed_client.post(TICKET_URL)
    assert response.status_code == 200, response.content
    return response.json()["ticket"]


def _assert_invalid_ticket(ticket: str) -> None:
    with pytest.raises(NotAuthenticated) as excinfo:
        ticket_redeem(ticket)
    assert excinfo.value.status == 401
    assert excinfo.value.code == "invalid_ticket"


def test_an_api_key_gets_a_ticket_that_expires_in_30_seconds(read_key):
    # when
    response = read_key.post(TICKET_URL)

    # then
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"ticket", "expires_in"}
    assert body["expires_in"] == 30
    assert body["ticket"]


def test_a_signed_in_user_gets_a_ticket_with_a_csrf_token(signed_in, teammate):
    # given
    client = signed_in(teammate)
    token = _csrf_token(client)

    # when
    response = client.post(TICKET_URL, HTTP_X_CSRFTOKEN=token)

    # then
    assert response.status_code == 200
    assert response.json()["expires_in"] == 30
    assert response.json()["ticket"]


def test_a_signed_in_user_without_a_csrf_token_gets_no_ticket(signed_in, teammate):
    # given
    client = signed_in(teammate)

    # when
    response = client.post(TICKET_URL)

    # then
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert list(get_redis().scan_iter(match=TICKET_KEYS)) == []


def test_a_ticket_carries_at_least_128_random_bits(read_key):
    # when
    tickets = [_key_ticket(read_key) for _ in range(5)]

    # then
    for ticket in tickets:
        assert set(ticket) <= URLSAFE_ALPHABET
        raw = base64.urlsafe_b64decode(ticket + "=" * (-len(ticket) % 4))
        assert len(raw) * 8 >= 128
    assert len(set(tickets)) == len(tickets)


def test_redis_holds_only_a_digest_of_the_ticket_with_its_ttl(read_key):
    # when
    ticket = _key_ticket(read_key)

    # then
    redis = get_redis()
    keys = list(redis.scan_iter(match=TICKET_KEYS))
    digest = hashlib.sha256(ticket.encode()).hexdigest()
    assert keys == [f"callboard:sse-ticket:{digest}"]
    value = redis.get(keys[0])
    assert ticket not in value
    assert ticket not in keys[0]
    assert json.loads(value)["api_key_id"] == str(read_key.api_key.pk)
    assert 0 < redis.ttl(keys[0]) <= 30


def test_a_key_ticket_redeems_to_that_key_in_its_workspace(read_key, workspace):
    # given
    ticket = _key_ticket(read_key)

    # when
    principal = ticket_redeem(ticket)

    # then
    assert principal.workspace.pk == workspace.pk
    assert principal.api_key.pk == read_key.api_key.pk
    assert principal.user is None
    assert principal.subject_id == f"key:{read_key.api_key.pk}"
    assert principal.scopes == ["read"]


def test_a_session_ticket_redeems_to_that_user_in_their_workspace(signed_in, viewer, workspace):
    # given
    ticket = _session_ticket(signed_in(viewer))

    # when
    principal = ticket_redeem(ticket)

    # then
    assert principal.workspace.pk == workspace.pk
    assert principal.user.pk == viewer.pk
    assert principal.api_key is None
    assert principal.role == Role.VIEWER
    assert principal.subject_id == f"user:{viewer.pk}"


@pytest.mark.parametrize("select_by", ["slug", "id"])
def test_a_ticket_issued_in_another_workspace_redeems_to_that_workspace_only(
    select_by, signed_in, owner, workspace, other_workspace
):
    # given a user who owns acme and views globex, acting in globex
    services.membership_add(workspace=other_workspace, user=owner, role=Role.VIEWER)
    selector = other_workspace.slug if select_by == "slug" else str(other_workspace.pk)
    ticket = _session_ticket(signed_in(owner), HTTP_X_WORKSPACE=selector)

    # when
    principal = ticket_redeem(ticket)

    # then
    assert principal.workspace.pk == other_workspace.pk
    assert principal.workspace.pk != workspace.pk
    assert principal.user.pk == owner.pk
    assert principal.role == Role.VIEWER


def test_a_ticket_works_once(read_key):
    # given
    ticket = _key_ticket(read_key)
    ticket_redeem(ticket)

    # when / then
    _assert_invalid_ticket(ticket)


@pytest.mark.parametrize(
    "ticket",
    ["", "not-a-ticket", "A" * 43],
    ids=["empty", "garbage", "well-shaped-but-unknown"],
)
def test_an_unknown_ticket_is_invalid(db, ticket):
    # when / then
    _assert_invalid_ticket(ticket)


def test_an_expired_ticket_is_invalid(read_key):
    # given a ticket whose Redis entry has expired
    ticket = _key_ticket(read_key)
    redis = get_redis()
    [key] = redis.scan_iter(match=TICKET_KEYS)
    redis.pexpire(key, 1)
    deadline = time.monotonic() + 2
    while redis.exists(key) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not redis.exists(key)

    # when / then
    _assert_invalid_ticket(ticket)


def test_a_ticket_of_a_key_revoked_after_issue_is_invalid(read_key, workspace):
    # given
    ticket = _key_ticket(read_key)

    # when
    services.api_key_revoke(workspace=workspace, key_id=read_key.api_key.pk)

    # then
    _assert_invalid_ticket(ticket)


def test_a_ticket_of_a_membership_removed_after_issue_is_invalid(signed_in, teammate, workspace):
    # given
    ticket = _session_ticket(signed_in(teammate))

    # when
    Membership.objects.filter(workspace=workspace, user=teammate).delete()

    # then
    _assert_invalid_ticket(ticket)


def test_a_ticket_of_a_user_deactivated_after_issue_is_invalid(signed_in, teammate):
    # given
    ticket = _session_ticket(signed_in(teammate))

    # when
    teammate.is_active = False
    teammate.save(update_fields=["is_active"])

    # then
    _assert_invalid_ticket(ticket)


def test_removing_a_membership_in_one_workspace_leaves_tickets_of_the_other_valid(
    signed_in, owner, workspace, other_workspace
):
    # given a user in acme and globex with a ticket for globex
    services.membership_add(workspace=other_workspace, user=owner, role=Role.MEMBER)
    ticket = _session_ticket(signed_in(owner), HTTP_X_WORKSPACE="globex")

    # when the acme membership goes
    Membership.objects.filter(workspace=workspace, user=owner).delete()

    # then
    assert ticket_redeem(ticket).workspace.pk == other_workspace.pk


@pytest.mark.django_db(transaction=True)
def test_of_100_concurrent_redemptions_of_one_ticket_exactly_one_succeeds(read_key, workspace):
    # given
    ticket = _key_ticket(read_key)
    workers = 100
    barrier = threading.Barrier(workers)

    def redeem(_):
        try:
            barrier.wait(timeout=30)
            principal = ticket_redeem(ticket)
            return ("ok", str(principal.workspace.pk))
        except NotAuthenticated as error:
            return (error.code, None)
        finally:
            connection.close()

    # when
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(redeem, range(workers)))

    # then
    assert Counter(outcome for outcome, _ in outcomes) == {"ok": 1, "invalid_ticket": 99}
    assert [ws for outcome, ws in outcomes if outcome == "ok"] == [str(workspace.pk)]
