"""The relay: committed events reach Redis even when publishing fails or the process dies
between commit and publish (docs/reference/domain.md#events-are-transactional), and old history is trimmed."""

import json
import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings
from django.utils import timezone

from project import testing
from realtime import reactions, relay
from realtime.emit import Emission, emit, emit_many
from realtime.models import Event, PendingPublish
from realtime.tasks import sweep_unpublished_events
from realtime.tests.streaming import unreachable_redis_url
from realtime.wire import Delivery
from workspaces.models import Workspace

CAMPAIGN = {"campaign_id": "cmp_1", "status": "running", "previous_status": "draft"}




def event_ids(deliveries: list[Delivery]) -> list[str]:
    return [json.loads(delivery.envelope_json)["event_id"] for delivery in deliveries]


def is_published(row: Event) -> bool:
    return not relay.waiting_for_publish().filter(pk=row.pk).exists()


def emit_while_redis_is_down(workspace) -> Event:
    """Emits and commits; call it under settings whose Redis is unreachable."""
    with transaction.atomic():
        envelope = emit(workspace, "campaign-status-changed", CAMPAIGN)
    return Event.objects.get(event_id=envelope["event_id"])


@pytest.mark.django_db(transaction=True)
def test_publishing_hands_the_event_to_redis_and_marks_it_published(workspace, subscriber):
    # given a committed event that was never published
    with override_settings(REDIS_URL=unreachable_redis_url()):
        row = emit_while_redis_is_down(workspace)

    [pending] = PendingPublish.objects.filter(workspace=workspace)
    assert (pending.first_seq, pending.last_seq) == (row.seq, row.seq)
    assert not is_published(row)

    # when
    published = relay.publish([(str(workspace.pk), relay.message_of(row))], pending.pk)

    # then
    assert published is True
    assert event_ids(subscriber.received()) == [str(row.event_id)]
    assert is_published(row)
    assert not PendingPublish.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_when_redis_is_down_the_change_still_commits_and_the_event_waits(workspace, subscriber):
    # given
    with override_settings(REDIS_URL=unreachable_redis_url()):
        # when a change and its event commit together
        with transaction.atomic():
            Workspace.objects.filter(pk=workspace.pk).update(name="Acme Renamed")
            envelope = emit(workspace, "campaign-status-changed", CAMPAIGN)
        row = Event.objects.get(event_id=envelope["event_id"])
        pending = PendingPublish.objects.get(workspace=workspace)
        published_again = relay.publish([(str(workspace.pk), relay.message_of(row))], pending.pk)

    # then the change and its event are both there, the event waiting for the sweeper
    assert Workspace.objects.get(pk=workspace.pk).name == "Acme Renamed"
    assert published_again is False
    assert not is_published(row)
    assert subscriber.received() == []


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_publishes_what_failed_exactly_once(workspace, subscriber):
    # given
    with override_settings(REDIS_URL=unreachable_redis_url()):
        rows = [emit_while_redis_is_down(workspace) for _ in range(3)]

    # when
    swept = relay.sweep_unpublished(grace_seconds=0)

    # then in cursor order
    deliveries = subscriber.received()
    assert swept == 3
    assert event_ids(deliveries) == [str(row.event_id) for row in rows]
    assert [delivery.seq for delivery in deliveries] == [1, 2, 3]
    assert not relay.waiting_for_publish().exists()
    assert not PendingPublish.objects.exists()

    # when it runs again
    swept_again = relay.sweep_unpublished(grace_seconds=0)

    # then nothing goes out twice
    assert swept_again == 0
    assert subscriber.received() == []


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_leaves_alone_an_event_still_within_its_grace_period(workspace, subscriber):
    # given an event whose own publish may still be on its way
    with override_settings(REDIS_URL=unreachable_redis_url()):
        row = emit_while_redis_is_down(workspace)

    # when
    swept = relay.sweep_unpublished(grace_seconds=3600)

    # then
    assert swept == 0
    assert subscriber.received() == []
    assert not is_published(row)


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_keeps_the_event_when_redis_is_still_down(workspace, subscriber):
    # given
    with override_settings(REDIS_URL=unreachable_redis_url()):
        row = emit_while_redis_is_down(workspace)

        # when
        swept = relay.sweep_unpublished(grace_seconds=0)

    # then
    assert swept == 0
    assert not is_published(row)
    assert relay.sweep_unpublished(grace_seconds=0) == 1
    assert event_ids(subscriber.received()) == [str(row.event_id)]


