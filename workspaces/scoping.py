"""The one way to query a workspace's data.

Every read or write of a tenant row in a workspace's name starts here, so the
workspace filter cannot be forgotten. A row of another workspace is simply not
found: callers answer 404, never 403, so ids of other tenants leak nothing.

Outside it, on purpose: authentication, which must find a presented key
before it knows the workspace; realtime's event log, read on the stream hot
path by the workspace id of an authenticated connection (realtime/history.py,
every query filtered by that id); the relay's system-wide sweeping and
trimming; the calls sweeper (calls/sweepers.py), which finds overdue
calls across workspaces and then ends each through the call services in its
own workspace's name; the campaigns' progress beat
(`campaigns.progress.campaigns_flush_due_progress`), which finds the campaigns
with progress due and flushes each in its own workspace's name; and the
campaign dialer's beat and task (campaigns/dialer.py), which find campaigns
with work due, or a campaign by the id a task carries, and then dial each in
its own workspace's name.
"""

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.utils.text import capfirst

from project.errors import NotFound
from workspaces.models import TenantModel, Workspace


def scoped(model: type[Model], workspace: Workspace) -> QuerySet:
    if not issubclass(model, TenantModel):
        raise TypeError(f"{model.__name__} is not a tenant model")
    if not isinstance(workspace, Workspace):
        raise TypeError("a workspace is required to query tenant data")
    return model._default_manager.filter(workspace=workspace)


def get_scoped_or_404(model: type[Model], workspace: Workspace, **lookup) -> Model:
    try:
        return scoped(model, workspace).get(**lookup)
    except (model.DoesNotExist, ValidationError, ValueError):
        raise NotFound(f"{capfirst(model._meta.verbose_name)} not found.") from None


def get_scoped_for_update(model: type[Model], workspace: Workspace, pk, *, not_found: str) -> Model:
    """The row `pk` of the workspace, locked until the caller's transaction ends
    (`SELECT … FOR UPDATE`), with its `workspace` set; 404 `not_found` otherwise. Services
    take the workspace's event cursor first (`realtime.emit.hold_cursor`): the lock order."""
    try:
        row = scoped(model, workspace).select_for_update().get(pk=pk)
    except (model.DoesNotExist, ValidationError, ValueError):
        raise NotFound(not_found) from None
    row.workspace = workspace
    return row
