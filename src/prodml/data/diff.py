"""Diffs between two dataset versions: schema, row counts, rows added, removed
and changed (by key when there is one, else by row content) and per-column
summaries. Row comparisons run in DuckDB over the verified Parquet blobs."""

from __future__ import annotations

import math
from typing import Any

from prodml.client import Client
from prodml.data.files_diff import diff_file_sets
from prodml.data.stored_tables import load_table
from prodml.data.tables import check_key
from prodml.domain.dataset import (
    ColumnChange,
    DatasetDiff,
    DatasetKind,
    DatasetVersion,
    SchemaChange,
)
from prodml.errors import InvalidInputError
from prodml.sql_text import identifier, seal

_STATISTICS = ("nulls", "distinct", "min", "max", "mean")


def diff_versions(
    client: Client, before: DatasetVersion, after: DatasetVersion, key: tuple[str, ...] = ()
) -> DatasetDiff:
    if before.kind is DatasetKind.FILES and after.kind is DatasetKind.FILES:
        return diff_file_sets(client, before, after)
    if before.kind is not after.kind:
        raise InvalidInputError(
            f"Cannot diff {before.ref} ({before.kind}) with {after.ref} ({after.kind}): "
            "diff two tables or two sets of files."
        )
    key = key or (after.key if after.key == before.key else ())
    common = [c for c in after.schema if c in before.schema]
    for column in key:
        if column not in common:
            raise InvalidInputError(
                f"Key column {column!r} is not in both {before.ref} and {after.ref}. "
                "Pass --key with a column both versions have."
            )
    added, removed, changed = _row_changes(client, before, after, common, key)
    return DatasetDiff(
        before=before,
        after=after,
        schema_changes=_schema_changes(before, after),
        rows_before=before.num_rows,
        rows_after=after.num_rows,
        rows_added=added,
        rows_removed=removed,
        rows_changed=changed,
        column_changes=_column_changes(before, after),
        matched_by=f"key {', '.join(key)}" if key else "row content",
    )


def _schema_changes(before: DatasetVersion, after: DatasetVersion) -> tuple[SchemaChange, ...]:
    names = list(before.schema) + [c for c in after.schema if c not in before.schema]
    return tuple(
        SchemaChange(name, before.schema.get(name), after.schema.get(name))
        for name in names
        if before.schema.get(name) != after.schema.get(name)
    )


def _column_changes(before: DatasetVersion, after: DatasetVersion) -> tuple[ColumnChange, ...]:
    old = {column.name: column for column in before.columns}
    changes = []
    for column in after.columns:
        previous = old.get(column.name)
        if previous is None:
            continue
        for statistic in _STATISTICS:
            was, now = getattr(previous, statistic), getattr(column, statistic)
            if not _same(was, now):
                changes.append(ColumnChange(column.name, statistic, was, now))
    return tuple(changes)


def _same(was: Any, now: Any) -> bool:
    if isinstance(was, float) and isinstance(now, float):
        if math.isnan(was) or math.isnan(now):
            return math.isnan(was) and math.isnan(now)
        return was == now or abs(was - now) <= 1e-12 * max(1.0, abs(was), abs(now))
    return bool(was == now)


_NUMBERS = ("int", "uint", "float", "double", "halffloat", "decimal")


def _comparable(column: str, before: str, after: str) -> str:
    """A column both versions can be compared on: as is when its type did not
    change, as a number when it stayed numeric (1 == 1.0), else as text."""
    if before == after:
        return identifier(column)
    numeric = before.startswith(_NUMBERS) and after.startswith(_NUMBERS)
    kind = "DOUBLE" if numeric else "VARCHAR"
    return f"CAST({identifier(column)} AS {kind}) AS {identifier(column)}"


def _row_changes(
    client: Client,
    before: DatasetVersion,
    after: DatasetVersion,
    columns: list[str],
    key: tuple[str, ...],
) -> tuple[int, int, int]:
    import duckdb

    if before.id == after.id:
        return 0, 0, 0
    old_table, new_table = load_table(client, before), load_table(client, after)
    if not columns:
        return after.num_rows or 0, before.num_rows or 0, 0
    select = ", ".join(_comparable(c, before.schema[c], after.schema[c]) for c in columns)
    for version, table in ((before, old_table), (after, new_table)):
        if key:
            check_key(table, key, version.ref)
    connection = duckdb.connect()
    try:
        connection.register("old_rows", old_table)
        connection.register("new_rows", new_table)
        seal(connection)  # the column names are the data's own
        connection.execute(f"CREATE VIEW a AS SELECT {select} FROM old_rows")
        connection.execute(f"CREATE VIEW b AS SELECT {select} FROM new_rows")
        if not key:
            row = connection.execute(
                """SELECT (SELECT count(*) FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM a)),
                          (SELECT count(*) FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b)), 0"""
            ).fetchone()
        else:
            join = " AND ".join(
                f"a.{identifier(k)} IS NOT DISTINCT FROM b.{identifier(k)}" for k in key
            )
            values = [c for c in columns if c not in key]
            differs = " OR ".join(
                f"a.{identifier(c)} IS DISTINCT FROM b.{identifier(c)}" for c in values
            )
            row = connection.execute(
                f"""SELECT
                    count(*) FILTER (WHERE a.in_a IS NULL),
                    count(*) FILTER (WHERE b.in_b IS NULL),
                    count(*) FILTER (WHERE a.in_a AND b.in_b AND ({differs or "FALSE"}))
                FROM (SELECT *, TRUE AS in_a FROM a) AS a
                FULL OUTER JOIN (SELECT *, TRUE AS in_b FROM b) AS b ON {join}"""
            ).fetchone()
    finally:
        connection.close()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])
