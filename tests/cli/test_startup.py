"""The CLI starts fast: a command imports only what it uses, so start-up and the
read commands load no table or statistics library (pyarrow, numpy, scipy, DuckDB,
scikit-learn, pandas) and no document library (pydantic and PyYAML read YAML documents;
typer 0.29 loads pydantic for every parameter). SQLAlchemy, which reads the store, is
expected; its PostgreSQL dialect only on a PostgreSQL store."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_process import run_prodml

import prodml

HEAVY = ("pyarrow", "numpy", "scipy", "duckdb", "sklearn", "pandas", "polars", "pydantic", "yaml")
# Loaded by the migrations that create a store, not by a command on an existing SQLite one.
POSTGRESQL = "sqlalchemy.dialects.postgresql"


def _report(modules: tuple[str, ...]) -> str:
    return (
        "import atexit, sys\n"
        f"HEAVY = {modules!r}\n"
        "atexit.register(lambda: print('LOADED', sorted(m for m in HEAVY if m in sys.modules), "
        "file=sys.stderr))\n"
    )


def _loaded(code: str, home: Path, modules: tuple[str, ...] = HEAVY) -> list[str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    result = subprocess.run(
        [sys.executable, "-c", _report(modules) + code],
        env={**kept, "PRODML_HOME": str(home), "COLUMNS": "200"},
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    (line,) = [text for text in result.stderr.splitlines() if text.startswith("LOADED")]
    found: list[str] = ast.literal_eval(line.removeprefix("LOADED "))
    return found


def test_building_every_command_loads_no_table_or_statistics_library(tmp_path: Path) -> None:
    code = (
        "import typer.main\n"
        "from prodml.cli.main import build_app\n"
        "typer.main.get_command(build_app())\n"
    )
    assert _loaded(code, tmp_path / ".prodml") == []


def test_each_command_word_builds_the_module_that_defines_it() -> None:
    import typer.main

    from prodml.cli.main import MODULES, WORDS, build_app

    every = typer.main.get_command(build_app())
    assert set(every.commands) == set(WORDS)  # type: ignore[attr-defined]
    assert sorted(MODULES) == sorted(set(WORDS.values()))
    for word, module in WORDS.items():
        assert word in typer.main.get_command(build_app([module])).commands  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "command",
    [
        ["--help"],
        ["models", "list"],
        ["runs", "list"],
        ["datasets", "list"],
        ["alerts", "list"],
        ["incidents", "list"],
        ["events", "--since", "1h"],
        ["changes"],
        ["rollout", "status"],
    ],
    ids=" ".join,
)
def test_a_read_command_on_a_fresh_store_loads_none_either(
    tmp_path: Path, command: list[str]
) -> None:
    run = (
        f"import sys\nfrom prodml.cli.main import run\nsys.argv = ['prodml', *{command!r}]\nrun()\n"
    )
    assert _loaded(run, tmp_path / ".prodml") == []


class _Model:
    def predict(self, rows: list[float]) -> list[float]:
        return rows


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with a dataset, a run, model m v1 as champion and its lineage."""
    import pandas as pd

    import prodml
    from prodml.client import Client

    home = tmp_path_factory.mktemp("startup") / ".prodml"
    client = Client(home=str(home), user="dana")
    try:
        data = prodml.log_dataset("flights", pd.DataFrame({"a": [1, 2]}), client=client)
        with prodml.start_run("fit", inputs=[data], client=client) as run:
            run.log_model(_Model(), "m")
        prodml.promote("m", 1, why="the first model", force=True, client=client)
    finally:
        client.close()
    return home


@pytest.mark.parametrize(
    "command",
    [
        ["models", "history", "m"],
        ["models", "show", "m@champion"],
        ["lineage", "m@champion"],
        ["lineage", "flights@1", "--downstream"],
    ],
    ids=" ".join,
)
def test_reading_the_registry_and_lineage_loads_none_either(
    seeded: Path, command: list[str]
) -> None:
    run = (
        f"import sys\nfrom prodml.cli.main import run\nsys.argv = ['prodml', *{command!r}]\nrun()\n"
    )
    assert _loaded(run, seeded, (*HEAVY, POSTGRESQL)) == []


def test_the_command_collects_garbage_less_often_while_it_imports(tmp_path: Path) -> None:
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('THRESHOLD', gc.get_threshold()[0], file=sys.stderr))\n"
        "from prodml.cli.main import run\n"
        "sys.argv = ['prodml', 'runs', 'list']\n"
        "run()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PRODML_HOME": str(tmp_path / ".prodml")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "THRESHOLD 50000" in done.stderr


def test_version_is_answered_without_building_a_command(tmp_path: Path) -> None:
    home = tmp_path / ".prodml"
    alone = run_prodml(home, "--version")
    assert alone.returncode == 0
    assert alone.stdout.strip().startswith(f"prodml {prodml.__version__} (Python 3.")
    assert not home.exists(), "asking the version created a store"
    # among other words Typer answers it, and --help lists it
    assert run_prodml(home, "--version", "runs", "list").stdout == alone.stdout
    assert "--version" in run_prodml(home, "--help").stdout
    code = "import sys\nsys.argv = ['prodml', '--version']\n"
    code += "from prodml.cli.main import run\nrun()\n"
    assert _loaded(code, home, (*HEAVY, "sqlalchemy", "typer")) == ["typer"]
