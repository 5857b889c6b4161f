"""The ``predictions`` view: one row per served row, whatever the files hold.

Served segments and shadow segments (``shadow-`` files) are read apart: a shadow's
answer is joined to its served row by ``row_id`` and fills ``shadow_version``,
``shadow_output`` and ``shadow_error`` (so a row whose shadow answer is not logged
yet, or was lost to a kill, reads as not shadowed). Rows of a model without a
signature keep their inputs as JSON text in ``inputs_json``; the view reads them
into the ``inputs`` struct as well, with the field types DuckDB finds in that text,
so ``unnest(inputs)`` works for every model. With the file each row came from
(``filename``) comes the process that logged it (``writer``, ``<host>.<pid>``): a
segment's name holds it, a compacted file of every writer's rows a column
(``layout.WRITER``) that the view shows only so."""

from __future__ import annotations

from pathlib import Path

import duckdb

from prodml.predictions.layout import SHADOW_KIND, WRITER
from prodml.sql_text import literal

EMPTY_PREDICTIONS = """
SELECT NULL::VARCHAR AS row_id, NULL::VARCHAR AS request_id, NULL::TIMESTAMPTZ AS ts,
       NULL::VARCHAR AS model, NULL::BIGINT AS version, NULL::BIGINT AS assigned,
       NULL::VARCHAR AS variant, NULL::VARCHAR AS rollout_id, NULL::BIGINT AS step,
       NULL::VARCHAR AS routing_key, NULL::VARCHAR AS status, NULL::VARCHAR AS error,
       NULL::VARCHAR AS fallback, NULL::DOUBLE AS latency_ms, NULL::DOUBLE AS output,
       NULL::BIGINT AS shadow_version, NULL::DOUBLE AS shadow_output,
       NULL::VARCHAR AS shadow_error
WHERE false
"""
SHADOW = ("shadow_version", "shadow_output", "shadow_error")
WRITER_IN_NAME = r"-([A-Za-z0-9_.]+)-[0-9a-f]+\.parquet$"  # a segment's name: its writer


def create_predictions(
    connection: duckdb.DuckDBPyConnection, files: list[str], filename: bool = False
) -> None:
    """Create the ``predictions`` view over the segment ``files`` (with ``filename``,
    the columns ``filename`` and ``writer``)."""
    served = [f for f in files if not Path(f).name.startswith(SHADOW_KIND)]
    shadowed = [f for f in files if Path(f).name.startswith(SHADOW_KIND)]
    if not served:
        connection.execute(f"CREATE VIEW predictions AS {EMPTY_PREDICTIONS}")
        return
    extra = ", filename=true" if filename else ""
    connection.execute(
        "CREATE VIEW _served AS SELECT * FROM "
        f"read_parquet({literal(served)}, union_by_name=true{extra})"
    )
    columns = _types(connection, "_served")
    replaced, added = _inputs(connection, columns)
    joined = ""
    if shadowed and "row_id" in columns:
        connection.execute(
            "CREATE VIEW _shadowed AS SELECT row_id AS _row, shadow_version AS _version, "
            "shadow_output AS _output, shadow_error AS _error FROM "
            f"read_parquet({literal(shadowed)}, union_by_name=true)"
        )
        theirs = _types(connection, "_shadowed")
        for name in SHADOW:
            mine, other = f"p.{name}", f"s._{name.removeprefix('shadow_')}"
            if name not in columns:
                replaced[name] = other
            elif "VARCHAR" in (columns[name], theirs[f"_{name.removeprefix('shadow_')}"]):
                replaced[name] = f"coalesce({other}::VARCHAR, {mine}::VARCHAR)"
            else:
                replaced[name] = f"coalesce({other}, {mine})"
        joined = " LEFT JOIN _shadowed s ON p.row_id = s._row"
    added += [f"{value} AS {name}" for name, value in replaced.items() if name not in columns]
    if filename:
        added.append(f"{_writer(columns)} AS writer")
    replacing = [f"{value} AS {name}" for name, value in replaced.items() if name in columns]
    star = f"p.* EXCLUDE ({WRITER})" if WRITER in columns else "p.*"
    star += f" REPLACE ({', '.join(replacing)})" if replacing else ""
    connection.execute(
        f"CREATE VIEW predictions AS SELECT {', '.join([star, *added])} FROM _served p{joined}"
    )


def _writer(columns: dict[str, str]) -> str:
    """Each row's writer: from its compacted file's column, else from its file's name."""
    named = f"regexp_extract(p.filename, {literal(WRITER_IN_NAME)}, 1)"
    return f"coalesce(p.{WRITER}, {named})" if WRITER in columns else named


def _types(connection: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    described = connection.execute(f"DESCRIBE {view}").fetchall()
    return {str(row[0]): str(row[1]) for row in described}


def _inputs(
    connection: duckdb.DuckDBPyConnection, columns: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """``inputs`` read from ``inputs_json`` where a segment holds that instead."""
    if "inputs_json" not in columns:
        return {}, []
    try:
        found = connection.execute(
            "SELECT json_group_structure(inputs_json::JSON) FROM _served "
            "WHERE inputs_json IS NOT NULL"
        ).fetchall()
    except duckdb.Error:  # keys one struct cannot hold (e.g. differing only by case)
        return {}, []  # the text stays readable in inputs_json
    structure = found[0][0] if found else None
    if structure is None or not str(structure).startswith("{"):
        return {}, []
    if _clash(str(structure)):
        return {}, []
    parsed = f"from_json(p.inputs_json, {literal(str(structure))})"
    if "inputs" in columns:
        return {"inputs": f"coalesce(p.inputs, {parsed})"}, []
    return {}, [f"{parsed} AS inputs"]


def _clash(structure: str) -> bool:
    """Whether the inputs' structure has keys that differ only by case, which DuckDB's
    structs (case-insensitive) refuse at query time."""
    import json

    try:
        fields = json.loads(structure)
    except ValueError:
        return True
    names = [str(name).lower() for name in fields] if isinstance(fields, dict) else []
    return len(names) != len(set(names))
