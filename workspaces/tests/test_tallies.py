"""Row tallies: the count of an unfiltered list, kept exact by PostgreSQL triggers
whatever path writes the rows (workspaces/tallies.py)."""

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from billing import services as billing
from billing.models import LedgerEntry
from calls.models import Call
from calls.tests.helpers import place
from campaigns import services as campaigns
from campaigns.models import Contact
from campaigns.tests.lifecycle_helpers import add_contacts
from project.testing import at_once
from workspaces.models import RowTally, Workspace
from workspaces.tallies import tallied_count

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="tallies are kept by PostgreSQL")


def test_calls_placed_in_two_workspaces_are_tallied_in_each(workspace, other_workspace):
    # given
    for _ in range(3):
        place(workspace)
    place(other_workspace)

    # when
    ours, theirs = tallied_count(Call, workspace), tallied_count(Call, other_workspace)

    # then
    assert (ours, theirs) == (3, 1)
    assert ours == Call.objects.filter(workspace=workspace).count()


def test_bulk_inserts_and_deletes_keep_the_tally_exact(workspace):
    # given three calls placed, and five more written in one statement
    placed = [place(workspace) for _ in range(3)]
    Call.objects.bulk_create([Call(workspace=workspace, agent=placed[0].agent, to_number="+14155550199")
                             for _ in range(5)])

    # when two are deleted in one statement and one alone
    Call.objects.filter(pk__in=[placed[0].pk, placed[1].pk]).delete()
    placed[2].delete()

    # then
    assert tallied_count(Call, workspace) == 5 == Call.objects.filter(workspace=workspace).count()


def test_contacts_are_tallied_per_campaign_and_leave_with_it(workspace):
    # given two campaigns with contacts
    first = campaigns.campaign_create(workspace=workspace, name="First")
    second = campaigns.campaign_create(workspace=workspace, name="Second")
    add_contacts(first, "pending", "pending", "completed")
    add_contacts(second, "pending")

    # when the first campaign is deleted
    counted = tallied_count(Contact, workspace, scope=first.pk)
    campaigns.campaign_delete(workspace=workspace, campaign_id=first.pk)

    # then
    assert counted == 3
    assert tallied_count(Contact, workspace, scope=first.pk) == 0
    assert tallied_count(Contact, workspace, scope=second.pk) == 1


def test_ledger_entries_are_tallied(workspace):
    # given the opening credit's entry, then two top-ups
    for n in range(2):
        billing.top_up(workspace=workspace, amount=Decimal("5.00"), idempotency_key=f"k{n}", actor="test")

    # when
    counted = tallied_count(LedgerEntry, workspace)

    # then
    assert counted == LedgerEntry.objects.filter(workspace=workspace).count() == 3


def test_a_counted_row_cannot_move_to_another_workspace(workspace, other_workspace):
    # given
    call = place(workspace)

    # when
    with pytest.raises(DatabaseError, match="cannot change its workspace"), transaction.atomic():
        Call.objects.filter(pk=call.pk).update(workspace=other_workspace)

    # then nothing moved, and the row's own changes still pass
    Call.objects.filter(pk=call.pk).update(agent_name="other")
    assert Call.objects.get(pk=call.pk).workspace_id == workspace.pk
    assert (tallied_count(Call, workspace), tallied_count(Call, other_workspace)) == (1, 0)


@pytest.mark.django_db(transaction=True)  # TRUNCATE waits for no deferred check
def test_truncating_a_counted_table_forgets_its_tallies(workspace):
    # given
    campaign = campaigns.campaign_create(workspace=workspace, name="First")
    add_contacts(campaign, "pending", "pending")

    # when
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Contact._meta.db_table}")

    # then
    assert tallied_count(Contact, workspace, scope=campaign.pk) == 0
    assert not RowTally.objects.filter(kind="campaigns.contact").exists()


def test_a_deleted_workspace_leaves_no_tally_behind(workspace):
    # given a workspace whose counted rows are its ledger's (its opening credit): one
    # with calls or campaigns cannot be deleted (their agents are protected)
    counted = tallied_count(LedgerEntry, workspace)

    # when
    Workspace.objects.filter(pk=workspace.pk).delete()

    # then
    assert counted == 1
    assert not RowTally.objects.filter(scope=workspace.pk).exists()


def test_the_unfiltered_list_answers_the_tally_and_a_filtered_one_counts(workspace, read_key):
    # given three calls whose tally is, for this test's sake, made wrong by hand
    for _ in range(3):
        place(workspace)
    RowTally.objects.filter(workspace=workspace, kind="calls.call").update(total=41)

    # when
    unfiltered = read_key.get("/api/v1/calls").json()
    filtered = read_key.get("/api/v1/calls", {"status": "queued"}).json()

    # then
    assert unfiltered["total_count"] == 41
    assert filtered["total_count"] == 3 == len(filtered["results"])


def test_the_lists_count_what_they_hold(workspace, other_workspace, read_key):
    # given
    for _ in range(4):
        place(workspace)
    place(other_workspace)
    campaign = campaigns.campaign_create(workspace=workspace, name="First")
    add_contacts(campaign, "pending", "completed")

    # when
    calls = read_key.get("/api/v1/calls", {"page_size": 2}).json()
    later = read_key.get("/api/v1/calls", {"page_size": 2, "page_token": calls["next_page_token"]}).json()
    ledger = read_key.get("/api/v1/billing/ledger").json()
    contacts = read_key.get(f"/api/v1/campaigns/{campaign.pk}/contacts").json()

    # then
    assert (calls["total_count"], later["total_count"]) == (4, 4)
    assert ledger["total_count"] == LedgerEntry.objects.filter(workspace=workspace).count()
    assert contacts["total_count"] == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_of_one_workspace_are_all_counted(workspace):
    # given two sessions placing calls at once, each in its own transactions
    agent = place(workspace).agent

    def writer():
        for _ in range(10):
            Call.objects.create(workspace=workspace, agent=agent, to_number="+14155550199")

    # when
    at_once(writer, 2)

    # then
    assert tallied_count(Call, workspace) == 21 == Call.objects.filter(workspace=workspace).count()
