"""Celery tasks of the calls app: the simulated runtime's steps, and the
sweeper that ends calls that overran or never got going."""

from celery import shared_task

from calls import demo, sweepers
from calls.runtime.simulated import play_step

__all__ = ["end_overdue_calls", "keep_demo_calls_going", "play_step"]


@shared_task(name="calls.tasks.end_overdue_calls")
def end_overdue_calls() -> dict:
    return sweepers.end_overdue_calls()


@shared_task(name="calls.tasks.keep_demo_calls_going")
def keep_demo_calls_going() -> int:
    return demo.keep_demo_calls_going()
