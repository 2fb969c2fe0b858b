"""The Celery app. Its settings are the CELERY_* names in project.settings."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("callboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def forget_debug_queries(**_) -> None:
    """With DEBUG on (`make run`), Django keeps every query a connection ran, up to
    9,000, until the next HTTP request starts. A worker serves no request, so its
    persistent connections kept them all: about 1 MB a minute under the simulated
    runtime's traffic. A task's queries are dropped around it, as a request's are."""
    from django.db import reset_queries

    reset_queries()
