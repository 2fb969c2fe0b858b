"""Request and response shapes of the workspace endpoints."""

from datetime import datetime
from uuid import UUID

from ninja import Field, Schema

from workspaces.models import Scope


class WorkspaceOut(Schema):
    id: UUID
    slug: str
    name: str
    timezone: str
    role: str | None = Field(description="The caller's role, for a signed-in user.")
    scopes: list[str] = Field(description="The key's scopes, for an API key; empty for a user.")


class SseTicketOut(Schema):
    ticket: str
    expires_in: int = Field(description="Seconds until the ticket expires unused.")


class ApiKeyIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1)


class ApiKeyOut(Schema):
    id: UUID
    name: str
    prefix: str = Field(description="The visible start of the key.")
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="The key itself. Shown this once; store it now.")


class ApiKeyPage(Schema):
    results: list[ApiKeyOut]
    next_page_token: str
    total_count: int
