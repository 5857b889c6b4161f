"""Hostile input to the commands that score stored models and profile tables, run as
a user runs them: one line naming what is wrong and what to do, exit code 1, never
a traceback or an unexpected error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_process import run_prodml
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """holdout@1 and m@1, a model of x1 and x2 (read, never changed, by the tests)."""
    home = tmp_path_factory.mktemp("scoring") / ".prodml"
    client = Client(home=str(home), user="dana")
    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200)})
    rows["y"] = (rows.x1 > 0).astype("int64")
    try:
        prodml.log_dataset("holdout", rows, client=client)
        with prodml.start_run("cli", client=client) as run:
            model = LogisticRegression().fit(rows[["x1", "x2"]], rows.y)
            run.log_model(model, "m", example=rows[["x1", "x2"]].head())
    finally:
        client.close()
    return home


def _fails(home: Path, *args: str) -> str:
    result = run_prodml(home, *args)
    assert result.returncode == 1, result.stdout + result.stderr
    return " ".join(result.stderr.split())


@pytest.mark.parametrize(
    ("module", "metric", "words"),
    [
        ("def share(y_true, y_pred) return 1\n", "bad_syntax:share", ["SyntaxError", "line 1"]),
        ("raise RuntimeError('no config')\n", "raises:share", ["RuntimeError: no config"]),
        ("", ":share", ["':share' is not module:function"]),
        ("", "../up:share", ["'../up:share' is not module:function"]),
        ("share = 3\n", "notfn:share", ["is 'int', not a function", "Name a function"]),
    ],
)
def test_a_metric_module_that_cannot_be_imported_is_named_with_why(
    home: Path, module: str, metric: str, words: list[str]
) -> None:
    name = metric.partition(":")[0]
    if module:
        (home.parent / f"{name}.py").write_text(module)

    message = _fails(home, "backfill", metric, "--models", "m", "--valset", "holdout@1")

    assert f"Metric '{metric}'" in message
    for word in words:
        assert word in message


def test_a_table_file_whose_column_names_are_not_utf8_is_refused_naming_the_file(
    tmp_path: Path,
) -> None:
    home = tmp_path / ".prodml"
    (tmp_path / "latin1.csv").write_bytes("caf\xe9,x\n1,2\n".encode("latin-1"))

    for command in (["profile", "latin1.csv"], ["datasets", "log", "menu", "latin1.csv"]):
        message = _fails(home, *command)
        assert "Cannot read latin1.csv as a table: its column names are not UTF-8" in message
        assert "Save the file as UTF-8" in message


@pytest.mark.parametrize(
    ("model", "dataset", "words"),
    [
        ("@1", "holdout@1", ["Model reference '@1' names no model", "prodml models list"]),
        ("m@1", "@1", ["Dataset reference '@1' names no dataset", "prodml datasets list"]),
    ],
)
def test_a_reference_without_a_name_says_which_and_its_form(
    home: Path, model: str, dataset: str, words: list[str]
) -> None:
    message = _fails(home, "score", model, dataset)

    for word in words:
        assert word in message
    assert "log_model(model, '')" not in message


@pytest.mark.parametrize("span", ["0d", "12h", "now"])
def test_a_prune_span_under_a_day_is_refused_naming_the_flag_as_typed(
    tmp_path: Path, span: str
) -> None:
    message = _fails(tmp_path / ".prodml", "predictions", "prune", "--older-than", span)

    assert message == (
        f"Error: --older-than '{span}' is less than a day back; retention deletes whole "
        "days, so give a day or more (e.g. 90d)."
    )


@pytest.mark.parametrize("moment", ["2099-01-01", "2099-01-01T00:00:00Z"])
def test_a_prune_cutoff_in_the_future_is_called_so(tmp_path: Path, moment: str) -> None:
    message = _fails(tmp_path / ".prodml", "predictions", "prune", "--older-than", moment)

    assert message.startswith(f"Error: --older-than '{moment}' is in the future; give a span")


def test_an_empty_output_name_is_refused_not_replaced_by_the_default(home: Path) -> None:
    message = _fails(home, "score", "m@1", "holdout@1", "-o", "")

    assert message.startswith("Error: Dataset name '' is not valid: use 1-200 letters")
    listed = run_prodml(home, "datasets", "list", "--json")
    assert "scored" not in listed.stdout


def test_an_output_named_as_the_input_is_refused_and_the_input_keeps_its_versions(
    home: Path,
) -> None:
    message = _fails(home, "score", "m@1", "holdout@1", "-o", "holdout")

    assert message == (
        "Error: The output name 'holdout' is the input's: the scored rows would become the "
        "next version of holdout, and holdout@latest a scored table that cannot be scored "
        "again. Give another name (-o), or leave it out for 'holdout-scored-m'."
    )
    shown = run_prodml(home, "datasets", "show", "holdout@latest")
    assert "holdout@1" in shown.stdout and "holdout@2" not in shown.stdout


def test_a_very_long_output_name_is_shown_shortened_with_its_length(home: Path) -> None:
    message = _fails(home, "score", "m@1", "holdout@1", "-o", "a" * 500)

    assert f"Error: Dataset name '{'a' * 60}'... (500 characters) is not valid" in message
    assert "a" * 61 not in message


def test_a_file_that_is_not_a_table_is_refused_in_a_short_printable_message(
    tmp_path: Path,
) -> None:
    noise = bytes(range(256)) * 40  # control characters, no newline for 10 kB
    (tmp_path / "noise.csv").write_bytes(b"a,b\n1,2,3," + noise + b"\n")

    result = run_prodml(tmp_path / ".prodml", "profile", "noise.csv")

    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert message.startswith("Error: Cannot read noise.csv as a table: CSV parse error")
    assert len(message) < 400 and message.isprintable()


def test_prune_to_a_date_reports_that_date_to_the_second(home: Path) -> None:
    result = run_prodml(home, "predictions", "prune", "--older-than", "2020-01-01")

    assert result.returncode == 0, result.stderr
    assert "every day that ended before 2020-01-01T00:00:00+00:00." in " ".join(
        result.stdout.split()
    )
