"""A campaign's contacts and the workspace's suppression list (docs/campaigns.md
"Contacts and uploads" and "The suppression list").

An upload is read twice from its file: once to find what would refuse it whole
(campaigns.uploads: encoding, header, ragged rows, too many rows) before anything
is written, then to check each row (its number, its variables) and hand the good
ones to campaigns.contact_store, which writes them and counts the duplicates and
the suppressed. The whole upload is one transaction: it lands whole or not at all.

Numbers are E.164: a number must start with "+" (no country is guessed) and be a
valid number for its country (phonenumbers' metadata).

Locks. Adding a suppression takes the house's order (the workspace's event
cursor, each campaign, its contacts) since it may complete a campaign. An upload
emits nothing and takes neither the cursor nor, until its very end, the campaign:
its new rows are invisible to everyone else, and its foreign keys are checked at
commit (Django makes them DEFERRABLE INITIALLY DEFERRED), so the dialer of a
running campaign is never kept waiting by an upload in progress, and no event of
the workspace waits for an upload's commit.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

import phonenumbers
from django.db import transaction
from django.db.models import QuerySet

from calls.inputs import check_variables
from calls.inputs import e164 as e164_or_400
from campaigns import contact_store, uploads
from campaigns.models import (
    DIALABLE_CONTACT_STATUSES,
    FINISHED_CAMPAIGN_STATUSES,
    Campaign,
    Contact,
    ContactStatus,
    Suppression,
)
from campaigns.services import campaign_complete_if_done, campaign_locked
from campaigns.window import zone_for_number
from project.errors import BadRequest, Conflict, NotFound
from project.parser import unstorable_path
from workspaces.models import Workspace
from workspaces.scoping import get_scoped_or_404, scoped

# The answer lists the first errors; `error_count` counts them all.
MAX_REPORTED_ERRORS = 1_000
MAX_NUMBER_CHARS = 32
MAX_REASON_CHARS = 200
SUPPRESSED_OUTCOME = "suppressed"


# --- numbers -----------------------------------------------------------------------------------


def parsed_number(value: Any) -> phonenumbers.PhoneNumber | None:
    """The number, when `value` is text in E.164 form ("+" and the country code;
    spaces, dashes and brackets allowed) of a valid number; else None. The rule of
    calls.inputs.e164, without its 400: an upload reports the row and goes on."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text.startswith("+"):
        return None
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- upload ------------------------------------------------------------------------------------


@dataclass
class UploadResult:
    accepted: int = 0
    duplicates: int = 0
    suppressed: int = 0
    error_count: int = 0
    errors: list[dict] = field(default_factory=list)

    def add_error(self, record: uploads.Record, code: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            shown = record.phone_number if isinstance(record.phone_number, str) else ""
            self.errors.append({"row": record.row, "phone_number": shown[:MAX_NUMBER_CHARS],
                                "code": code, "message": message})

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "suppressed": self.suppressed,
                "errors": self.errors, "error_count": self.error_count}


UPLOADABLE_STATUSES = ("draft", "scheduled", "running", "paused")


def _uploadable(campaign: Campaign | None) -> Campaign:
    if campaign is None:
        raise NotFound("Campaign not found.")
    if campaign.status in FINISHED_CAMPAIGN_STATUSES:
        raise Conflict(f"The campaign is {campaign.status}: it takes no more contacts.",
                       code="campaign_finished", details={"status": campaign.status})
    return campaign


def contacts_upload(*, workspace: Workspace, campaign_id: Any, file: BinaryIO, kind: str) -> UploadResult:
    """Adds the contacts of a CSV or JSON upload (`kind`) to a campaign that has not
    finished. `file` is read twice, so it must be seekable (a spooled request body, an
    uploaded file). Refused whole (400, 413) or taken whole, bad rows reported."""
    campaign = _uploadable(get_scoped_or_404(Campaign, workspace, pk=campaign_id))
    uploads.check_structure(file, kind=kind)
    file.seek(0)
    result = UploadResult()
    with transaction.atomic():
        contact_store.take_turn(campaign)
        rows = _checked_rows(uploads.records(file, kind=kind), result)
        result.accepted, result.duplicates, result.suppressed = contact_store.store(campaign, rows)
        # The campaign may have finished while the file was read: then nothing lands.
        # Its row only (not campaign_locked's cursor): see the module's "Locks".
        locked = _uploadable(scoped(Campaign, workspace).select_for_update(no_key=True)
                             .filter(pk=campaign.pk).first())
        if result.accepted:
            Campaign.objects.filter(pk=locked.pk).update(progress_due=True)
    return result


def _checked_rows(records: Iterator[uploads.Record], result: UploadResult) -> Iterator[contact_store.Row]:
    """The rows fit to store; the others go to the result's errors."""
    for record in records:
        checked = _checked(record)
        if isinstance(checked, contact_store.Row):
            yield checked
        else:
            result.add_error(record, *checked)


