"""Dynamic validation sets: production failures appended to a dataset, each append a
new version, every row carrying where it came from in the ``_source`` column."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from prodml.client import Client
from prodml.data import datasets, stored_tables, tables
from prodml.domain.dataset import DatasetVersion
from prodml.errors import DataReadError, InvalidInputError, NotFoundError
from prodml.names import check_name
from prodml.sql_text import identifier, seal

SOURCE = "_source"


@dataclass(frozen=True)
class Growth:
    """One version of a validation set: how many rows it holds and which it added."""

    ref: str
    rows: int
    added: int
    sources: dict[str, int]  # rows added per source
    created_at: datetime
    author: str


def add(
    client: Client, name: str, rows: Any, source: str | None = None, fill_missing: bool = False
) -> tuple[DatasetVersion, int]:
    """Append ``rows`` (a table file, DataFrame or Arrow table) to validation set ``name``
    as its next version; rows already in it are skipped. Returns the version and how
    many rows were new. With ``fill_missing``, columns of the set that the rows lack
    (context the prediction log never held) are left empty instead of refused."""
    check_name(name, "validation set")
    new, origin = _read(rows)
    if new.num_rows == 0:
        raise InvalidInputError(f"No rows to add to {name!r}: the input is empty.")
    label = source or origin or "added by " + client.settings.user
    if SOURCE not in new.column_names:
        new = new.append_column(SOURCE, pa.array([label] * new.num_rows, pa.string()))
    try:
        latest = client.metadata.get_dataset_version(name, None)
    except NotFoundError:
        fresh = _without_known(new, new.slice(0, 0))  # a row twice in one batch counts once
        version = datasets.log_dataset(client, name, fresh)
        _record(client, version, fresh.num_rows, new.num_rows - fresh.num_rows, label)
        return version, fresh.num_rows
    existing = stored_tables.load_table(client, latest)
    if SOURCE not in existing.column_names:
        existing = existing.append_column(SOURCE, pa.nulls(existing.num_rows, pa.string()))
    new = _conform(new, existing.schema, name, latest.ref, fill_missing)
    fresh = _without_known(new, existing)
    duplicates = new.num_rows - fresh.num_rows
    if fresh.num_rows == 0:
        return latest, 0
    version = datasets.log_dataset(client, name, pa.concat_tables([existing, fresh]))
    _record(client, version, fresh.num_rows, duplicates, label)
    return version, fresh.num_rows


def _read(rows: Any) -> tuple[pa.Table, str | None]:
    if isinstance(rows, str | os.PathLike):
        path = Path(rows)
        if not path.is_file():
            raise DataReadError(f"No table file at {path}. Give a .csv or .parquet file.")
        return tables.read_table(path), f"file {path.name}"
    return tables.to_arrow(rows, "the rows to add"), None


def _conform(
    new: pa.Table, schema: pa.Schema, name: str, ref: str, fill_missing: bool = False
) -> pa.Table:
    missing = [f.name for f in schema if f.name not in new.column_names and f.name != SOURCE]
    missing = [] if fill_missing else missing
    extra = [c for c in new.column_names if c not in schema.names]
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"lack column(s) {', '.join(missing)}")
        if extra:
            problems.append(f"have column(s) {', '.join(extra)} that {ref} does not")
        raise InvalidInputError(
            f"The rows to add to {name!r} {' and '.join(problems)}. A validation set keeps one "
            f"schema: {', '.join(schema.names)}."
        )
    columns = []
    for field in schema:
        column = (
            new.column(field.name)
            if field.name in new.column_names
            else pa.nulls(new.num_rows, field.type)
        )
        try:
            columns.append(column.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InvalidInputError(
                f"Column {field.name!r} of the rows to add holds {column.type}; {ref} holds "
                f"{field.type}. Convert it before adding."
            ) from None
    return pa.table(columns, schema=schema)


def _without_known(new: pa.Table, existing: pa.Table) -> pa.Table:
    """``new`` without the rows ``existing`` already has, and each of its own rows once
    (compared on every column but the source; NULLs compare equal)."""
    import duckdb

    names = [identifier(c) for c in new.column_names if c != SOURCE]
    same = " AND ".join(f"n.{c} IS NOT DISTINCT FROM o.{c}" for c in names)
    connection = duckdb.connect()
    connection.register("new_rows", new.append_column("_position", pa.array(range(new.num_rows))))
    connection.register("old_rows", existing)
    seal(connection)  # the column names come from logged requests
    keep = connection.execute(
        f"SELECT min(_position) AS p FROM new_rows n WHERE NOT EXISTS "
        f"(SELECT 1 FROM old_rows o WHERE {same}) GROUP BY {', '.join(names)} ORDER BY p"
    ).fetchnumpy()["p"]
    connection.close()
    return new.take(pa.array(keep))


def _record(
    client: Client, version: DatasetVersion, added: int, duplicates: int, source: str
) -> None:
    client.metadata.record_event(
        "valset.grown",
        ("dataset", version.id),
        source,
        {"ref": version.ref, "added": added, "duplicates_skipped": duplicates},
    )


def history(client: Client, name: str) -> list[Growth]:
    """Every version of a validation set, oldest first, with the rows each added."""
    versions = sorted(client.metadata.list_dataset_versions(name), key=lambda v: v.version)
    if not versions:
        raise NotFoundError(
            f"No validation set {name!r}. Start one: prodml valsets add {name} FILE"
        )
    growth: list[Growth] = []
    before: dict[str, int] = {}
    for version in versions:
        counts = _sources(stored_tables.load_table(client, version))
        added = {k: v - before.get(k, 0) for k, v in counts.items() if v > before.get(k, 0)}
        total = version.num_rows or 0
        growth.append(
            Growth(
                version.ref,
                total,
                total - (growth[-1].rows if growth else 0),
                added,
                version.created_at,
                version.author,
            )
        )
        before = counts
    return growth


def _sources(table: pa.Table) -> dict[str, int]:
    if SOURCE not in table.column_names:
        return {"(no source recorded)": table.num_rows}
    counts = pc.value_counts(table.column(SOURCE).fill_null("(no source recorded)"))
    return dict(
        zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    )
