from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "calls"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from calls.events import register_events
        from calls.selectors import active_call_ids
        from calls.streams import open_call_stream_for_request
        from realtime.asgi import serve_app_stream
        from realtime.history import provide_active_calls
        from workspaces.signals import workspace_created

        register_events()
        provide_active_calls(active_call_ids)
        serve_app_stream(r"/api/v1/calls/(?P<call_id>[^/]+)/stream", "api/v1/calls/{call_id}/stream",
                         open_call_stream_for_request)
        workspace_created.connect(_create_default_agent, dispatch_uid="calls.default_agent")


def _create_default_agent(sender, workspace, **kwargs) -> None:
    from calls.agents import ensure_default_agent

    ensure_default_agent(workspace)
