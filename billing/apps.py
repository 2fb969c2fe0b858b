from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing import services
        from billing.events import register_events
        from calls.pricing import provide_pricing
        from calls.signals import call_admission, calls_ended
        from workspaces.signals import workspace_created

        register_events()
        provide_pricing(services.call_cost)
        call_admission.connect(services.refuse_without_credit, dispatch_uid="billing.admission")
        calls_ended.connect(services.settle_ended_calls, dispatch_uid="billing.settlement")
        workspace_created.connect(services.open_account, dispatch_uid="billing.open_account")
