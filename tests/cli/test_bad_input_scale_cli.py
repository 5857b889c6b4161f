"""Mistakes in a ``module:function`` metric given to ``prodml backfill``, run as a user
runs it: each version's row says the function is at fault and how to fix it (not
the validation set), the command exits 1 when no version got a value, and nothing
is stored for the versions that failed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_process import run_prodml
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client

METRICS = """
def text(y_true, y_pred):
    return "high"


def boom(y_true, y_pred):
    raise ValueError("no labels of class 2")


def listed(y_true, y_pred):
    return [1.0, 2.0]


def share(y_true, y_pred):
    return float((y_true == y_pred).mean())
"""
ASKED = ("--models", "m", "--valset", "holdout@1", "--label", "y", "--task", "classification")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """holdout@1, two versions of model m, and a module of metric functions beside them."""
    home = tmp_path / ".prodml"
    client = Client(home=str(home), user="dana")
    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200)})
    rows["y"] = (rows.x1 > 0).astype("int64")
    try:
        prodml.log_dataset("holdout", rows, client=client)
        for _ in range(2):
            with prodml.start_run("train", client=client) as run:
                model = LogisticRegression().fit(rows[["x1", "x2"]], rows.y)
                run.log_model(model, "m", example=rows[["x1", "x2"]].head())
    finally:
        client.close()
    (tmp_path / "metrics_of_m.py").write_text(METRICS)
    return home


def _evaluations(home: Path) -> int:
    client = Client(home=str(home), user="dana")
    try:
        versions = client.metadata.model_versions("m", 10, None)
        return sum(len(client.metadata.evaluations(v.id)) for v in versions)
    finally:
        client.close()


@pytest.mark.parametrize(
    ("function", "words"),
    [
        ("text", ["returned str, not a number", "Fix the function to return one number"]),
        ("listed", ["returned list, not a number", "Fix the function to return one number"]),
        ("boom", ["raised ValueError: no labels of class 2", "Fix the function"]),
    ],
)
def test_a_metric_function_that_gives_no_number_stops_at_the_first_version_naming_it(
    home: Path, function: str, words: list[str]
) -> None:
    """It would fail every version the same way: the backfill stops at the first one, with
    one error line, and records nothing."""
    metric = f"metrics_of_m:{function}"

    result = run_prodml(home, "backfill", metric, *ASKED)

    assert result.returncode == 1, result.stdout + result.stderr
    said = " ".join(result.stderr.split())
    assert f"m@1, the first version scored, cannot be scored on holdout@1: Metric '{metric}'" in (
        said
    )
    for word in [*words, "Nothing was recorded"]:
        assert word in said
    assert "--valset" not in said  # the set is not at fault
    assert "m@2" not in result.stdout + said
    assert _evaluations(home) == 0


def test_for_scripts_too_a_backfill_with_no_value_exits_1_and_one_with_values_0(
    home: Path,
) -> None:
    failed = run_prodml(home, "backfill", "metrics_of_m:text", *ASKED, "--json")
    scored = run_prodml(home, "backfill", "metrics_of_m:share", *ASKED, "--json")

    assert failed.returncode == 1, failed.stderr
    assert failed.stdout == "" and "Error:" in failed.stderr  # stopped at the first version
    assert scored.returncode == 0, scored.stderr
    assert [v["status"] for v in json.loads(scored.stdout)["versions"]] == ["computed"] * 2
    assert _evaluations(home) == 2
