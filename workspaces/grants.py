"""Whether a principal's access still holds, asked by subject (`Principal.subject_id`:
`key:<api key id>` or `user:<user id>`) and workspace.

The realtime engine asks it for every open stream of a process now and then
(`realtime.access`), so that a revocation whose broadcast was lost still ends
the principal's streams. One query per kind of principal, however many
streams.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model

from workspaces.models import ApiKey, Membership

KEY, USER = "key:", "user:"


def key_subject(key_id) -> str:
    return f"{KEY}{key_id}"


def user_subject(user_id) -> str:
    return f"{USER}{user_id}"


@dataclass(frozen=True)
class Loss:
    """Why a principal lost access, as the API would refuse it now."""

    status: int  # 401: the credentials are gone; 403: they no longer reach the workspace
    code: str
    message: str


KEY_REVOKED = Loss(401, "api_key_revoked", "The API key has been revoked.")
KEY_DELETED = Loss(401, "invalid_api_key", "The API key has been deleted.")
USER_INACTIVE = Loss(401, "not_authenticated", "The user has been deactivated or deleted.")
MEMBERSHIP_REMOVED = Loss(403, "workspace_forbidden", "You are no longer a member of this workspace.")


def lost(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], Loss]:
    """Of the (workspace id, subject id) pairs given, those whose access is gone."""
    keys = {subject.removeprefix(KEY) for _, subject in pairs if subject.startswith(KEY)}
    users = {subject.removeprefix(USER) for _, subject in pairs if subject.startswith(USER)}
    key_state = {
        (str(workspace_id), key_subject(pk)): revoked_at is None
        for pk, workspace_id, revoked_at in ApiKey.objects.filter(pk__in=keys).values_list(
            "pk", "workspace_id", "revoked_at")
    }
    active_users = {str(pk) for pk in get_user_model().objects.filter(
        pk__in=users, is_active=True).values_list("pk", flat=True)}
    members = {
        (str(workspace_id), user_subject(user_id))
        for user_id, workspace_id in Membership.objects.filter(user_id__in=active_users).values_list(
            "user_id", "workspace_id")
    }
    losses = {}
    for pair in pairs:
        subject = pair[1]
        if subject.startswith(KEY):
            state = key_state.get(pair)
            if state is None:
                losses[pair] = KEY_DELETED
            elif not state:
                losses[pair] = KEY_REVOKED
        elif subject.removeprefix(USER) not in active_users:
            losses[pair] = USER_INACTIVE
        elif pair not in members:
            losses[pair] = MEMBERSHIP_REMOVED
    return losses
