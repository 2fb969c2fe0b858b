"""Access ends when it is taken away (docs/streams.md, "When a stream ends"): a key
revoked or deleted, a member removed, a user deactivated closes that principal's
open streams within 2 s in every process, and nobody else's; and every stream
ends with `shutdown` at its maximum lifetime, the client resuming with nothing lost."""

import time

import httpx
import pytest
from django.utils import timezone

from project.testing import running_server
from realtime.tests.streaming import (
    WAIT,
    emit_exports,
    emit_marker,
    error_of,
    ids,
    open_stream,
    refused,
    session_cookie,
    without_control,
)
from workspaces import services
from workspaces.models import ApiKey

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEADLINE = 2.0  # seconds: the contract's bound from the revocation to the stream's end


def ended_by_revocation(stream) -> list:
    """Every event until the server ends the stream, whose last must say why."""
    events = stream.rest()
    assert events, "the stream ended without a word"
    assert (events[-1].event, events[-1].data["data"]) == ("stream-closed", {"reason": "access-revoked"})
    return events


def revoke_over_rest(server, admin_key, key_id) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/api-keys/{key_id}/revoke",
                      headers={"Authorization": f"Bearer {admin_key.key}"}, timeout=WAIT)


def rest_status(server, key) -> int:
    return httpx.get(f"{server.url}/api/v1/workspace", headers={"Authorization": f"Bearer {key.key}"},
                     timeout=WAIT).status_code


def test_a_key_revoked_over_rest_closes_its_streams_on_every_process_and_no_one_elses(
        tmp_path, workspace, read_key, write_key, admin_key):
    # given the key's streams on two processes, its REST use cached on B, and another key's stream
    with running_server(tmp_path) as server_a, running_server(tmp_path) as server_b, \
            open_stream(server_a, key=read_key.key) as on_a, \
            open_stream(server_b, key=read_key.key) as on_b, \
            open_stream(server_b, key=write_key.key) as bystander:
        cached_before = rest_status(server_b, read_key)

        # when the key is revoked through the API of process A
        revoked = revoke_over_rest(server_a, admin_key, read_key.api_key.pk)
        revoked_at = time.monotonic()
        ended_by_revocation(on_a)
        ended_by_revocation(on_b)
        both_ended_after = time.monotonic() - revoked_at

        # then the other key's stream goes on, and the revoked key opens nothing anywhere
        marker = emit_marker(workspace)
        assert without_control(bystander.until_event(marker))[-1].data == marker
        rest_after = rest_status(server_b, read_key)
        reconnects = [refused(server, key=read_key.key) for server in (server_a, server_b)]

    assert cached_before == 200
    assert revoked.status_code == 200, revoked.text
    assert both_ended_after <= DEADLINE
    assert rest_after == 401
    for reconnect in reconnects:
        assert reconnect.status_code == 401
        assert error_of(reconnect)["code"] == "api_key_revoked"


def test_a_removed_members_session_stream_closes_and_the_owners_does_not(
        tmp_path, workspace, owner, teammate, signed_in):
    # given
    members_session = session_cookie(signed_in(teammate))
    owners_session = session_cookie(signed_in(owner))

    with running_server(tmp_path) as server:
        with open_stream(server, session=members_session) as members, \
                open_stream(server, session=owners_session) as owners:
            # when
            services.membership_remove(workspace=workspace, user=teammate)
            removed_at = time.monotonic()
            ended_by_revocation(members)
            ended_after = time.monotonic() - removed_at

            # then
            marker = emit_marker(workspace)
            assert without_control(owners.until_event(marker))[-1].data == marker
        reconnect = refused(server, session=members_session)

    assert ended_after <= DEADLINE
    assert reconnect.status_code == 403


def test_a_deactivated_users_stream_closes(tmp_path, workspace, teammate, signed_in):
    # given
    session = session_cookie(signed_in(teammate))

    with running_server(tmp_path) as server:
        with open_stream(server, session=session) as stream:
            # when
            teammate.is_active = False
            teammate.save()
            deactivated_at = time.monotonic()
            ended_by_revocation(stream)
            ended_after = time.monotonic() - deactivated_at
        reconnect = refused(server, session=session)

    # then
    assert ended_after <= DEADLINE
    assert reconnect.status_code == 401


def test_a_key_revoked_without_a_broadcast_is_caught_by_the_periodic_check(tmp_path, workspace,
                                                                           read_key, write_key):
    # given a process that checks its streams' access every second
    with running_server(tmp_path, env={"REALTIME_ACCESS_CHECK_SECONDS": "1"}) as server, \
            open_stream(server, key=read_key.key) as stream, \
            open_stream(server, key=write_key.key) as bystander:
        # when the key is revoked as if its message had been lost (no broadcast)
        ApiKey.objects.filter(pk=read_key.api_key.pk).update(revoked_at=timezone.now())

        # then its stream ends (the read timeout bounds the wait), the other goes on
        ended_by_revocation(stream)
        marker = emit_marker(workspace)
        assert without_control(bystander.until_event(marker))[-1].data == marker


def test_a_stream_at_its_maximum_lifetime_gets_shutdown_and_resumes_losing_nothing(
        tmp_path, workspace, read_key):
    with running_server(tmp_path, env={"REALTIME_MAX_STREAM_SECONDS": "2"}) as server:
        # given a stream that has read some events
        with open_stream(server, key=read_key.key) as stream:
            emit_exports(workspace, 5)
            first = stream.until_id(5)

            # when its lifetime runs out
            ending = stream.rest()

        # and events happen while the client is away, it resumes from its cursor
        emit_exports(workspace, 5)
        last_seen = ids(first)[-1]
        with open_stream(server, key=read_key.key, headers={"Last-Event-ID": str(last_seen)}) as resumed:
            second = resumed.until_id(10)

    # then
    assert [event.event for event in ending] == ["shutdown"]
    assert ending[0].data["data"] == {"reconnect": True, "retry_ms": 3000}
    assert ids(first) + ids(second) == list(range(1, 11))
    assert resumed.connected.data["data"]["resumed"] is True
