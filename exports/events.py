"""Events about data exports (docs/reference/events.md#workspace-events)."""

from typing import Literal

from pydantic import Field

from realtime.catalogue import Audience, EventData, register

ExportStatus = Literal["queued", "running", "completed", "failed", "canceled", "expired"]


class DataExportStatus(EventData):
    """An export's state or progress changed."""

    export_id: str
    status: ExportStatus
    progress: float = Field(ge=0, le=100, description="Percent done.")
    row_count: int = Field(ge=0)
    download_url: str | None = None
    error: str | None = None


def register_events() -> None:
    register("data-export-status", DataExportStatus, audience=Audience.WORKSPACE)
