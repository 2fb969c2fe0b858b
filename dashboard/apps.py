from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The live web page (issue #7). It has no models and no private data path: the
    page's JavaScript reads the public REST API and the workspace stream."""

    name = "dashboard"
    default_auto_field = "django.db.models.BigAutoField"
