"""``prodml backfill``, run as a user runs it: a real process on a real store with
model versions logged by real runs, one of which can no longer be loaded."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from cli_process import run_prodml
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client


def _rows(seed: int, count: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=count),
            "x2": rng.normal(size=count),
            "region": rng.choice(["north", "south", "east"], count),
        }
    )
    frame["y"] = (frame.x1 + 0.8 * frame.x2 + rng.normal(size=count) > 0).astype("int64")
    return frame


def _vanishing(folder: Path, inner: LogisticRegression) -> Any:
    """A model of a class from a module that is deleted once the model is logged."""
    (folder / "vanishing_model.py").write_text(
        "class Wrapped:\n"
        "    def __init__(self, inner):\n"
        "        self.inner = inner\n"
        "        self.classes_ = inner.classes_\n"
        "    def predict_proba(self, rows):\n"
        "        return self.inner.predict_proba(rows)\n"
        "    def predict(self, rows):\n"
        "        return self.inner.predict(rows)\n"
    )
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module("vanishing_model").Wrapped(inner)
    finally:
        sys.path.remove(str(folder))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """holdout@1; m@1 (x1 only), m@2 (x1 and x2), m@3 (gone: its class's module is
    deleted), m@4 (x1 and x2 again); and a module of metric functions beside the store."""
    home = tmp_path / ".prodml"
    client = Client(home=str(home), user="dana")
    train = _rows(0, 3000)
    good = LogisticRegression().fit(train[["x1", "x2"]], train.y)
    try:
        prodml.log_dataset("holdout", _rows(1, 4000), client=client)
        with prodml.start_run("cli", client=client) as run:
            weak = LogisticRegression().fit(train[["x1"]], train.y)
            run.log_model(weak, "m", example=train[["x1"]].head())
            run.log_model(good, "m", example=train[["x1", "x2"]].head())
            run.log_model(_vanishing(tmp_path, good), "m", example=train[["x1", "x2"]].head())
            run.log_model(good, "m", example=train[["x1", "x2"]].head())
    finally:
        client.close()
    (tmp_path / "vanishing_model.py").unlink()
    sys.modules.pop("vanishing_model", None)
    (tmp_path / "hand_metrics.py").write_text(
        "import numpy as np\n\n"
        "def share_right(y_true, y_pred):\n"
        "    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))\n"
    )
    return home


def _prodml(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_prodml(home, *args)


def _json(home: Path, *args: str) -> Any:
    result = _prodml(home, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _fails(home: Path, *args: str) -> str:
    result = _prodml(home, *args)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("Error:"), result.stderr
    return " ".join(result.stderr.split())


SET = ("--valset", "holdout@1")


def _statuses(document: dict[str, Any]) -> list[str]:
    return [version["status"] for version in document["versions"]]


def test_a_row_per_version_oldest_first_with_value_interval_and_why_one_failed(
    home: Path,
) -> None:
    result = _prodml(
        home, "backfill", "auc", "--models", "m", "--valset", "holdout@1", "--label", "y"
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("auc of m on holdout@1")
    rows = {line.split()[1]: line for line in lines if re.match(r"^\W*m@\d", line)}
    assert list(rows) == ["m@1", "m@2", "m@3", "m@4"]
    for ref in ("m@1", "m@2", "m@4"):
        assert re.search(r"0\.\d+ +│ \[0\.\d+, 0\.\d+\] +│ computed", rows[ref]), rows[ref]
    assert "failed: Loading m@3 failed" in rows["m@3"]
    assert "vanishing_model" in rows["m@3"] and "importable" in rows["m@3"]
    assert "3 computed, 0 already stored, 1 failed" in result.stdout
    document = _json(
        home, "backfill", "auc", "--models", "m", "--valset", "holdout@1", "--label", "y"
    )
    shown = [float(rows[v["model"]].split("│")[3]) for v in document["versions"] if v["values"]]
    values = [v["values"]["all"]["value"] for v in document["versions"] if v["values"]]
    assert shown == pytest.approx(values, abs=1e-4)
    assert values[0] < values[1] - 0.05  # the model without x2 is worse


def test_versions_already_backfilled_are_read_back_unless_forced(home: Path) -> None:
    args = ("backfill", "auc", "--models", "m", "--valset", "holdout@1", "--label", "y")
    first = _json(home, *args)
    again = _json(home, *args)
    forced = _json(home, *args, "--force")

    assert _statuses(first) == ["computed", "computed", "failed", "computed"]
    assert _statuses(again) == ["stored", "stored", "failed", "stored"]
    assert _statuses(forced) == ["computed", "computed", "failed", "computed"]
    ids = [v["evaluation_id"] for v in first["versions"]]
    assert [v["evaluation_id"] for v in again["versions"]] == ids
    assert (set(ids) - {None}).isdisjoint(v["evaluation_id"] for v in forced["versions"])
    assert "(--force to score them again)" in _prodml(home, *args).stdout
    downstream = _prodml(home, "lineage", "holdout@1", "--downstream").stdout
    assert all(evaluation_id[:12] in downstream for evaluation_id in ids if evaluation_id)


def test_a_custom_metric_and_a_new_slice_are_computed_for_every_version(home: Path) -> None:
    document = _json(
        home,
        "backfill",
        "hand_metrics:share_right",
        "--models",
        "m",
        "--valset",
        "holdout@1",
        "--label",
        "y",
        "--slice",
        "east: region = 'east'",
        "--slice",
        "{by: region}",
    )
    accuracy = _json(
        home, "backfill", "accuracy", "--models", "m", "--valset", "holdout@1", "--label", "y"
    )

    assert document["metric"] == document["function"] == "hand_metrics:share_right"
    assert list(document["slices"])[:2] == ["all", "east"]
    scored = [v for v in document["versions"] if v["status"] == "computed"]
    assert [v["model"] for v in scored] == ["m@1", "m@2", "m@4"]
    for version in scored:
        assert version["values"]["east"] == version["values"]["region=east"]
    hand = [v["values"]["all"]["value"] for v in scored]
    built_in = [v["values"]["all"]["value"] for v in accuracy["versions"] if v["values"]]
    assert hand == pytest.approx(built_in, abs=1e-12)
    sliced = ["--label", "y", "--slice", "east: region = 'east'"]
    table = _prodml(home, "backfill", "hand_metrics:share_right", "--models", "m", *SET, *sliced)
    assert "slice" in table.stdout and "east: region = 'east'" in table.stdout


def test_the_suite_gives_the_validation_set_and_the_label(home: Path, tmp_path: Path) -> None:
    suite = {
        "task": "classification",
        "label": "y",
        "validation_sets": ["holdout"],
        "metrics": ["auc", "accuracy"],
        "bootstrap": {"resamples": 300},
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    assert _prodml(home, "suites", "register", "m", "suite.yaml").returncode == 0

    document = _json(home, "backfill", "accuracy", "--models", "m")

    assert (document["valset"], document["resamples"]) == ("holdout@1", 300)
    assert _statuses(document) == ["computed", "computed", "failed", "computed"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["auc", "--models", "nobody"], ["models", "'nobody'", "prodml models list"]),
        (["auc", "--models", "m", "--valset", "nothing@3"], ["valset", "prodml datasets list"]),
        (["aucc", "--models", "m"], ["metric 'aucc'", "module:function"]),
        (["absent_module:score", "--models", "m"], ["cannot import absent_module:score"]),
        (["auc", "--models", "m"], ["valset", "--valset NAME@VERSION"]),
        (["auc", "--models", "m", "--valset", "holdout@1"], ["label", "--label COLUMN"]),
        (
            ["auc", "--models", "m", "--valset", "holdout@1", "--label", "y", "--slice", "{by: "],
            ["--slice", "not valid YAML"],
        ),
        (
            ["auc", "--models", "m", "--valset", "holdout@1", "--label", "y", "--task", "sorting"],
            ["task must be classification or regression"],
        ),
    ],
)
def test_bad_input_is_one_line_naming_the_field_and_the_next_step(
    home: Path, args: list[str], words: list[str]
) -> None:
    message = _fails(home, "backfill", *args)

    for word in words:
        assert word in message


LONG = "q" * 5000


@pytest.mark.parametrize(
    "args",
    [
        [LONG, "--models", "m", *SET, "--label", "y"],
        ["auc", "--models", LONG],
        ["auc", "--models", "m", "--valset", f"{LONG}@1"],
        ["auc", "--models", "m", *SET, "--label", LONG],
        ["auc", "--models", "m", *SET, "--label", "y", "--task", LONG],
        ["auc", "--models", "m", *SET, "--label", "y", "--slice", f"{{by: {LONG}"],
    ],
)
def test_what_was_typed_is_echoed_cut_to_sixty_characters(home: Path, args: list[str]) -> None:
    message = _fails(home, "backfill", *args)

    assert len(message) < 700, message[:300]
    assert "5,0" in message  # its length
