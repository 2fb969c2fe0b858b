"""REST endpoints of a campaign's contacts and of the suppression list
(docs/reference/rest.md#contacts, docs/reference/rest.md#suppression-list). Thin: the
work is in campaigns.contacts, the reading of files in campaigns.uploads."""

import contextlib
import tempfile
from collections.abc import Iterator

from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from campaigns import contacts
from campaigns.contact_schemas import (
    ContactListParams,
    ContactPage,
    SuppressionIn,
    SuppressionOut,
    SuppressionPage,
    UploadOut,
)
from campaigns.models import Contact
from campaigns.uploads import MAX_ROWS, copy_body
from project.errors import BadRequest, UnsupportedMediaType, documented_errors
from project.pagination import PageParams, paginated
from workspaces.auth import READ, WRITE, WorkspaceAuth
from workspaces.tallies import tallied_count

router = Router(tags=["contacts"])
AUTH_ERRORS = documented_errors(400, 401, 403, 429)  # 429: rate limits (docs/operations.md)
ONE = {**AUTH_ERRORS, **documented_errors(404)}
# A spooled body stays in memory up to this, then moves to a temporary file.
SPOOL_MEMORY_BYTES = 256 * 1024

_CONTACT_ITEM = {"type": "object", "required": ["phone_number"], "additionalProperties": False,
                 "properties": {"phone_number": {"type": "string", "examples": ["+14155550123"]},
                                "variables": {"type": "object"}}}
UPLOAD_BODY = {
    "required": True,
    "description": f"Up to {MAX_ROWS:,} contacts, as JSON, as a CSV body, or as a CSV file in the "
    "multipart field `file`. A CSV's header row names `phone_number` and any other columns, which "
    "become string variables (an empty cell: none). UTF-8, a byte-order mark allowed.",
    "content": {
        "application/json": {"schema": {
            "type": "object", "required": ["contacts"], "additionalProperties": False,
            "properties": {"contacts": {"type": "array", "maxItems": MAX_ROWS, "items": _CONTACT_ITEM}}}},
        "text/csv": {"schema": {"type": "string"}, "example": "phone_number,first_name\n+14155550123,Ada\n"},
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"}}}},
    },
}


@contextlib.contextmanager
def _upload_file(request: HttpRequest) -> Iterator[tuple[object, str]]:
    """The upload as a seekable binary file and its kind ("csv" or "json"). The body is
    never read whole into memory: a raw body is spooled (to disk past 256 KiB), a
    multipart file is Django's uploaded file (on disk past FILE_UPLOAD_MAX_MEMORY_SIZE)."""
    media = request.content_type
    charset = request.content_params.get("charset", "utf-8").lower().replace("_", "-")
    if charset not in ("utf-8", "utf8"):
        raise BadRequest(f"The body must be UTF-8, not {charset[:40]}.", code="invalid_encoding")
    if media == "multipart/form-data":
        uploaded = request.FILES.get("file")
        if uploaded is None:
            raise BadRequest("A multipart upload carries its CSV in the field `file`.", code="file_required")
        with uploaded:
            yield uploaded, "csv"
        return
    kinds = {"application/json": "json", "text/csv": "csv"}
    if media not in kinds:
        raise UnsupportedMediaType(
            "Send contacts as application/json, text/csv, or multipart/form-data with a `file`.",
            details={"accepted": [*kinds, "multipart/form-data"]})
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES, mode="w+b") as spool:
        copy_body(request, spool)
        yield spool, kinds[media]


@router.post(
    "/campaigns/{campaign_id}/contacts",
    response={200: UploadOut, **ONE, **documented_errors(409, 413, 415)},
    auth=WorkspaceAuth(WRITE),
    openapi_extra={"requestBody": UPLOAD_BODY},
)
def contacts_upload(request: HttpRequest, campaign_id: str):
    """Adds contacts to a campaign that has not finished (409 `campaign_finished`). A bad
    row is reported by its number in `errors` and the others are kept; a file that
    cannot be read as a whole (its encoding, header, a ragged row) is 400 and adds
    nothing; more than 100,000 rows is 413 `too_many_rows`. Details:
    docs/campaigns.md "Contacts and uploads"."""
    with _upload_file(request) as (file, kind):
        result = contacts.contacts_upload(workspace=request.auth.workspace, campaign_id=campaign_id,
                                          file=file, kind=kind)
    return result.as_dict()


@router.get("/campaigns/{campaign_id}/contacts", response={200: ContactPage, **ONE}, auth=WorkspaceAuth(READ))
def contact_list(request: HttpRequest, campaign_id: str, filters: Query[ContactListParams],
                 params: Query[PageParams]):
    found = contacts.contact_list(request.auth.workspace, campaign_id, status=filters.status)
    # contact_list answered 404 for a campaign that is not the workspace's.
    total = tallied_count(Contact, request.auth.workspace, scope=campaign_id, filters=filters)
    return paginated(found, params, contacts.contact_object, total_count=total)


@router.get("/suppressions", response={200: SuppressionPage, **AUTH_ERRORS}, auth=WorkspaceAuth(READ),
            tags=["suppressions"])
def suppression_list(request: HttpRequest, params: Query[PageParams]):
    return paginated(contacts.suppression_list(request.auth.workspace), params, contacts.suppression_object)


@router.post("/suppressions", response={200: SuppressionOut, 201: SuppressionOut, **AUTH_ERRORS},
             auth=WorkspaceAuth(WRITE), tags=["suppressions"])
def suppression_add(request: HttpRequest, payload: SuppressionIn):
    """Puts a number on the do-not-call list: 201, or 200 with the entry as it was when
    the number was already there. Contacts waiting to dial it are skipped."""
    entry, created = contacts.suppression_add(workspace=request.auth.workspace,
                                              phone_number=payload.phone_number, reason=payload.reason)
    return Status(201 if created else 200, contacts.suppression_object(entry))


@router.delete("/suppressions/{phone_number}", response={204: None, **ONE}, auth=WorkspaceAuth(WRITE),
               tags=["suppressions"])
def suppression_remove(request: HttpRequest, phone_number: str):
    """Takes a number off the list (the + URL-encoded: `%2B14155550123`)."""
    contacts.suppression_remove(workspace=request.auth.workspace, phone_number=phone_number)
    return Status(204, None)
