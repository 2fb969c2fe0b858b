from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from realtime.control import register_control_types
        from realtime.reactions import check_types

        register_control_types()
        checks.register(check_types)
