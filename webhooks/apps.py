from django.apps import AppConfig
from django.core import checks


class WebhooksConfig(AppConfig):
    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from webhooks import reactions
        from webhooks.events import register_events

        register_events()
        # Every committed workspace event becomes a delivery per matching endpoint.
        reactions.register()
        checks.register(reactions.check_types)
