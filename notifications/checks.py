"""A system check: NOTIFICATIONS_EMAIL_KINDS names only kinds that exist, so a misspelt
kind fails `manage.py check` (and every start) instead of never sending."""

from django.conf import settings
from django.core import checks

from notifications.events import KINDS


def check_email_kinds(app_configs=None, **kwargs) -> list[checks.Error]:
    unknown = sorted(set(settings.NOTIFICATIONS_EMAIL_KINDS) - set(KINDS))
    if not unknown:
        return []
    return [checks.Error(f"NOTIFICATIONS_EMAIL_KINDS names unknown kinds: {', '.join(unknown)}",
                         hint=f"The kinds are: {', '.join(KINDS)}.", id="notifications.E001")]
