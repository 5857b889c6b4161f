"""``prodml serve``, ``prodml rollback``, ``prodml predictions`` and ``prodml labels``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

import prodml
from prodml.cli.output import console, emit_json, number
from prodml.domain.registry import AliasMove
from prodml.errors import InvalidInputError
from prodml.times import parse, span

predictions = typer.Typer(help="SQL over the prediction log.", no_args_is_help=True)
labels = typer.Typer(help="Ground truth joined to logged predictions.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def serve(
    names: Annotated[list[str], typer.Argument(metavar="MODEL...", help="Model names to serve.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    timeout_ms: Annotated[float, typer.Option(help="Model timeout before fallback.")] = 2000.0,
    fallback_default: Annotated[
        str | None, typer.Option(help="Last answer of the fallback chain (JSON value).")
    ] = None,
    controller: Annotated[
        bool, typer.Option(help="Run the rollout controller in this process.")
    ] = True,
    tick: Annotated[float, typer.Option(help="Seconds between controller ticks.")] = 2.0,
    allow_unsigned: Annotated[
        bool,
        typer.Option(help="Serve versions logged without an input signature (inputs unchecked)."),
    ] = False,
) -> None:
    """Serve MODEL's champion (and any rollout of it) on uvicorn."""
    import orjson

    from prodml.serve import gateway, server

    default: Any = gateway.NO_DEFAULT
    if fallback_default is not None:
        try:
            default = orjson.loads(fallback_default)
        except orjson.JSONDecodeError:
            default = fallback_default
    server.check_address(host, port)
    server.check(names, allow_unsigned=allow_unsigned)
    console.print(f"Serving {', '.join(names)} on http://{host}:{port} ({workers} worker(s)).")
    server.run(
        names, host, port, workers, timeout_ms / 1000.0, default,
        control=tick if controller else None, allow_unsigned=allow_unsigned,
    )  # fmt: skip


def rollback(
    name: str,
    why: Annotated[str | None, typer.Option("--why", help="Recorded with the rollback.")] = None,
) -> None:
    """Move champion back to its previous version (or end the active rollout)."""
    done = prodml.rollback(name, why)
    if isinstance(done, AliasMove):
        console.print(
            f"{name}@champion -> v{done.version} (was v{done.previous}), by {done.actor}. "
            "Gateways follow within a second."
        )
    else:
        console.print(
            f"Rollout {done.id[:12]} of {name} v{done.candidate} rolled back: every request "
            f"goes to champion v{done.baseline} again."
        )


@predictions.command("query")
def query(
    sql: Annotated[str, typer.Argument(help="SQL over predictions, labels, labelled.")],
    json: JSON = False,
    limit: Annotated[int, typer.Option(help="Rows shown.")] = 50,
) -> None:
    """Run SQL over the prediction log with DuckDB."""
    table = prodml.query_predictions(sql)
    if json:
        emit_json(table.slice(0, limit).to_pylist())
        return
    shown = Table(*table.column_names)
    for row in table.slice(0, limit).to_pylist():
        shown.add_row(*(number(value) for value in row.values()))
    console.print(shown)
    if table.num_rows > limit:
        console.print(f"({table.num_rows:,} rows; {limit} shown, see --limit)")


@predictions.command("compact")
def compact(
    model: Annotated[
        str | None,
        typer.Option("--model", help="Only this model's segments (default: all, and labels)."),
    ] = None,
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than", help="Merge segments written before this: a span back (10m, 1h)."
        ),
    ] = "10m",
    json: JSON = False,
) -> None:
    """Merge the log's small segments into a few big files, so queries open fewer.
    The files merged are deleted by a later run, once no query can still be reading them."""
    from prodml.sdk.predictions import COMPACT_AFTER

    moment = parse(older_than, "--older-than").timestamp()
    now = time.time()
    if moment > now + 1.0:
        raise InvalidInputError(
            f"--older-than {older_than!r} is in the future. Give a span back from now "
            "(0m, 10m, 1h) or a past time."
        )
    report = prodml.compact_predictions(model, max(0.0, now - moment))
    if json:
        emit_json(report)
        return
    console.print(
        f"Merged {report.merged:,} segment(s) into {report.written:,} file(s): "
        f"{report.rows:,} rows, {_size(report.bytes_before)} -> {_size(report.bytes_after)}."
    )
    grace = span(COMPACT_AFTER)
    console.print(
        f"Deleted {report.deleted:,} file(s) merged more than {grace} ago; files merged since "
        f"are deleted by a run after {grace} (a query may still be reading them)."
    )
    if report.busy:
        console.print(
            f"Skipped {len(report.busy)} day folder(s) another compaction is working in: "
            f"{', '.join(report.busy)}."
        )


@predictions.command("prune")
def prune(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than", help="Delete days that ended before this: a span back (90d, 12w)."
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option("--model", help="Only this model's days (default: all, labels too)."),
    ] = None,
    json: JSON = False,
) -> None:
    """Delete whole days of the log (segments, labels, quarantined rows) older than a span."""
    moment = parse(older_than, "--older-than").timestamp()
    now = time.time()  # taken after the span's: 1d is a day back, not less
    back = now - moment
    if back < 0:
        raise InvalidInputError(
            f"--older-than {older_than!r} is in the future; give a span back (e.g. 90d) or "
            "a past date, at least a day ago."
        )
    if back < 86_400:  # said here too, as the flag was given, not as seconds
        raise InvalidInputError(
            f"--older-than {older_than!r} is less than a day back; retention deletes whole "
            "days, so give a day or more (e.g. 90d)."
        )
    report = prodml.prune_predictions(back, model, now=now)  # the cutoff is the moment given
    if json:
        emit_json(report)
        return
    console.print(
        f"Deleted {report.days:,} day folder(s), {report.files:,} file(s), "
        f"{_size(report.bytes)}: every day that ended before {report.cutoff}."
    )


def _size(count: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"


@labels.command("ingest")
def ingest(
    file: Path,
    key: Annotated[str, typer.Option(help="Column holding the request id.")] = "request_id",
    label: Annotated[str, typer.Option(help="Column holding the label.")] = "label",
    at: Annotated[
        str | None, typer.Option("--time", help="Column of when each label became known.")
    ] = None,
    json: JSON = False,
) -> None:
    """Join labels in FILE (CSV or Parquet) to logged predictions by request id."""
    report = prodml.ingest_labels(file, key, label, at)
    if json:
        emit_json(report)
        return
    console.print(
        f"{report.matched:,} of {report.rows:,} labels joined to logged requests"
        + (f"; {report.relabelled:,} replaced an earlier label" if report.relabelled else "")
        + (f"; {report.repeated_in_file:,} repeated in the file (last kept)"
           if report.repeated_in_file else "")
        + "."
    )  # fmt: skip
    if report.unknown:
        console.print(
            f"{report.unknown:,} label(s) name request ids not in the log and were not stored, "
            f"e.g. {', '.join(report.unknown_examples)}."
        )
    if report.ambiguous:
        console.print(
            f"{report.ambiguous:,} label(s) name request ids logged more than once and were "
            f"applied to all {report.ambiguous_rows:,} of those rows, e.g. "
            f"{', '.join(report.ambiguous_examples)}. Have clients send a unique "
            "x-request-id per request."
        )
    if report.lag_median_s is not None:
        console.print(
            f"Label lag: median {_span(report.lag_median_s)}, 90th percentile "
            f"{_span(report.lag_p90_s or 0.0)}."
        )


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("rollback")(rollback)
    app.add_typer(predictions, name="predictions")
    app.add_typer(labels, name="labels")
