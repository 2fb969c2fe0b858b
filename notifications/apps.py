from django.apps import AppConfig
from django.core import checks


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from notifications import reactions as notification_reactions
        from notifications.checks import check_email_kinds
        from notifications.events import register_events
        from realtime import reactions

        register_events()
        # Low credit, campaigns completed, exports done, schedule runs failed (notifications/rules.py).
        reactions.register("notifications", types=notification_reactions.TYPES,
                           handler=notification_reactions.react)
        checks.register(check_email_kinds)
