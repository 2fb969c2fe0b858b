"""Celery tasks of notifications: the email of one notification, and the trimming of
old ones (docs/notifications.md "Email", "How long they are kept")."""

import logging
import smtplib

from celery import shared_task

from notifications import emails, services

logger = logging.getLogger(__name__)


@shared_task(name="notifications.tasks.email_notification", autoretry_for=(OSError, smtplib.SMTPException),
             retry_backoff=30, retry_backoff_max=600, max_retries=5)
def email_notification(notification_id: str) -> int:
    """Emails the notification to its workspace's owners and admins; how many were sent.
    A mail server that fails is retried with backoff, then given up (logged)."""
    return emails.notification_email_send(notification_id=notification_id)


@shared_task(name="notifications.tasks.trim_notifications")
def trim_notifications() -> int:
    return services.notifications_trim()
