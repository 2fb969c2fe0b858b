"""Every way access is taken away ends the principal's open streams and cached key.

A key revoked (`services.api_key_revoke`, REST, the admin action) or deleted
(the admin, a workspace deleted), a membership removed (`services.membership_remove`,
the admin, a user deleted), a user deactivated (`is_active` off, e.g. in the
admin): each calls `realtime.access.revoke` after the commit. Deletions and
deactivations are caught by model signals, so the admin and cascades need no
code of their own. A role lowered is not a revocation: every role may read,
and a stream carries the same events to every role.
"""

from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from realtime import access
from workspaces import grants
from workspaces.key_cache import verified_keys
from workspaces.models import ApiKey, Membership


def key_taken_away(api_key: ApiKey, loss: grants.Loss) -> None:
    # Forgotten here at once (this process's next request reads the database) and,
    # after the commit, in every process.
    verified_keys.forget(api_key.pk)
    transaction.on_commit(partial(access.revoke, subject_id=grants.key_subject(api_key.pk),
                                  workspace_id=str(api_key.workspace_id), loss=loss))


def _key_deleted(sender, instance: ApiKey, **kwargs) -> None:
    key_taken_away(instance, grants.KEY_DELETED)


def _membership_deleted(sender, instance: Membership, **kwargs) -> None:
    transaction.on_commit(partial(access.revoke, subject_id=grants.user_subject(instance.user_id),
                                  workspace_id=str(instance.workspace_id),
                                  loss=grants.MEMBERSHIP_REMOVED))


def _user_saved(sender, instance, update_fields=None, **kwargs) -> None:
    if instance.is_active or (update_fields is not None and "is_active" not in update_fields):
        return
    transaction.on_commit(partial(access.revoke, subject_id=grants.user_subject(instance.pk),
                                  workspace_id=None, loss=grants.USER_INACTIVE))


def connect() -> None:
    """From WorkspacesConfig.ready(). A deleted user's memberships are deleted with it,
    each one signalled, so deletion needs no receiver of its own."""
    post_delete.connect(_key_deleted, sender=ApiKey, dispatch_uid="revoke-deleted-key")
    post_delete.connect(_membership_deleted, sender=Membership, dispatch_uid="revoke-deleted-membership")
    post_save.connect(_user_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="revoke-inactive-user")
