"""``prodml validate``, ``prodml checks infer`` and ``prodml profile``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

import prodml
from prodml.cli.output import console, emit_json, number
from prodml.domain.validation import FindingKind, ValidationResult
from prodml.errors import InvalidInputError

checks_app = typer.Typer(help="Checks inferred from a dataset's history.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
PARTITION = Annotated[
    str | None,
    typer.Option("--partition-by", help="Judge against the partitions of this column."),
]
STYLE = {FindingKind.HARD: "bold red", FindingKind.SOFT: "yellow", FindingKind.DRIFT: "cyan"}


def validate(
    batch: Annotated[str, typer.Argument(help="A table file, or a logged version NAME@V.")],
    against: Annotated[str, typer.Option("--against", help="Dataset name or NAME@VERSION.")],
    partition_by: PARTITION = None,
    checks: Annotated[
        Path | None, typer.Option("--checks", help="YAML checks (prodml checks infer).")
    ] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Write an HTML report here.")] = None,
    json: JSON = False,
) -> None:
    """Judge a batch against a dataset's history: hard, soft and drift findings.

    Exits 1 when a hard finding blocks the batch, 0 otherwise."""
    with console.status(f"Profiling {batch} and judging it against {against} ..."):
        result = prodml.validate(batch, against, partition_by=partition_by, checks=checks)
    if html is not None:
        try:
            html.write_text(prodml.validation_report(result), encoding="utf-8")
        except OSError as error:
            raise InvalidInputError(
                f"Cannot write the report to {html}: {error.strerror}. Choose a folder that exists."
            ) from None
    if json:
        emit_json(result.to_dict())
    else:
        _summary(result)
        if html is not None:
            console.print(f"Report: {html}")
    if result.blocked:
        raise typer.Exit(1)


def _summary(result: ValidationResult) -> None:
    counts = {kind: len(result.of_kind(kind)) for kind in FindingKind}
    verdict = (
        Text("BLOCKED", "bold red")
        if result.blocked
        else Text("ALARM", "bold yellow")
        if result.alarm
        else Text("OK", "bold green")
    )
    console.print(
        Text.assemble(
            verdict,
            f"  {result.subject}: {number(result.rows)} rows, {result.tests} tests against "
            f"{result.history} -- {counts[FindingKind.HARD]} hard, "
            f"{counts[FindingKind.SOFT]} soft, {counts[FindingKind.DRIFT]} drift",
        )
    )
    for note in result.notes:
        console.print(Text(f"note: {note}", "dim"))
    if not result.findings:
        return
    table = Table("kind", "column", "statistic", "observed", "expected", "z (how unusual)")
    for finding in result.findings:
        low, high = (
            ([*finding.expected, None, None])[:2]
            if isinstance(finding.expected, list)
            else (None, finding.expected)
        )
        table.add_row(
            Text(finding.kind.value, STYLE[finding.kind]),
            finding.column or "(table)",
            finding.statistic,
            number(finding.observed),
            f"{number(low)} .. {number(high)}" if low is not None else number(high),
            number(finding.z) if finding.z is not None else "-",
        )
    console.print(table)
    for finding in result.findings[:10]:
        console.print(
            Text.assemble((f"{finding.kind.value}: ", STYLE[finding.kind]), finding.message)
        )
    if result.columns_at_fault:
        console.print("Most likely at fault: " + ", ".join(result.columns_at_fault[:5]))


@checks_app.command("infer")
def infer(
    name: Annotated[str, typer.Argument(help="Dataset name (or NAME@VERSION).")],
    partition_by: PARTITION = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="YAML file to write.")] = None,
) -> None:
    """Propose checks from the history of NAME's versions (or partitions) as YAML."""
    path = out or Path(f"{name.split('@')[0]}.checks.yaml")
    with console.status(f"Reading the history of {name} ..."):
        document = prodml.infer_checks(name, partition_by=partition_by, path=path)
    columns = document["columns"]
    console.print(
        f"Wrote {path}: {len(columns)} columns, from {document['history']}. "
        f"Edit it, then: prodml validate FILE --against {name} --checks {path}"
    )


def profile(
    path: Annotated[
        str,
        typer.Argument(
            help="A Parquet, CSV or TSV file, or a stored table version (NAME@V).",
            metavar="FILE|NAME@V",
        ),
    ],
    partition_by: PARTITION = None,
    executor: Annotated[
        str,
        typer.Option("--executor", help="For NAME@V: local (this process) or ray."),
    ] = "local",
    partitions: Annotated[
        int | None,
        typer.Option(
            "--partitions", min=1, help="For NAME@V: parts of its rows (default: Ray's CPUs, or 1)."
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option("--address", help="Ray cluster: auto or ray://HOST:10001 (default: local)."),
    ] = None,
    json: JSON = False,
) -> None:
    """Profile a table file or a stored table version: per-column counts, nulls,
    quantiles, distinct values. A stored version can be profiled in parts on Ray."""
    stored = "@" in path and not Path(path).exists()
    if not stored and (executor != "local" or partitions is not None or address is not None):
        raise InvalidInputError(
            "--executor, --partitions and --address apply to a stored version (NAME@V); "
            f"{path!r} is a file. Log it first: prodml datasets log NAME {path}"
        )
    if stored and partition_by:
        raise InvalidInputError(
            "--partition-by applies to a file; for a stored version, validate it by "
            f"partition: prodml validate {path} --against NAME --partition-by COLUMN"
        )
    with console.status(f"Profiling {path} ..."):
        if stored:
            made: Any = prodml.profile_version(
                path, executor=executor, partitions=partitions, address=address
            )
        else:
            made = prodml.profile(Path(path), partition_by=partition_by)
    profiles = made if isinstance(made, dict) else {str(path): made}
    if json:
        emit_json({label: p.to_summary() for label, p in profiles.items()})
        return
    for label, one in profiles.items():
        table = Table(
            "column",
            "type",
            "nulls",
            "distinct",
            "min",
            "median",
            "max",
            "mean",
            title=f"{label}: {one.rows:,} rows, {one.duplicate_rows:,} duplicate rows",
        )
        for row in one.to_summary()["columns"]:
            table.add_row(
                *(
                    number(row[k])
                    for k in ("name", "type", "nulls", "distinct", "min", "median", "max", "mean")
                )
            )
        console.print(table)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.command("profile")(profile)
    app.add_typer(checks_app, name="checks")
