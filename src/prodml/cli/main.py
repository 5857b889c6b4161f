"""The ``prodml`` command: errors become one red line and exit code 1, never a traceback."""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
from typing import Any

import typer
from rich.text import Text

from prodml import stops
from prodml.cli import help_text
from prodml.cli.output import errors
from prodml.errors import ProdmlError

# The module that defines each top-level word. A command builds only its own module's
# part of the app: Typer reads the signature of every command it is given, a few
# milliseconds each, and the modules import what their commands need. --help, no
# word or an unknown word build the whole app.
WORDS = {
    "runs": "runs", "datasets": "datasets", "models": "models", "valsets": "valsets",
    "rollout": "rollout", "evaluate": "evaluation", "suites": "evaluation",
    "init": "store", "lineage": "store", "events": "store", "gc": "store",
    "validate": "validate", "profile": "validate", "checks": "validate",
    "serve": "serving", "rollback": "serving", "predictions": "serving", "labels": "serving",
    "monitor": "monitor", "alerts": "monitor", "changes": "monitor",
    "incidents": "incidents", "auth": "auth", "tokens": "auth", "ui": "ui", "schema": "schema",
    "import": "interop", "score": "scoring", "hosts": "hosts", "run": "pipelines",
    "backfill": "backfill", "sweep": "sweeps",
}  # fmt: skip
MODULES = ["runs", "datasets", "models", "valsets", "rollout", "evaluation", "store", "validate",
           "serving", "monitor", "incidents", "auth", "ui", "schema", "interop",
           "scoring", "hosts", "backfill", "pipelines", "sweeps"]  # fmt: skip
SUB_APPS = {"runs", "datasets", "models", "valsets", "rollout"}  # each an ``app`` of its name
INSTALLERS = {"evaluation": "register_commands"}  # the rest install with ``register(app)``


def build_app(modules: list[str] | None = None) -> typer.Typer:
    """The ``prodml`` app with the commands of ``modules`` (default: every module)."""
    app = typer.Typer(
        name="prodml",
        help="Versioned data, tracked runs, lineage, validation, evaluation, the model "
        "registry, staged deployment, monitoring and incidents.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(_group)  # a group even when one module gives one command (prodml ui)
    for name in modules or MODULES:
        module = importlib.import_module(f"prodml.cli.{name}")
        if name in SUB_APPS:
            app.add_typer(module.app, name=name)
        else:
            getattr(module, INSTALLERS.get(name, "register"))(app)
    return app


def _group(
    version: bool = typer.Option(
        False, "--version", help="Show prodml's version and exit.", is_eager=True
    ),
) -> None:
    """Its one option of its own is --version (answered by ``run`` before any command is
    built); ``prodml`` otherwise only holds the commands."""
    if version:  # reached only when Typer parses it among other words
        print(version_line())
        raise typer.Exit()


def version_line() -> str:
    """``prodml 0.1.0 (Python 3.11.7)``: what an issue report asks for first."""
    import platform

    from prodml import __version__

    return f"prodml {__version__} (Python {platform.python_version()})"


def app_for(arguments: list[str]) -> typer.Typer:
    """The app holding the command ``arguments`` name (its first word), or every command."""
    word = next((argument for argument in arguments if not argument.startswith("-")), None)
    return build_app([WORDS[word]] if word in WORDS else None)


# Python collects its youngest objects every 700 allocations not yet freed; a command's
# imports (SQLAlchemy, pydantic, the store's tables) keep nearly every object they make,
# so each collection finds nothing and the older generations are walked again and again:
# about a tenth of a cached ``prodml run`` (0.84 -> 0.78 s at best of five, 1.07 -> 0.91 s
# median). ``prodml serve`` sets its own.
COLLECT_EVERY = 50_000


# uvicorn stops these gracefully on SIGTERM, then raises it again for the handler it
# found: the default one, so that the process ends by the signal as a server should.
SERVERS = {"serve", "ui"}
STOPPED = "stopped by SIGTERM"


def _terminated(signum: int, frame: Any) -> None:
    """SIGTERM (a service manager, ``timeout``, ``kill``) stops a command as Ctrl-C does:
    what stops on Ctrl-C (Ray's waits, a sweep's trials) stops on it too and what is
    open unwinds; then the runs still open end as failed and the command exits 143."""
    stops.stopping(STOPPED)
    raise KeyboardInterrupt(STOPPED)


def run() -> None:
    """Entry point: Typer reports usage errors; prodml errors become one red line. The
    process then leaves as ``_leave`` says."""
    import gc

    gc.set_threshold(COLLECT_EVERY, 10, 10)
    word = next((argument for argument in sys.argv[1:] if not argument.startswith("-")), None)
    if word not in SERVERS:
        signal.signal(signal.SIGTERM, _terminated)
    code: object = 0
    try:
        _command()
    except SystemExit as done:
        code = done.code
    if stops.stopped_by() is not None:  # Ctrl-C's way out was taken (Typer's exit 130)
        from prodml.sdk.runs import fail_open_runs

        errors.print(f"{STOPPED[0].upper()}{STOPPED[1:]}.")
        fail_open_runs(KeyboardInterrupt(STOPPED))  # not finished at exit
        code = 143
    _leave(code)


def _leave(code: object) -> None:
    """End the process after what Python's own exit does for it (the threads that are
    not daemons joined, the exit handlers run: runs ended, stores flushed and closed),
    without the native libraries' teardown: Arrow's thread pool, torn down while a
    worker is alive, can abort a finished command with SIGABRT ("terminate called
    without an active exception", apache/arrow#34314), turning its exit code to -6."""
    import atexit
    import threading

    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    # Python's own order: the threading exit hooks first (they tell idle pool workers,
    # such as concurrent.futures', to stop), then the wait for non-daemon threads,
    # then the exit handlers. Joining the threads before the hooks waits forever on
    # a pool worker that was never told to stop.
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code or 0)


def _command() -> None:
    if sys.argv[1:] == ["--version"]:  # no command to build for it
        print(version_line())
        return
    try:
        command = typer.main.get_command(app_for(sys.argv[1:]))
        help_text.unwrap(command)
        command()
    except ProdmlError as error:
        errors.print(Text.assemble(("Error:", "red"), f" {error}"))
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        if stops.stopped_by() is None:
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
