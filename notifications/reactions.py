"""How notifications act on committed events (the reaction "notifications", registered
in notifications/apps.py; docs/notifications.md "What raises them").

The handler runs in the transaction that advances the reaction's cursor, so the
notifications it writes, and their `notification` events, commit exactly once with
the advance; an event handed over again finds its notification made
(`source_event_id`) and raises nothing. What each event raises: notifications/rules.py.
"""

from notifications import services
from notifications.rules import TYPES
from workspaces.models import Workspace

__all__ = ["TYPES", "react"]


def react(workspace: Workspace, events: list[dict]) -> None:
    services.notifications_raise(workspace=workspace, events=events)
