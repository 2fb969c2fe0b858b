from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from campaigns import reactions as campaign_reactions
        from campaigns.events import register_events
        from realtime import reactions

        register_events()
        # The dialer's: a campaign call's end, a start or resume, a top-up (campaigns/reactions.py).
        reactions.register("campaigns", types=campaign_reactions.TYPES, handler=campaign_reactions.react)