def _checked(record: uploads.Record) -> contact_store.Row | tuple[str, str]:
    """The row ready to store, or its error (code, message)."""
    if record.problem:
        return "invalid_contact", record.problem
    number = parsed_number(record.phone_number)
    if number is None:
        missing = record.phone_number is None or record.phone_number == ""
        return "invalid_phone_number", ("phone_number is missing." if missing else
                                        "phone_number must be a valid phone number in E.164 form, "
                                        "like +14155550123.")
    variables = _variables_json(record.variables)
    if isinstance(variables, tuple):
        return variables
    return contact_store.Row(e164(number), zone_for_number(number), variables)


def _variables_json(variables: Any) -> str | tuple[str, str]:
    """A contact's variables as compact JSON, held to a call's limits (the dialer places
    its calls with them), or the error (code, message)."""
    try:
        check_variables(variables)
    except BadRequest as error:
        return error.code, error.message
    if unstorable_path(variables) is not None:
        return "unstorable_text", "Text may not contain U+0000 or unpaired surrogates."
    return json.dumps(variables or {}, separators=(",", ":"), ensure_ascii=False)


# --- reads -------------------------------------------------------------------------------------


def contact_list(workspace: Workspace, campaign_id: Any, *, status: str | None = None) -> QuerySet:
    """A campaign's contacts (`status`: one or a comma list); 404 for a campaign not
    in the workspace, 400 `invalid_status` for a status that does not exist."""
    campaign = get_scoped_or_404(Campaign, workspace, pk=campaign_id)
    contacts = scoped(Contact, workspace).filter(campaign=campaign)
    if status:
        wanted = {part.strip() for part in status.split(",") if part.strip()}
        unknown = wanted - set(ContactStatus.values)
        if unknown:
            raise BadRequest(f"Unknown contact status {', '.join(sorted(unknown))[:100]}.",
                             code="invalid_status", details={"valid": list(ContactStatus.values)})
        contacts = contacts.filter(status__in=wanted)
    return contacts


def contact_object(contact: Contact) -> dict:
    return {
        "id": str(contact.pk),
        "phone_number": contact.phone_number,
        "variables": contact.variables,
        "status": contact.status,
        "attempts": contact.attempts,
        "last_call_id": str(contact.last_call_id) if contact.last_call_id else None,
        "next_attempt_at": contact.next_attempt_at,
        "outcome": contact.outcome,
    }


def suppression_list(workspace: Workspace) -> QuerySet:
    return scoped(Suppression, workspace)


def suppression_object(suppression: Suppression) -> dict:
    return {"phone_number": suppression.phone_number, "reason": suppression.reason,
            "created_at": suppression.created_at}


# --- suppression list --------------------------------------------------------------------------


def suppression_add(*, workspace: Workspace, phone_number: Any, reason: str = "") -> tuple[Suppression, bool]:
    """Puts a number on the workspace's do-not-call list; (the entry, created). A number
    already there keeps its entry (and reason). Either way, every contact with that
    number still waiting to be dialed (pending, retry-wait) in a campaign that has not
    finished is skipped, with outcome `suppressed`; a contact on a call keeps it."""
    number = e164_or_400(phone_number, field="phone_number")
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON_CHARS:
        raise BadRequest(f"reason takes at most {MAX_REASON_CHARS} characters.", code="invalid_reason",
                         details={"max_chars": MAX_REASON_CHARS})
    with transaction.atomic():
        suppression, created = scoped(Suppression, workspace).get_or_create(
            phone_number=number, defaults={"workspace": workspace, "reason": reason})
        _skip_waiting_contacts(workspace, number)
    return suppression, created


def _skip_waiting_contacts(workspace: Workspace, number: str) -> None:
    """In the house's lock order (the workspace's event cursor, each campaign, then its
    contacts): a running campaign left with nothing to dial completes, as the dialer
    would complete it."""
    unfinished = scoped(Campaign, workspace).exclude(status__in=FINISHED_CAMPAIGN_STATUSES)
    waiting = scoped(Contact, workspace).filter(
        campaign__in=unfinished.values("pk"), phone_number=number, status__in=DIALABLE_CONTACT_STATUSES)
    for campaign_id in sorted(set(waiting.values_list("campaign_id", flat=True))):
        campaign = campaign_locked(workspace, campaign_id)
        if campaign.status in FINISHED_CAMPAIGN_STATUSES:
            continue  # finished meanwhile: its contacts stay as they ended
        skipped = waiting.filter(campaign=campaign).update(
            status=ContactStatus.SKIPPED, outcome=SUPPRESSED_OUTCOME, next_attempt_at=None,
            updated_at=datetime.now(UTC))
        if skipped:
            Campaign.objects.filter(pk=campaign.pk).update(progress_due=True)
            campaign.progress_due = True
            campaign_complete_if_done(campaign)


def suppression_remove(*, workspace: Workspace, phone_number: Any) -> None:
    """Takes a number off the list (404 when it is not on it). Contacts skipped for it
    stay skipped; later uploads take the number again."""
    number = e164_or_400(phone_number, field="phone_number")
    deleted, _ = scoped(Suppression, workspace).filter(phone_number=number).delete()
    if not deleted:
        raise NotFound("That number is not on the suppression list.")