CRASHING_EMITTER = textwrap.dedent("""
    import json, os, sys
    import django
    django.setup()
    from django.db import transaction
    from realtime.emit import Emission, emit, emit_many
    from workspaces.models import Workspace

    workspace = Workspace.objects.get(pk=sys.argv[1])
    with transaction.atomic():
        # the first after-commit callback: the process dies after the commit,
        # before the publish that emit registered next can run
        transaction.on_commit(lambda: os._exit(0))
        envelope = emit(workspace, "notification", {
            "id": "ntf_1", "kind": "export-ready", "severity": "info", "title": "Export ready",
            "body": "Your calls export is ready.", "subject": None, "read": False,
            "created_at": "2026-01-01T12:00:00Z",
        })
        print(json.dumps(envelope), flush=True)
    sys.exit(3)  # not reached
""")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_an_event_lost_to_a_crash_between_commit_and_publish_is_delivered_by_the_sweeper(
        workspace, subscriber):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: a second process shares the test database")
    # given a process that commits an event and dies before publishing it
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "test-secret"),
        "DATABASE_URL": testing.test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
    }
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_EMITTER, str(workspace.pk)],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert crashed.returncode == 0, crashed.stderr
    emitted = json.loads(crashed.stdout.strip().splitlines()[-1])

    # then the event committed but nobody heard of it
    row = Event.objects.get(workspace=workspace)
    assert str(row.event_id) == emitted["event_id"]
    assert not is_published(row)
    assert subscriber.received() == []

    # when the periodic sweep runs
    with override_settings(REALTIME_SWEEP_GRACE_SECONDS=0):
        swept = sweep_unpublished_events()

    # then it is delivered once, as the event that was emitted
    deliveries = subscriber.received()
    assert swept == 1
    assert event_ids(deliveries) == [emitted["event_id"]]
    assert json.loads(deliveries[0].envelope_json) == emitted
    assert deliveries[0].seq == row.seq
    assert is_published(row)
    with override_settings(REALTIME_SWEEP_GRACE_SECONDS=0):
        assert sweep_unpublished_events() == 0
    assert subscriber.received() == []


def aged(row: Event, *, hours: float, published: bool) -> Event:
    """The row as if created `hours` ago; these tests never commit, so every emitted
    event is still waiting for its publish until this marks it published."""
    Event.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(hours=hours))
    if published:
        PendingPublish.objects.filter(
            workspace_id=row.workspace_id, first_seq__lte=row.seq, last_seq__gte=row.seq
        ).delete()
    return row


@pytest.mark.django_db
def test_trimming_deletes_published_history_older_than_the_retention(workspace, other_workspace):
    # given
    def event(target=workspace):
        envelope = emit(target, "campaign-status-changed", CAMPAIGN)
        return Event.objects.get(event_id=envelope["event_id"])

    old = aged(event(), hours=30, published=True)
    old_elsewhere = aged(event(other_workspace), hours=25, published=True)
    old_unpublished = aged(event(), hours=30, published=False)
    recent = aged(event(), hours=23, published=True)
    fresh = event()
    # and every reaction that wants them has handled them (trimming keeps what one has not)
    for target in (workspace, other_workspace):
        reactions.run(target.pk)

    # when
    deleted = relay.trim_history(hours=24)

    # then
    assert deleted == 2
    remaining = set(Event.objects.values_list("pk", flat=True))
    assert remaining == {old_unpublished.pk, recent.pk, fresh.pk}
    assert old.pk not in remaining and old_elsewhere.pk not in remaining


@pytest.mark.django_db
def test_trimming_an_empty_or_recent_history_deletes_nothing(workspace):
    # given
    emit(workspace, "campaign-status-changed", CAMPAIGN)

    # when
    deleted = relay.trim_history(hours=24)

    # then
    assert deleted == 0
    assert Event.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_batch_waits_as_one_outbox_row_and_the_sweeper_publishes_it_in_order(workspace, subscriber):
    # given a batch committed while Redis is down
    emissions = [Emission("campaign-status-changed", {**CAMPAIGN, "campaign_id": f"cmp_{n}"})
                 for n in range(3)]
    emissions.insert(1, Emission("call-interim", {"role": "user", "text": "hel"}, call="c1"))
    with override_settings(REDIS_URL=unreachable_redis_url()), transaction.atomic():
        envelopes = emit_many(workspace, emissions)
    [pending] = PendingPublish.objects.all()
    assert (pending.first_seq, pending.last_seq) == (1, 3)

    # when
    swept = relay.sweep_unpublished(grace_seconds=0)

    # then the persisted three go out in cursor order (the ephemeral one is gone for good)
    deliveries = subscriber.received()
    assert swept == 3
    assert [delivery.seq for delivery in deliveries] == [1, 2, 3]
    persisted = [envelope for envelope in envelopes if envelope["type"] != "call-interim"]
    assert event_ids(deliveries) == [envelope["event_id"] for envelope in persisted]
    assert not PendingPublish.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_outbox_migration_queues_the_events_that_were_never_published(workspace):
    executor = MigrationExecutor(connection)
    before, after = [("realtime", "0001_initial")], [("realtime", "0002_pending_publish")]
    executor.migrate(before)
    try:
        # given events of the old schema, one published and one not
        old_state = executor.loader.project_state(before).apps
        OldEvent = old_state.get_model("realtime", "Event")
        common = {"workspace_id": workspace.pk, "type": "campaign-status-changed", "audience": "workspace",
                  "data": CAMPAIGN, "occurred_at": timezone.now()}
        OldEvent.objects.create(seq=1, published_at=timezone.now(), **common)
        OldEvent.objects.create(seq=2, published_at=None, **common)

        # when
        executor = MigrationExecutor(connection)
        executor.migrate(after)

        # then only the unpublished one waits for the sweeper
        assert list(PendingPublish.objects.values_list("first_seq", "last_seq")) == [(2, 2)]
        assert list(relay.waiting_for_publish().values_list("seq", flat=True)) == [2]
    finally:
        MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
