"""Tenancy and identity: the workspace, who belongs to it, and the keys that act for it."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from workspaces.zones import known_zones


def validate_timezone(value: str) -> None:
    if value not in known_zones():
        raise ValidationError(f"{value!r} is not an IANA time zone name.")


class Workspace(models.Model):
    """The tenant. Every tenant row points here; see `TenantModel`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    # Credit granted when the workspace was created; billing opens the ledger with it.
    opening_credit = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class TenantModel(models.Model):
    """Base of every model that holds a workspace's data.

    Queries of these go through `workspaces.scoping`; a test fails when a model
    of a domain app does not derive from this class.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True


class Role(models.TextChoices):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


class Membership(TenantModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="one_membership_per_user"),
        ]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace.slug} as {self.role}"


class Scope(models.TextChoices):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"
    RUNTIME = "runtime"


class ApiKey(TenantModel):
    """A workspace's key. Only a SHA-256 of the secret is kept; the key itself is
    shown once, when it is made (`workspaces.keys`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    # The visible start of the key ("cbk_1a2b3c4d"): finds the row, and tells
    # people which key is which without revealing it.
    prefix = models.CharField(max_length=16, unique=True)
    hashed_secret = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class RowTally(TenantModel):
    """How many rows of one kind a workspace, or one of its campaigns, holds: the
    `total_count` of a list without counting its rows (docs/reference/rest.md
    "Pagination"). PostgreSQL triggers keep it in the transaction that adds or
    removes the rows (workspaces/tallies.py); a scope's count is the sum of its
    shards, so concurrent writers of one workspace rarely wait on the same row."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=40)  # the counted model's label, "calls.call"
    scope = models.UUIDField()  # the workspace itself, or the campaign of its contacts
    shard = models.SmallIntegerField()
    total = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "scope", "shard"], name="one_row_tally_a_shard"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.scope} (shard {self.shard}): {self.total}"
