"""Single-use SSE tickets.

A browser's EventSource cannot send headers, so it trades a short-lived ticket
in the URL for its identity. A ticket carries 256 random bits, lives in Redis
only as its SHA-256 with a TTL, is bound to the principal and workspace that
asked for it, and is redeemed with GETDEL: of any number of concurrent
redemptions exactly one sees the grant.
"""

import hashlib
import json
import secrets

from django.conf import settings

from project.errors import NotAuthenticated
from project.redis_client import get_redis
from workspaces.auth import Principal, principal_for_key, principal_for_membership
from workspaces.models import ApiKey, Membership

_KEY = "callboard:sse-ticket:{}"


def _redis_key(ticket: str) -> str:
    return _KEY.format(hashlib.sha256(ticket.encode()).hexdigest())


def ticket_issue(*, principal: Principal) -> str:
    ticket = secrets.token_urlsafe(32)
    grant = {
        "workspace_id": str(principal.workspace.pk),
        "api_key_id": str(principal.api_key.pk) if principal.api_key else None,
        "user_id": principal.user.pk if principal.user else None,
    }
    get_redis().set(_redis_key(ticket), json.dumps(grant), ex=settings.SSE_TICKET_TTL_SECONDS)
    return ticket


def _invalid() -> NotAuthenticated:
    return NotAuthenticated("The ticket is unknown, used or expired.", code="invalid_ticket")


def ticket_redeem(ticket: str) -> Principal:
    """The principal the ticket was issued to, as it stands now (a key revoked or
    a membership removed since the ticket was issued makes the ticket worthless)."""
    if not ticket:
        raise _invalid()
    raw = get_redis().getdel(_redis_key(ticket))
    if raw is None:
        raise _invalid()
    grant = json.loads(raw)
    if grant["api_key_id"]:
        api_key = ApiKey.objects.select_related("workspace").filter(
            pk=grant["api_key_id"], workspace_id=grant["workspace_id"], revoked_at__isnull=True
        ).first()
        if api_key is None:
            raise _invalid()
        return principal_for_key(api_key)
    membership = Membership.objects.select_related("workspace", "user").filter(
        user_id=grant["user_id"], workspace_id=grant["workspace_id"], user__is_active=True
    ).first()
    if membership is None:
        raise _invalid()
    return principal_for_membership(membership)
