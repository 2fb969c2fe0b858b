"""Writing the checked rows of a contacts upload: up to 100,000 at once, each number
once per campaign, the workspace's suppressed numbers left out, counted.

On PostgreSQL the rows stream through one `COPY` into a temporary table, then two
statements settle them: a DELETE of the suppressed numbers (its row count is the
`suppressed` count) and an INSERT … SELECT … ON CONFLICT DO NOTHING on (campaign,
phone_number) (its row count is `accepted`; the rest were duplicates, of the
campaign's contacts or of an earlier row of the file). Inserting through a
parameterised multi-row INSERT spent most of its time in psycopg turning a
10,000-placeholder statement into SQL (docs/PERFORMANCE.md "Contacts upload").
Other databases (SQLite in development) get batches of BATCH_ROWS.

The caller holds a transaction: the temporary table lives and dies in it.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice

from django.db import connection

from campaigns.models import Campaign, Contact, ContactStatus, Suppression
from workspaces.scoping import scoped

BATCH_ROWS = 1_000
_STAGE = "campaign_contact_upload"


@dataclass(frozen=True, slots=True)
class Row:
    phone_number: str  # E.164
    timezone: str
    variables: str  # compact JSON


def take_turn(campaign: Campaign) -> None:
    """Uploads to one campaign run one at a time, until the caller's transaction ends:
    two files sharing numbers would otherwise wait on each other's uncommitted rows."""
    if connection.vendor == "postgresql":
        key = int.from_bytes(campaign.pk.bytes[:8], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def store(campaign: Campaign, rows: Iterator[Row]) -> tuple[int, int, int]:
    """Stores the rows; (accepted, duplicates, suppressed)."""
    if connection.vendor == "postgresql":
        return _store_by_copy(campaign, rows)
    return _store_in_batches(campaign, rows)


# Table names from the models and this module; every value is a parameter.
_CREATE = (f"CREATE TEMPORARY TABLE {_STAGE} (seq integer, phone_number text, variables jsonb, "
           "timezone text) ON COMMIT DROP")
_COPY = f"COPY {_STAGE} (seq, phone_number, variables, timezone) FROM STDIN"
_DROP_SUPPRESSED = (
    f"DELETE FROM {_STAGE} AS staged USING {Suppression._meta.db_table} AS listed "  # noqa: S608
    "WHERE listed.workspace_id = %s AND listed.phone_number = staged.phone_number")
# clock_timestamp(): each contact its own moment, in file order, so that the list
# (newest first) is stable and shows the file backwards.
_INSERT = (
    f"INSERT INTO {Contact._meta.db_table} (id, workspace_id, campaign_id, phone_number, "  # noqa: S608
    "variables, timezone, status, attempts, created_at, updated_at) "
    "SELECT gen_random_uuid(), %s, %s, phone_number, variables, timezone, %s, 0, clock_timestamp(), "
    f"clock_timestamp() FROM {_STAGE} ORDER BY seq ON CONFLICT (campaign_id, phone_number) DO NOTHING")


def _store_by_copy(campaign: Campaign, rows: Iterator[Row]) -> tuple[int, int, int]:
    count = 0
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.execute(_CREATE)
        with cursor.copy(_COPY) as copy:
            for count, row in enumerate(rows, start=1):
                copy.write_row((count, row.phone_number, row.variables, row.timezone))
        cursor.execute(_DROP_SUPPRESSED, [campaign.workspace_id])
        suppressed = cursor.rowcount
        cursor.execute(_INSERT, [campaign.workspace_id, campaign.pk, ContactStatus.PENDING.value])
        accepted = cursor.rowcount
        # Dropped now, not at commit: a caller's outer transaction may upload again.
        cursor.execute(f"DROP TABLE {_STAGE}")
    return accepted, count - suppressed - accepted, suppressed


def _store_in_batches(campaign: Campaign, rows: Iterator[Row]) -> tuple[int, int, int]:
    accepted = duplicates = suppressed = 0
    while batch := list(islice(rows, BATCH_ROWS)):
        listed = set(scoped(Suppression, campaign.workspace)
                     .filter(phone_number__in={row.phone_number for row in batch})
                     .values_list("phone_number", flat=True))
        kept = [row for row in batch if row.phone_number not in listed]
        inserted = _insert(campaign, kept)
        accepted += inserted
        duplicates += len(kept) - inserted
        suppressed += len(batch) - len(kept)
    return accepted, duplicates, suppressed


_COLUMNS = ("id", "workspace", "campaign", "phone_number", "variables", "timezone", "status", "attempts",
            "created_at", "updated_at")


def _insert(campaign: Campaign, rows: list[Row]) -> int:
    """One multi-row INSERT that skips the numbers the campaign has; how many it inserted."""
    if not rows:
        return 0
    meta, quote = Contact._meta, connection.ops.quote_name
    fields = [meta.get_field(name) for name in _COLUMNS]
    workspace_id = fields[1].get_db_prep_value(campaign.workspace_id, connection)
    campaign_id = fields[2].get_db_prep_value(campaign.pk, connection)
    params: list = []
    for row in rows:
        now = fields[8].get_db_prep_value(datetime.now(UTC), connection)
        params += [fields[0].get_db_prep_value(uuid.uuid4(), connection), workspace_id, campaign_id,
                   row.phone_number, row.variables, row.timezone, ContactStatus.PENDING.value, 0, now, now]
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    columns = ", ".join(quote(field.column) for field in fields)
    statement = (f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608 (names from the model)
                 f"VALUES {', '.join([placeholders] * len(rows))} "
                 f"ON CONFLICT ({quote('campaign_id')}, {quote('phone_number')}) DO NOTHING")
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount
