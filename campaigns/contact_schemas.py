"""Shapes of the contacts and suppression-list endpoints (docs/reference/rest.md#contacts)."""

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from campaigns.contacts import MAX_REASON_CHARS, MAX_REPORTED_ERRORS
from campaigns.uploads import MAX_ROWS

ContactStatusName = Literal["pending", "in-progress", "retry-wait", "completed", "failed", "skipped"]


class ContactIn(Schema):
    phone_number: str = Field(description="E.164, like +14155550123.")
    variables: dict[str, Any] = Field(default_factory=dict,
                                      description="Passed to the agent on the contact's calls.")


class ContactsIn(Schema):
    """The JSON form of an upload (the body is read as a stream, not with this model)."""

    contacts: list[ContactIn] = Field(max_length=MAX_ROWS)


class RowError(Schema):
    row: int = Field(description="1 = the first data row (CSV) or the first contact (JSON).")
    phone_number: str = Field(description="The row's number as sent (at most 32 characters).")
    code: str
    message: str


class UploadOut(Schema):
    accepted: int = Field(description="Contacts added to the campaign.")
    duplicates: int = Field(
        description="Rows whose number the campaign already had, or had earlier in the file.")
    suppressed: int = Field(description="Rows whose number is on the workspace's suppression list.")
    errors: list[RowError] = Field(
        description=f"The first {MAX_REPORTED_ERRORS:,} rows refused, in row order.")
    error_count: int = Field(description="Every row refused; more than `errors` holds when it was cut.")


class ContactOut(Schema):
    id: str
    phone_number: str
    variables: dict[str, Any]
    status: ContactStatusName
    attempts: int
    last_call_id: str | None
    next_attempt_at: datetime | None
    outcome: str | None = Field(description="The last call's outcome, `suppressed`, or null.")


class ContactPage(Schema):
    results: list[ContactOut]
    next_page_token: str
    total_count: int


class ContactListParams(Schema):
    status: str | None = Field(None, max_length=100, description="One status or a comma list.")


class SuppressionIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt reason is refused, not dropped

    phone_number: str = Field(max_length=64, description="E.164, like +14155550123.")
    reason: str = Field("", max_length=MAX_REASON_CHARS)


class SuppressionOut(Schema):
    phone_number: str
    reason: str
    created_at: datetime


class SuppressionPage(Schema):
    results: list[SuppressionOut]
    next_page_token: str
    total_count: int
