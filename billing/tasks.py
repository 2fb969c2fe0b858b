"""Celery tasks of billing. Each calls one service; every effect is keyed, so a
task that runs twice (acks_late, a worker lost mid-task) changes nothing twice."""

from celery import shared_task

from billing import services
from workspaces.models import Workspace


@shared_task(name="billing.tasks.charge_live_calls")
def charge_live_calls() -> int:
    return services.charge_live_calls()


@shared_task(name="billing.tasks.end_calls_without_credit")
def end_calls_without_credit(workspace_id: str) -> int:
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:  # deleted meanwhile
        return 0
    return services.end_calls_without_credit(workspace=workspace)
