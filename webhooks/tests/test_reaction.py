"""Deliveries from the event log (docs/webhooks.md "What is sent"): the reaction
`webhooks` makes one delivery per committed workspace event and matching enabled
endpoint, exactly once, whatever is handed over again."""

import json

import pytest

from realtime.models import ReactionCursor
from webhooks import services
from webhooks.models import WebhookDelivery
from webhooks.tests.helpers import PROGRESS, commit_events, run_reactions, stream_envelope

pytestmark = pytest.mark.django_db


def _endpoint(workspace, **fields):
    endpoint, _ = services.webhook_create(workspace=workspace, url="https://hooks.example.com/in", **fields)
    return endpoint


def _delivered(endpoint) -> list[str]:
    return sorted(str(pk) for pk in WebhookDelivery.objects.filter(endpoint=endpoint)
                  .values_list("event_id", flat=True))


def test_every_committed_event_becomes_one_delivery_per_matching_endpoint(workspace):
    # given two endpoints for every type and one for campaign progress only
    everything, also_everything = _endpoint(workspace), _endpoint(workspace)
    progress_only = _endpoint(workspace, event_types=["campaign-progress"])

    # when events of two types commit and the reactions run
    statuses = commit_events(workspace, 3)
    progress = commit_events(workspace, 2, "campaign-progress", PROGRESS)
    run_reactions(workspace)

    # then
    assert _delivered(everything) == _delivered(also_everything) == sorted(statuses + progress)
    assert _delivered(progress_only) == sorted(progress)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending"}


def test_the_body_is_the_envelope_the_streams_carry(workspace):
    endpoint = _endpoint(workspace)
    [event_id] = commit_events(workspace, 1)

    run_reactions(workspace)

    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert json.loads(delivery.payload) == json.loads(json.dumps(stream_envelope(event_id)))
    assert delivery.event_type == "schedule-status-changed"


def test_a_batch_handed_over_again_creates_nothing_twice(workspace):
    endpoint = _endpoint(workspace)
    commit_events(workspace, 5)
    run_reactions(workspace)

    # when the cursor goes back (a worker died after the handler, before the commit it saw)
    ReactionCursor.objects.filter(workspace=workspace, reaction="webhooks").update(last_seq=0)
    run_reactions(workspace)

    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 5


def test_a_disabled_endpoint_gets_nothing_and_after_enabling_only_what_follows(workspace):
    endpoint = _endpoint(workspace)
    services.webhook_update(workspace=workspace, endpoint_id=endpoint.pk, changes={"enabled": False})
    while_disabled = commit_events(workspace, 2)
    services.webhook_update(workspace=workspace, endpoint_id=endpoint.pk, changes={"enabled": True})
    after = commit_events(workspace, 1)

    run_reactions(workspace)

    delivered = _delivered(endpoint)
    assert not set(while_disabled) & set(delivered)
    assert set(after) <= set(delivered)
    # its own re-enabling is an event after it, so it is told too
    assert set(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("event_type", flat=True)) == {
        "schedule-status-changed", "webhook-status-changed"}


def test_events_committed_before_an_endpoint_existed_are_not_sent_to_it(workspace):
    before = commit_events(workspace, 2)
    endpoint = _endpoint(workspace)
    after = commit_events(workspace, 1)

    run_reactions(workspace)

    assert _delivered(endpoint) == after and not set(before) & set(_delivered(endpoint))


def test_events_of_another_workspace_never_reach_an_endpoint(workspace, other_workspace):
    endpoint = _endpoint(workspace)
    commit_events(other_workspace, 3)

    run_reactions(other_workspace)
    run_reactions(workspace)

    assert _delivered(endpoint) == []


def test_the_reaction_wants_every_persisted_workspace_type():
    from realtime import reactions

    [reaction] = [reaction for reaction in reactions.registered() if reaction.name == "webhooks"]

    assert {"call-ended", "balance-updated", "notification", "webhook-status-changed"} <= reaction.types
    assert not {"call-transcript", "call-interim", "connected"} & reaction.types
