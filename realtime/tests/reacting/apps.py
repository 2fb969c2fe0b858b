"""A test-only app with one reaction, for tests whose worker or emitter runs in
another process: that process starts with `realtime.tests.reacting.settings`, and
the reaction's effect (the workspace's new name) is visible in the database."""

from django.apps import AppConfig

REACTION = "test-rename-workspace"
TYPES = frozenset({"schedule-status-changed"})


def rename_workspace(workspace, events: list[dict]) -> None:
    from workspaces.models import Workspace

    Workspace.objects.filter(pk=workspace.pk).update(name=f"Reacted to #{events[-1]['seq']}")


def register_reaction() -> None:
    from realtime import reactions

    reactions.register(REACTION, types=TYPES, handler=rename_workspace)


class ReactingConfig(AppConfig):
    name = "realtime.tests.reacting"
    label = "realtime_tests_reacting"

    def ready(self) -> None:
        register_reaction()
