"""The project's settings plus the test app `realtime.tests.reacting` (for a
worker or an emitter started by a test)."""

from project.settings import *  # noqa: F403
from project.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "realtime.tests.reacting.apps.ReactingConfig"]
