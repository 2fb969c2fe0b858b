"""Every way access is taken away is broadcast to the stream processes after the
commit (workspaces/revocation.py, realtime/access.py), and the database check
that backs a lost broadcast (workspaces/grants.py) names exactly what was lost."""

import json
import uuid

import pytest
from django.contrib.auth import get_user_model

from project.errors import Conflict, NotFound
from project.redis_client import get_redis
from realtime.channels import access_channel
from workspaces import grants, services
from workspaces.models import ApiKey, Membership, Role

pytestmark = pytest.mark.django_db

WAIT = 10  # seconds: the bound of every wait for a message


class AccessListener:
    """A real Redis subscriber of the access channel, as every stream process is."""

    def __init__(self):
        self.redis = get_redis()
        self.pubsub = self.redis.pubsub()
        self.pubsub.subscribe(access_channel())
        self.pubsub.get_message(timeout=WAIT)  # the subscription's confirmation

    def received(self) -> list[dict]:
        """Everything published so far (up to a marker published now)."""
        marker = f"marker:{uuid.uuid4()}"
        self.redis.publish(access_channel(), marker)
        messages = []
        while (message := self.pubsub.get_message(timeout=WAIT)) is not None:
            if message["type"] != "message":
                continue
            if message["data"] == marker:
                return messages
            messages.append(json.loads(message["data"])["control"])
        raise AssertionError("the marker did not come back")


@pytest.fixture
def listener():
    listener = AccessListener()
    yield listener
    listener.pubsub.close()


def revocation(subject_id, workspace, loss) -> dict:
    return {"action": "revoke", "subject_id": subject_id,
            "workspace_id": str(workspace.pk) if workspace is not None else None,
            "status": loss.status, "code": loss.code, "message": loss.message}


def test_a_revoked_key_is_broadcast_after_the_commit(listener, workspace, read_key,
                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.api_key_revoke(workspace=workspace, key_id=read_key.api_key.pk)

    assert listener.received() == [
        revocation(f"key:{read_key.api_key.pk}", workspace, grants.KEY_REVOKED)]


def test_a_key_deleted_in_the_admin_is_broadcast(listener, admin_client, workspace, read_key,
                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/admin/workspaces/apikey/{read_key.api_key.pk}/delete/", {"post": "yes"})

    assert listener.received() == [
        revocation(f"key:{read_key.api_key.pk}", workspace, grants.KEY_DELETED)]


def test_a_removed_membership_is_broadcast_for_its_workspace_only(
        listener, admin_client, workspace, owner, teammate, viewer, django_capture_on_commit_callbacks):
    # given
    viewers = Membership.objects.get(user=viewer)

    # when one member is removed by the service, another in the admin
    with django_capture_on_commit_callbacks(execute=True):
        services.membership_remove(workspace=workspace, user=teammate)
        admin_client.post(f"/admin/workspaces/membership/{viewers.pk}/delete/", {"post": "yes"})

    # then
    assert listener.received() == [
        revocation(f"user:{teammate.pk}", workspace, grants.MEMBERSHIP_REMOVED),
        revocation(f"user:{viewer.pk}", workspace, grants.MEMBERSHIP_REMOVED),
    ]


def test_a_deactivated_user_is_broadcast_for_every_workspace_and_a_deleted_one_for_each(
        listener, workspace, other_workspace, teammate, django_capture_on_commit_callbacks):
    # given a user in two workspaces
    services.membership_add(workspace=other_workspace, user=teammate, role=Role.VIEWER)

    # when deactivated, then deleted
    with django_capture_on_commit_callbacks(execute=True):
        teammate.is_active = False
        teammate.save()
    deactivated = listener.received()
    subject = f"user:{teammate.pk}"
    with django_capture_on_commit_callbacks(execute=True):
        teammate.delete()
    deleted = listener.received()

    # then
    assert deactivated == [revocation(subject, None, grants.USER_INACTIVE)]
    assert sorted(deleted, key=lambda message: message["workspace_id"]) == sorted(
        [revocation(subject, workspace, grants.MEMBERSHIP_REMOVED),
         revocation(subject, other_workspace, grants.MEMBERSHIP_REMOVED)],
        key=lambda message: message["workspace_id"])


def test_a_lowered_role_or_a_sign_in_is_no_revocation(listener, workspace, owner, teammate,
                                                       django_capture_on_commit_callbacks):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.membership_add(workspace=workspace, user=teammate, role=Role.VIEWER)
        teammate.save(update_fields=["last_login"])

    # then every role may still read its streams
    assert listener.received() == []


def test_the_last_owner_cannot_be_removed_and_a_stranger_is_not_found(workspace, owner, outsider):
    with pytest.raises(Conflict) as last_owner:
        services.membership_remove(workspace=workspace, user=owner)
    with pytest.raises(NotFound):
        services.membership_remove(workspace=workspace, user=outsider)

    assert last_owner.value.code == "last_owner"
    assert Membership.objects.filter(user=owner, workspace=workspace).exists()


def test_the_database_check_names_exactly_the_access_that_is_gone(
        workspace, other_workspace, read_key, write_key, admin_key, owner, teammate, viewer):
    # given a revoked key, a deleted one, a removed member and a deactivated user
    acme = str(workspace.pk)
    ApiKey.objects.filter(pk=read_key.api_key.pk).update(revoked_at=owner.date_joined)
    deleted_key = str(write_key.api_key.pk)
    ApiKey.objects.filter(pk=deleted_key).delete()
    Membership.objects.filter(user=teammate).delete()
    get_user_model().objects.filter(pk=viewer.pk).update(is_active=False)
    pairs = {
        (acme, f"key:{read_key.api_key.pk}"), (acme, f"key:{deleted_key}"),
        (acme, f"key:{admin_key.api_key.pk}"), (str(other_workspace.pk), f"key:{admin_key.api_key.pk}"),
        (acme, f"user:{owner.pk}"), (str(other_workspace.pk), f"user:{owner.pk}"),
        (acme, f"user:{teammate.pk}"), (acme, f"user:{viewer.pk}"),
    }

    # when
    lost = grants.lost(pairs)

    # then
    assert lost == {
        (acme, f"key:{read_key.api_key.pk}"): grants.KEY_REVOKED,
        (acme, f"key:{deleted_key}"): grants.KEY_DELETED,
        (str(other_workspace.pk), f"key:{admin_key.api_key.pk}"): grants.KEY_DELETED,
        (str(other_workspace.pk), f"user:{owner.pk}"): grants.MEMBERSHIP_REMOVED,
        (acme, f"user:{teammate.pk}"): grants.MEMBERSHIP_REMOVED,
        (acme, f"user:{viewer.pk}"): grants.USER_INACTIVE,
    }
