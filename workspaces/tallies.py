"""Row tallies: the `total_count` of a large list without counting it.

Counting a workspace's 1,000,000 calls is a 30 ms index scan on every page;
reading its tally is eight rows of `RowTally` (docs/PERFORMANCE.md "REST at
scale"). The tally is exact: PostgreSQL statement triggers add and subtract
the rows of every INSERT and DELETE in the transaction that makes them, so a
page's count and its rows come from one snapshot whatever path wrote them
(services, bulk inserts, cascades, a migration's SQL). Each writing session
adds to its own shard (its backend pid modulo `SHARDS`), so two sessions
writing one workspace seldom wait on one row. A counted row cannot move to
another workspace or scope: an UPDATE that tries is refused.

Only PostgreSQL keeps tallies; elsewhere (SQLite on a laptop) `tallied_count`
answers None and the list counts its rows, which at that size is cheap.
"""

# ruff: noqa: S608 - the SQL is made of the migrations' own table and column names.

from uuid import UUID

from django.db import connection
from django.db.migrations import RunPython
from django.db.models import Model
from ninja import Schema

from project.pagination import unfiltered
from workspaces.models import RowTally, Workspace
from workspaces.scoping import scoped

SHARDS = 8
_TABLE = "workspaces_rowtally"
_EVENTS = ("added", "removed", "truncated", "moved")


def tallied_count(model: type[Model], workspace: Workspace, scope: UUID | str | None = None, *,
                  filters: Schema | None = None) -> int | None:
    """How many `model` rows the workspace holds (within `scope`, a campaign, when
    the tally is kept per campaign); None where no tally is kept, or when one of
    the list's `filters` is set (the list then counts what matches)."""
    if connection.vendor != "postgresql" or (filters is not None and not unfiltered(filters)):
        return None
    # Summed here: an aggregate costs Django more to compile than the query costs to run.
    shards = scoped(RowTally, workspace).filter(kind=model._meta.label_lower, scope=scope or workspace.pk)
    return sum(shards.values_list("total", flat=True))


def _statements(kind: str, table: str, scope_column: str) -> list[str]:
    name = f"callboard_tally_{table}"
    upsert = (f"INSERT INTO {_TABLE} (workspace_id, kind, scope, shard, total) "
              "SELECT workspace_id, '{kind}', scope, pg_backend_pid() % {shards}, {sign}n FROM ({grouped}) g "
              "{where} ORDER BY scope "
              f"ON CONFLICT (kind, scope, shard) DO UPDATE SET total = {_TABLE}.total + EXCLUDED.total;")
    grouped = f"SELECT workspace_id, {scope_column} AS scope, count(*) AS n FROM {{rows}} GROUP BY 1, 2"
    # Rows removed with their workspace: the workspace's tallies may already be gone
    # (deleted before or after its rows), and a new one would outlive it.
    still_kept = f"WHERE EXISTS (SELECT 1 FROM {_TABLE} t WHERE t.kind = '{kind}' AND t.scope = g.scope)"
    added = upsert.format(kind=kind, shards=SHARDS, sign="", grouped=grouped.format(rows="added"), where="")
    removed = upsert.format(kind=kind, shards=SHARDS, sign="-", grouped=grouped.format(rows="removed"),
                            where=still_kept)
    moved = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}"
                        for column in dict.fromkeys(("workspace_id", scope_column)))

    def function(event: str, body: str) -> str:
        return f"CREATE FUNCTION {name}_{event}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} END $$;"

    return [
        f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE;",
        function("added", f"{added} RETURN NULL;"),
        function("removed", f"{removed} RETURN NULL;"),
        function("truncated", f"DELETE FROM {_TABLE} WHERE kind = '{kind}'; RETURN NULL;"),
        function("moved", f"RAISE EXCEPTION 'a row of {table} cannot change its workspace or scope: "
                          "its tally counts it there';"),
        f"CREATE TRIGGER {name}_added AFTER INSERT ON {table} REFERENCING NEW TABLE AS added "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_added();",
        f"CREATE TRIGGER {name}_removed AFTER DELETE ON {table} REFERENCING OLD TABLE AS removed "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_removed();",
        f"CREATE TRIGGER {name}_truncated AFTER TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_truncated();",
        f"CREATE TRIGGER {name}_moved BEFORE UPDATE ON {table} FOR EACH ROW WHEN ({moved}) "
        f"EXECUTE FUNCTION {name}_moved();",
        # The rows already there, counted while writers wait on the lock above.
        f"DELETE FROM {_TABLE} WHERE kind = '{kind}';",
        f"INSERT INTO {_TABLE} (workspace_id, kind, scope, shard, total) SELECT workspace_id, '{kind}', "
        f"{scope_column}, 0, count(*) FROM {table} GROUP BY workspace_id, {scope_column};",
    ]


def _dropped(kind: str, table: str) -> list[str]:
    name = f"callboard_tally_{table}"
    return [
        *(f"DROP TRIGGER IF EXISTS {name}_{event} ON {table};" for event in _EVENTS),
        *(f"DROP FUNCTION IF EXISTS {name}_{event}();" for event in _EVENTS),
        f"DELETE FROM {_TABLE} WHERE kind = '{kind}';",
    ]


def tallied_by_triggers(kind: str, table: str, scope_column: str = "workspace_id") -> RunPython:
    """The migration operation that starts keeping the tally of `table`'s rows (model
    label `kind`) per workspace, or per `scope_column` within it, and counts the rows
    it already holds; reversed, it stops. Nothing on databases other than PostgreSQL."""

    def run(statements: list[str]):
        def operation(apps, schema_editor):
            if schema_editor.connection.vendor != "postgresql":
                return
            with schema_editor.connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        return operation

    return RunPython(run(_statements(kind, table, scope_column)), run(_dropped(kind, table)))
