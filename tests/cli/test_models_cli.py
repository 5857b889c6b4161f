"""``prodml suites``, ``evaluate``, ``models`` and ``valsets``, run as a user runs
them: real processes on a real store, exit code 1 whenever the gate does not pass."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime
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

SUITE = {
    "task": "classification",
    "label": "y",
    "validation_sets": ["holdout"],
    "slices": [{"name": "east", "where": "region = 'east'"}, {"by": "region"}],
    "auto_slices": {"count": 0},
    "bootstrap": {"resamples": 300},
    "gate": {
        "rules": [
            {"metric": "auc", "max_regression": 0.01},
            {"metric": "accuracy", "at_least": 0.6, "slices": ["all"]},
        ]
    },
}


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


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A store with holdout@1, a good model m@1 and a worse one m@2 (no x2), and a suite."""
    home = tmp_path / ".prodml"
    client = Client(home=str(home), user="dana")
    try:
        train = _rows(0, 3000)
        prodml.log_dataset("holdout", _rows(1, 4000), client=client)
        with prodml.start_run("cli", client=client) as run:
            good = LogisticRegression().fit(train[["x1", "x2"]], train.y)
            run.log_model(good, "m", example=train[["x1", "x2"]].head())
            worse = LogisticRegression().fit(train[["x1"]].assign(x2=0.0), train.y)
            run.log_model(worse, "m", example=train[["x1", "x2"]].head())
    finally:
        client.close()
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(SUITE))
    return home


def _prodml(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_prodml(home, *args)


def _json(home: Path, *args: str) -> Any:
    result = _prodml(home, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_evaluate_prints_every_slice_with_an_interval(home: Path) -> None:
    assert (
        "Suite version 1 of m registered."
        in _prodml(home, "suites", "register", "m", "suite.yaml").stdout
    )

    result = _prodml(home, "evaluate", "m@1")

    assert result.returncode == 0, result.stderr
    for name in ("all", "east", "region=north", "region=south"):
        assert f"│ {name} " in result.stdout
    assert "±" in result.stdout
    document = _json(home, "evaluate", "m@1")
    auc = next(s for s in document["scores"] if s["slice"] == "all" and s["metric"] == "auc")
    assert auc["estimate"]["low"] < auc["estimate"]["value"] < auc["estimate"]["high"]
    assert auc["estimate"]["rows"] == 4000


def test_compare_marks_certain_regressions_and_exits_1_when_the_gate_fails(home: Path) -> None:
    _prodml(home, "suites", "register", "m", "suite.yaml")

    result = _prodml(home, "evaluate", "compare", "m", "1", "2", "--html", "report.html")

    assert result.returncode == 1
    assert "Gate: FAIL" in result.stdout
    assert "worse" in result.stdout
    assert "regressed: auc on 'east' of holdout@1" in result.stdout
    assert (home.parent / "report.html").read_text().count("<svg") >= 1


def test_promotion_is_gated_forced_with_a_reason_and_answerable_as_of_a_time(home: Path) -> None:
    _prodml(home, "suites", "register", "m", "suite.yaml")
    first = _prodml(home, "models", "promote", "m", "1")
    assert first.returncode == 0, first.stderr
    assert "Promoted: m@champion -> v1 (gate: pass)" in first.stdout
    time.sleep(0.05)
    between = datetime.now().astimezone().isoformat()
    time.sleep(0.05)

    refused = _prodml(home, "models", "promote", "m", "2")
    assert refused.returncode == 1
    assert "The gate refused m@2 as champion against m@1: verdict fail" in refused.stderr
    assert "regressed: auc on 'east'" in refused.stderr
    assert "--force --why" in refused.stderr
    no_reason = _prodml(home, "models", "promote", "m", "2", "--force")
    assert no_reason.returncode == 1
    assert "--force needs --why" in no_reason.stderr
    forced = _prodml(home, "models", "promote", "m", "2", "--force", "--why", "hotfix for INC-7")
    assert forced.returncode == 0, forced.stderr
    assert (
        "Forced: m@champion -> v2 (gate: fail); reason recorded: hotfix for INC-7" in forced.stdout
    )

    assert "Aliases now: champion = v2" in _prodml(home, "models", "history", "m").stdout
    past = _prodml(home, "models", "history", "m", "--as-of", between)
    assert "champion = v1" in past.stdout
    moves = _json(home, "models", "history", "m")["moves"]
    assert [(m["version"], m["forced"], m["verdict"]) for m in moves] == [
        (1, False, "pass"),
        (2, True, "fail"),
    ]
    assert moves[1]["reason"] == "hotfix for INC-7" and moves[1]["actor"] == "dana"
    log = _prodml(home, "events")
    assert log.returncode == 0, log.stderr
    assert "model.alias_forced model" in log.stdout
    assert "m@champion v1 -> v2 - hotfix for INC-7" in log.stdout
    assert "suite.registered model_name m version 1" in log.stdout


def test_protected_aliases_refuse_a_direct_move_and_others_move_freely(home: Path) -> None:
    refused = _prodml(home, "models", "alias", "m@2", "champion")
    assert refused.returncode == 1
    assert (
        "protected" in refused.stderr
        and "prodml models promote m 2 --to champion" in refused.stderr
    )

    moved = _prodml(home, "models", "alias", "m@2", "challenger", "--why", "try it")
    assert moved.returncode == 0, moved.stderr
    assert "m@challenger -> v2" in moved.stdout
    shown = _json(home, "models", "show", "m@challenger")
    assert shown["model"]["version"] == 2 and shown["aliases"] == ["challenger"]


def test_valsets_grow_by_file_and_show_their_sources(home: Path, tmp_path: Path) -> None:
    _rows(5, 30).to_csv(tmp_path / "failures.csv", index=False)

    added = _prodml(home, "valsets", "add", "holdout", "failures.csv", "--source", "INC-12")
    again = _prodml(home, "valsets", "add", "holdout", "failures.csv", "--source", "INC-12")
    history = _prodml(home, "valsets", "history", "holdout")

    assert added.returncode == 0, added.stderr
    assert "holdout@2: 30 rows added, 4,030 in all." in added.stdout
    assert "Nothing new: every row is already in holdout@2." in again.stdout
    assert "INC-12 (30)" in history.stdout
    assert "+30" in history.stdout


def test_a_bad_suite_is_one_red_line_naming_the_field(home: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**SUITE, "task": "ranking"}))

    result = _prodml(home, "suites", "register", "m", "bad.yaml")

    assert result.returncode == 1
    assert "bad.yaml: task is 'ranking'; use 'classification' or 'regression'" in result.stderr


