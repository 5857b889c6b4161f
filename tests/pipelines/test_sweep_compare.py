"""prodml sweep best NAME --compare SUITE shows the comparison as prodml evaluate
compare does (a table of differences and the gate, exit 1 unless the gate passes); it
printed the whole HTML report to the terminal, and exited 0 whatever the gate said.
Without --baseline and without a champion, it says to give --baseline."""

from __future__ import annotations

from pathlib import Path

from pipeline_project import Project

import prodml
from cli.cli_process import run_prodml
from prodml.client import Client

STEPS = """
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression


def make(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"usage": rng.normal(size=rows), "tenure": rng.normal(size=rows)})
    frame["left"] = (frame["usage"] + rng.normal(scale=0.5, size=rows) > 0).astype("int64")
    return frame


def train(table: pd.DataFrame, C: float) -> LogisticRegression:
    return LogisticRegression(C=C).fit(table[["usage", "tenure"]], table["left"])


def score(model: LogisticRegression, table: pd.DataFrame) -> dict:
    return {"accuracy": float(model.score(table[["usage", "tenure"]], table["left"]))}
"""
PIPELINE = """
name: leavers
config:
  make: {rows: 400, seed: 3}
  train: {C: 1.0}
steps:
  - {name: make, function: "leave_steps:make"}
  - {name: train, function: "leave_steps:train", inputs: {table: make}, model: leavers}
  - {name: score, function: "leave_steps:score", inputs: {model: train, table: make}}
"""


def test_the_comparison_of_the_best_trial_is_a_table_not_html(
    project: Project, sqlite_client: Client
) -> None:
    project.write("leave_steps.py", STEPS)
    project.write("pipeline.yaml", PIPELINE)
    first = prodml.run_pipeline(project.pipeline, client=sqlite_client)
    baseline = next(o.ref for s in first.steps for o in s.outputs if s.name == "train")
    rows = prodml.load_table("leavers-make@latest", client=sqlite_client).to_pandas()
    prodml.add_to_valset("leavers-holdout", rows, client=sqlite_client)
    suite = {
        "task": "classification",
        "label": "left",
        "validation_sets": ["leavers-holdout"],
        "bootstrap": {"resamples": 50},
        "auto_slices": {"count": 0},
        "gate": {"min_rows": 10, "rules": [{"metric": "accuracy", "at_least": 0.999}]},
    }
    prodml.register_suite("leavers", suite, client=sqlite_client)
    space = {
        "objective": "accuracy",
        "sampler": "grid",
        "parameters": {"train.C": {"choice": [0.01]}},
    }
    prodml.sweep(project.pipeline, space, trials=1, name="lv", client=sqlite_client)
    home = Path(sqlite_client.settings.home)

    shown = run_prodml(home, "sweep", "best", "lv", "--compare", "leavers", "--baseline", baseline)

    assert shown.returncode == 1, shown.stderr  # the gate did not pass
    assert "<html" not in shown.stdout.lower() and "<svg" not in shown.stdout
    assert f"A = {baseline} with B = leavers@2" in shown.stdout
    assert "leavers-holdout" in shown.stdout

    as_json = run_prodml(
        home, "sweep", "best", "lv", "--compare", "leavers", "--baseline", baseline, "--json"
    )
    assert as_json.returncode == 1  # the gate's verdict, for scripts too

    refused = run_prodml(home, "sweep", "best", "lv", "--compare", "leavers")

    assert refused.returncode == 1
    said = " ".join(refused.stderr.split())
    assert "no champion" in said and "--baseline leavers@" in said
