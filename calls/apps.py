from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "calls"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from calls.events import register_events
        from workspaces.signals import workspace_created

        register_events()
        workspace_created.connect(_create_default_agent, dispatch_uid="calls.default_agent")


def _create_default_agent(sender, workspace, **kwargs) -> None:
    from calls.services import ensure_default_agent

    ensure_default_agent(workspace)
