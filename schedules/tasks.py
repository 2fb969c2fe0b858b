"""Celery tasks of schedules: the beat's tick that runs due runs (schedules/runner.py),
and the trimming of old runs."""

from celery import shared_task

from schedules import runner


@shared_task(name="schedules.tasks.run_due_schedules")
def run_due_schedules() -> int:
    return runner.run_due_schedules()


@shared_task(name="schedules.tasks.trim_schedule_runs")
def trim_schedule_runs() -> int:
    return runner.trim_runs()
