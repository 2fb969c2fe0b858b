"""Celery tasks of exports: writing one (on the `exports` queue, project/settings.py
CELERY_TASK_ROUTES) and the beat's retention sweep."""

from celery import shared_task
from django.conf import settings

from exports import runner, services


@shared_task(name="exports.tasks.run_export", time_limit=settings.EXPORTS_TIME_LIMIT_SECONDS,
             soft_time_limit=settings.EXPORTS_TIME_LIMIT_SECONDS * 9 // 10)
def run_export(export_id: str) -> str:
    outcome = runner.export_run(export_id)
    if outcome == "waiting":
        # Another export of its workspace holds that workspace's share of the workers:
        # to the back of the queue, behind every other workspace's exports.
        run_export.apply_async((export_id,), countdown=settings.EXPORTS_WAIT_SECONDS)
    return outcome


@shared_task(name="exports.tasks.expire_exports")
def expire_exports() -> int:
    return services.expire_due_exports()
