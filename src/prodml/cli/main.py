"""The ``prodml`` command: errors become one red line and exit code 1, never a traceback."""

from __future__ import annotations

import os
import sys

import typer
from rich.text import Text

from prodml.cli import (
    auth,
    datasets,
    evaluation,
    incidents,
    models,
    monitor,
    rollout,
    runs,
    schema,
    serving,
    store,
    ui,
    validate,
    valsets,
)  # fmt: skip
from prodml.cli.output import errors
from prodml.errors import ProdmlError

app = typer.Typer(
    name="prodml",
    help="Versioned data, tracked runs, lineage, validation, evaluation, the model registry "
    "staged deployment, monitoring and incidents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(runs.app, name="runs")
app.add_typer(datasets.app, name="datasets")
app.add_typer(models.app, name="models")
app.add_typer(valsets.app, name="valsets")
app.add_typer(rollout.app, name="rollout")
evaluation.register_commands(app)
store.register(app)
validate.register(app)
serving.register(app)
monitor.register(app)
incidents.register(app)
auth.register(app)
ui.register(app)
schema.register(app)


def run() -> None:
    """Entry point: Typer reports usage errors; prodml errors become one red line."""
    try:
        app()
    except ProdmlError as error:
        errors.print(Text.assemble(("Error:", "red"), f" {error}"))
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        errors.print("Aborted.")
        sys.exit(130)
    except Exception as error:
        if os.environ.get("PRODML_DEBUG"):
            raise
        errors.print(
            Text.assemble(
                ("Unexpected error:", "red"),
                f" {type(error).__name__}: {error}. Run again with PRODML_DEBUG=1 for details.",
            )
        )
        sys.exit(2)


if __name__ == "__main__":
    run()
