"""Request and response shapes of the export endpoints (docs/reference/rest.md#exports)."""

from datetime import datetime
from typing import Any

from ninja import Field, Schema
from pydantic import ConfigDict

from exports.events import ExportStatus
from exports.models import ExportFormat, ExportKind

FILTERS = ("The filters of the kind's list endpoint: for `calls` those of GET /calls (status, active, agent, "
           "direction, campaign_id, created_after, created_before); for `call-events` the same (selecting "
           "calls) and `call_id`; for `ledger` those of GET /billing/ledger (kind, call_id).")


class ExportIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: ExportKind
    format: ExportFormat = ExportFormat.CSV
    filters: dict[str, Any] = Field(default_factory=dict, max_length=20, description=FILTERS)


class ExportListParams(Schema):
    status: str | None = Field(None, max_length=200, description="A status, or a comma list of them.")


class ExportOut(Schema):
    id: str
    kind: ExportKind
    format: ExportFormat
    filters: dict[str, Any] = Field(description="The filters as they were taken.")
    status: ExportStatus
    progress: float = Field(ge=0, le=100, description="Percent done.")
    row_count: int = Field(description="Rows written so far.")
    size_bytes: int | None = Field(description="The file's size, once completed.")
    download_url: str | None = Field(description=(
        "A signed link to the file (a path on this host) while completed; it works for "
        "EXPORT_LINK_TTL_SECONDS, for a caller of the same workspace."))
    expires_at: datetime | None = Field(description="When the file is deleted (retention).")
    error: str | None
    created_at: datetime
    completed_at: datetime | None = Field(description="When it completed, failed or was canceled.")


class ExportPage(Schema):
    results: list[ExportOut]
    next_page_token: str
    total_count: int
