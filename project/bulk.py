"""Inserting many rows of a model at once, on the hot path of runtime ingest.

On PostgreSQL this is `COPY … FROM STDIN`: the rows stream to the server in
psycopg's own format. `bulk_create` renders every value through the model's
fields and, on Django 5.2, sends each column as an array that psycopg's
client-side binding escapes element by element with a regular expression; in
`bench/ingest_profile.py` that was a third of the CPU of a persisted event
(docs/PERFORMANCE.md, "Ingest"). Other databases get `bulk_create`.

Rows are dicts keyed by field attname (`workspace_id`, not `workspace`) and
must name every column without a database default. No model instance is made,
so no `save` logic or signal runs: callers pass finished values.
"""

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models


def insert_rows(model: type[models.Model], rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**row) for row in rows])
        return
    names = list(rows[0])
    fields = [model._meta.get_field(name) for name in names]
    adapters = [_adapter(field) for field in fields]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    statement = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    pairs = list(zip(names, adapters, strict=True))
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([adapt(row[name]) if adapt else row[name] for name, adapt in pairs])


def _adapter(field: models.Field) -> Callable[[Any], Any] | None:
    """What a value needs before psycopg can dump it: JSON columns are wrapped (with
    the field's encoder); uuids, strings, numbers and aware datetimes go as they are."""
    if isinstance(field, models.JSONField):
        # Bound once: `connection` is a proxy, and each attribute read goes through asgiref's Local.
        adapt_json, encoder = connection.ops.adapt_json_value, field.encoder
        return lambda value: adapt_json(value, encoder)
    return None
