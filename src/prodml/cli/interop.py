"""``prodml import mlflow``: bring another tool's records into the store."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from prodml.cli.output import console, emit_json, errors
from prodml.sdk.interop import import_mlflow

imports = typer.Typer(help="Bring another tool's records into the store.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@imports.command("mlflow")
def mlflow(
    tracking_uri: Annotated[
        str,
        typer.Argument(
            metavar="TRACKING_URI",
            help="sqlite:///mlflow.db (or another database URL), an mlruns folder, or a "
            "tracking server's http(s):// URL.",
        ),
    ],
    model_prefix: Annotated[
        str, typer.Option("--model-prefix", help="Put before each registered model's name.")
    ] = "",
    json: JSON = False,
) -> None:
    """Import MLflow experiments, runs (params, tags, every metric point, artifacts) and
    registered models (versions, aliases, stages). Run it again to import only what is
    new; runs keep their MLflow ids."""

    def progress(read: int) -> None:
        if not json and sys.stderr.isatty():
            errors.print(f"  {read:,} runs read", end="\r")

    report = import_mlflow(tracking_uri, model_prefix, progress)
    if json:
        emit_json(report)
        return
    console.print(
        f"From {report.source} (MLflow {report.mlflow_version}), {report.experiments} "
        f"experiment(s), in {report.seconds:.1f} s:"
    )
    console.print(
        f"  runs: {report.runs_imported:,} imported, {report.runs_updated:,} brought up to "
        f"date, {report.runs_skipped:,} already here"
    )
    console.print(
        f"  {report.params:,} params, {report.metric_points:,} metric points, "
        f"{report.artifact_files:,} artifact file(s)"
    )
    console.print(
        f"  model versions: {report.model_versions_imported:,} imported, "
        f"{report.model_versions_skipped:,} already here; {report.aliases_moved:,} alias(es) set"
    )
    if report.models_refused:
        console.print(
            f"  not imported (names prodml refuses): {', '.join(report.models_refused)}; "
            "give --model-prefix or rename them in MLflow."
        )
    console.print("See them: prodml runs list; prodml models list")


def register(app: typer.Typer) -> None:
    app.add_typer(imports, name="import")