def test_serving_a_model_without_a_champion_is_refused_before_anything_starts(
    home: Path,
) -> None:
    refused = _prodml(home, "serve", "m", "--port", "1")
    assert refused.returncode == 1
    assert "Model 'm' has no champion to serve" in refused.stderr
    assert "prodml models promote m VERSION" in refused.stderr
    assert "Serving" not in refused.stdout
    unknown = _prodml(home, "serve", "nosuch", "--port", "1")
    assert unknown.returncode == 1 and "nosuch" in unknown.stderr


def test_logged_misses_with_their_labels_grow_a_validation_set(home: Path) -> None:
    from prodml.predictions.segments import table_of, write_segment

    def logged(request_id: str, x1: float, output: int) -> dict[str, Any]:
        return {
            "request_id": request_id, "ts": datetime.now().astimezone(), "model": "m",
            "version": 1, "status": "ok", "output": output,
            "inputs": {"x1": x1, "x2": 0.5, "region": "east"},
        }  # fmt: skip

    folder = home / "predictions"
    rows = [logged("r1", 1.0, 1), logged("r2", 2.0, 1), logged("r3", 3.0, 0)]
    write_segment(folder, "m", table_of(rows, ("output",)))
    labels = home.parent / "labels.csv"
    pd.DataFrame({"request_id": ["r1", "r2", "r3"], "y": [1, 0, 1]}).to_csv(labels, index=False)
    assert _prodml(home, "labels", "ingest", str(labels), "--label", "y").returncode == 0

    misses = "SELECT unnest(inputs), label::BIGINT AS y FROM labelled WHERE output <> label"
    added = _prodml(home, "valsets", "add", "holdout", "--query", misses)
    assert added.returncode == 0, added.stderr
    assert "holdout@2: 2 rows added" in added.stdout
    growth = _json(home, "valsets", "history", "holdout")
    assert growth[-1]["added"] == 2
    assert any("prediction log" in source for source in growth[-1]["sources"])
    both = _prodml(home, "valsets", "add", "holdout", str(labels), "--query", misses)
    assert both.returncode == 1 and "one of the two" in both.stderr
