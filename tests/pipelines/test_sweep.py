"""Sweeps: trials chosen by Optuna's samplers, run in worker processes or on Ray, each
a child run of the sweep's run that reuses the steps no swept key reaches."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pipeline_project import Project, log_numbers

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError, NotFoundError

STEPS = """
    import pyarrow as pa

    def prep(numbers: pa.Table) -> pa.Table:
        return pa.table({"x": [v * 2 for v in numbers["x"].to_pylist()]})

    def train(table: pa.Table, alpha: float, seed: int, run) -> dict:
        total = float(sum(table["x"].to_pylist()))
        for step in range(1, 6):
            run.log_metric("curve", alpha * step, step=step)
        return {"score": -((alpha - 0.3) ** 2), "rows": total}
"""
PIPELINE = """
    name: tiny
    config:
      train: {alpha: 0.5, seed: 1}
    steps:
      - {name: prep, function: "steps:prep", inputs: {numbers: numbers@latest}}
      - {name: train, function: "steps:train", inputs: {table: prep}}
"""


def _project(project: Project, client: Client) -> Project:
    log_numbers(client, [1, 2, 3])
    project.write("steps.py", STEPS)
    project.write("pipeline.yaml", PIPELINE)
    return project


def _space(**fields: Any) -> dict[str, Any]:
    return {
        "objective": "score",
        "sampler": "grid",
        "parameters": {"train.alpha": {"choice": [0.1, 0.3, 0.5]}},
        **fields,
    }


def test_a_grid_sweep_in_two_processes_runs_every_point_and_shares_the_upstream_step(
    project: Project, client: Client
) -> None:
    _project(project, client)

    result = prodml.sweep(project.pipeline, _space(), trials=10, parallel=2, client=client)

    assert sorted(t.values["train.alpha"] for t in result.trials) == [0.1, 0.3, 0.5]
    assert all(t.outcome.state == "complete" for t in result.trials)
    assert result.best is not None and result.best.values == {"train.alpha": 0.3}
    assert all(t.outcome.ran == ("train",) for t in result.trials)  # prep ran once, first
    base = client.metadata.get_run(result.base_run or "")
    assert base.tags["prodml.parent"] == result.run_id
    trials = prodml.sweep_trials(result.name, client=client)
    assert [r.tags["prodml.trial"] for r in trials] == ["0", "1", "2"]
    assert {r.tags["prodml.parent"] for r in trials} == {result.run_id}
    assert all(r.tags["prodml.sweep"] == result.name for r in trials)
    assert all("prodml.builds_on" in r.tags for r in trials)
    best = prodml.best_trial(result.name, client=client)
    assert best.id == result.best.outcome.run_id and best.config["train"]["alpha"] == 0.3
    sweep_run = client.metadata.get_run(result.run_id)
    assert sweep_run.metrics["best_score"] == pytest.approx(0.0)
    assert sweep_run.tags["prodml.sweep.best"] == best.id


def test_a_random_sweep_with_a_seed_tries_the_same_values_again(
    project: Project, client: Client
) -> None:
    _project(project, client)
    space = _space(sampler="random", seed=11, parameters={"train.alpha": {"float": [0, 1]}})

    first = prodml.sweep(project.pipeline, space, trials=3, client=client)
    second = prodml.sweep(project.pipeline, space, trials=3, client=client)

    assert [t.values for t in first.trials] == [t.values for t in second.trials]
    assert len({t.values["train.alpha"] for t in first.trials}) == 3
    assert first.name != second.name


def test_the_median_pruner_stops_trials_whose_curve_lags(project: Project, client: Client) -> None:
    _project(project, client)
    space = _space(
        sampler="grid",
        pruner="median",
        intermediate="curve",
        parameters={"train.alpha": {"choice": [0.5, 0.6, 0.7, 0.1, 0.05, 0.8]}},
    )

    result = prodml.sweep(project.pipeline, space, trials=6, client=client)

    pruned = [t for t in result.trials if t.outcome.state == "pruned"]
    assert pruned, [(t.values, t.outcome.state) for t in result.trials]
    for trial in pruned:
        run = client.metadata.get_run(trial.outcome.run_id or "")
        assert run.tags["prodml.pruned"] == "train" and "score" not in run.metrics
    order = sorted(result.trials, key=lambda t: t.number)
    assert all(t.outcome.state == "complete" for t in order[:3])  # the pruner's warm-up
    for trial in pruned:  # each lagged the median of the trials before it at step 1
        before = sorted(t.values["train.alpha"] for t in order[: trial.number])
        assert trial.values["train.alpha"] < before[len(before) // 2]
    top = max(result.trials, key=lambda t: t.values["train.alpha"])
    assert top.outcome.state == "complete"


def test_trials_run_as_ray_tasks(project: Project, client: Client, cluster: str) -> None:
    _project(project, client)

    result = prodml.sweep(
        project.pipeline, _space(), trials=3, parallel=2, executor="ray", address=cluster,
        client=client,
    )  # fmt: skip

    assert sorted(t.values["train.alpha"] for t in result.trials) == [0.1, 0.3, 0.5]
    assert all(t.outcome.state == "complete" for t in result.trials)
    assert prodml.best_trial(result.name, client=client).config["train"]["alpha"] == 0.3


def test_a_trial_without_the_objective_fails_alone_and_says_what_was_logged(
    project: Project, client: Client
) -> None:
    _project(project, client)

    result = prodml.sweep(project.pipeline, _space(objective="auc"), trials=3, client=client)

    assert {t.outcome.state for t in result.trials} == {"failed"}
    assert "logged no metric 'auc'" in (result.trials[0].outcome.error or "")
    assert "rows, score" in (result.trials[0].outcome.error or "")
    assert result.best is None
    with pytest.raises(NotFoundError, match="finished with 'auc'"):
        prodml.best_trial(result.name, client=client)


@pytest.mark.parametrize(
    ("space", "message"),
    [
        (_space(parameters={"model.depth": {"int": [1, 3]}}), "in no step's config slice"),
        (_space(sampler="bayes"), "sampler is 'bayes'"),
        (_space(parameters={"train.alpha": {"int": [3, 1]}}), "needs low < high"),
        (_space(parameters={"train.alpha": {"float": [0, 1]}}), "needs step:"),
        (_space(pruner="median"), "a pruner needs intermediate"),
    ],
)
def test_a_bad_search_space_is_refused_before_any_trial(
    project: Project, client: Client, space: dict[str, Any], message: str
) -> None:
    _project(project, client)

    with pytest.raises(InvalidInputError, match=message):
        prodml.sweep(project.pipeline, space, trials=2, client=client)

    assert prodml.list_runs("tiny", client=client) == []


@pytest.mark.parametrize("name", ["a\nb", "", "   ", "n" * 201, "tab\there"])
def test_a_sweep_name_that_is_no_name_is_refused_before_any_trial(
    project: Project, client: Client, name: str
) -> None:
    _project(project, client)

    with pytest.raises(InvalidInputError, match="Sweep name"):
        prodml.sweep(project.pipeline, _space(), trials=2, name=name, client=client)
    with pytest.raises(InvalidInputError, match="Sweep name"):
        prodml.best_trial(name, client=client)

    assert prodml.list_runs("tiny", client=client) == []


def test_an_address_for_the_local_executor_is_refused_not_ignored(
    project: Project, client: Client
) -> None:
    _project(project, client)

    with pytest.raises(InvalidInputError, match="Add --executor ray"):
        prodml.sweep(project.pipeline, _space(), trials=2, address="10.0.0.5:6379", client=client)

    assert prodml.list_runs("tiny", client=client) == []


def test_runs_record_the_run_they_build_on_when_started_by_hand(client: Client) -> None:
    with (
        prodml.start_run("exp", client=client) as first,
        prodml.start_run("exp", client=client) as sweep,
    ):
        pass
    with prodml.start_run("exp", builds_on=first.id, parent=sweep, client=client) as second:
        pass

    stored = client.metadata.get_run(second.id)
    assert stored.tags["prodml.builds_on"] == first.id
    assert stored.tags["prodml.parent"] == sweep.id
    relations = {r for (_, r) in client.metadata.neighbours(("run", second.id), upstream=True)}
    assert relations == {"builds_on", "child"}


def test_the_cli_runs_a_sweep_and_shows_its_best_trial(
    project: Project, sqlite_client: Client, tmp_path: Path
) -> None:
    _project(project, sqlite_client)
    space = tmp_path / "space.yaml"
    # 0.1 + 0.2 is 0.30000000000000004: a trial's line shows it to six digits
    space.write_text(json.dumps(_space(parameters={"train.alpha": {"choice": [0.1, 0.1 + 0.2]}})))
    env = {"PRODML_HOME": sqlite_client.settings.home, "COLUMNS": "200"}
    command = [sys.executable, "-m", "prodml.cli.main", "sweep"]

    ran = subprocess.run(
        [*command, str(project.pipeline), "--space", str(space), "--name", "s", "--trials", "2"],
        capture_output=True, text=True, env={**_environ(), **env},
    )  # fmt: skip
    best = subprocess.run(
        [*command, "best", "s"], capture_output=True, text=True, env={**_environ(), **env}
    )
    unknown = subprocess.run(
        [*command, "best", "nope"], capture_output=True, text=True, env={**_environ(), **env}
    )

    assert ran.returncode == 0, ran.stderr
    assert "sweep s: 2 trials" in ran.stdout and "best: trial" in ran.stdout
    assert ran.stderr.count("complete") == 2
    assert "train.alpha=0.3" in ran.stderr and "0.30000000000000004" not in ran.stderr
    assert best.returncode == 0 and "'alpha': 0.3" in best.stdout
    assert unknown.returncode == 1 and "No sweep 'nope'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)


CHURN_STEPS = """
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    def make(rows: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        frame = pd.DataFrame({"usage": rng.normal(size=rows), "tenure": rng.normal(size=rows)})
        noise = rng.normal(scale=0.5, size=rows)
        frame["churned"] = (frame["usage"] + 0.5 * frame["tenure"] + noise > 0).astype("int64")
        return frame

    def train(table: pd.DataFrame, C: float) -> LogisticRegression:
        return LogisticRegression(C=C).fit(table[["usage", "tenure"]], table["churned"])

    def score(model: LogisticRegression, table: pd.DataFrame) -> dict:
        return {"accuracy": float(model.score(table[["usage", "tenure"]], table["churned"]))}
"""
CHURN_PIPELINE = """
    name: churn-pipeline
    config:
      make: {rows: 1500, seed: 3}
      train: {C: 1.0}
    steps:
      - {name: make, function: "churn_steps:make"}
      - {name: train, function: "churn_steps:train", inputs: {table: make}, model: churn}
      - {name: score, function: "churn_steps:score", inputs: {model: train, table: make}}
"""


CLI = [sys.executable, "-m", "prodml.cli.main"]


def test_the_best_trial_is_compared_with_a_baseline_on_the_suite(
    project: Project, sqlite_client: Client, tmp_path: Path
) -> None:
    project.write("churn_steps.py", CHURN_STEPS)
    project.write("pipeline.yaml", CHURN_PIPELINE)
    first = prodml.run_pipeline(project.pipeline, client=sqlite_client)
    champion = next(o.ref for s in first.steps for o in s.outputs if s.name == "train")
    holdout = prodml.load_table("churn-pipeline-make@latest", client=sqlite_client)
    prodml.add_to_valset("holdout", holdout.to_pandas(), client=sqlite_client)
    prodml.register_suite(
        "churn",
        {"task": "classification", "label": "churned", "validation_sets": ["holdout"],
         "bootstrap": {"resamples": 100}, "auto_slices": {"count": 0}},
        client=sqlite_client,
    )  # fmt: skip
    space = {"objective": "accuracy", "sampler": "grid",
             "parameters": {"train.C": {"choice": [0.001, 0.01]}}}  # fmt: skip
    result = prodml.sweep(project.pipeline, space, trials=2, name="c", client=sqlite_client)
    assert [t.outcome.ran for t in result.trials] == [("train", "score")] * 2

    shown = subprocess.run(
        [*CLI, "sweep", "best", "c", "--compare", "churn", "--baseline", champion],
        capture_output=True, text=True,
        env={**_environ(), "PRODML_HOME": sqlite_client.settings.home, "COLUMNS": "200"},
    )  # fmt: skip

    best_models = prodml.trial_models(prodml.best_trial("c", client=sqlite_client), sqlite_client)
    assert best_models and best_models[0] != champion
    assert shown.returncode in (0, 1), shown.stderr  # 1: the gate did not pass
    assert f"models: {best_models[0]}" in shown.stdout
    assert champion in shown.stdout and best_models[0] in shown.stdout  # the comparison
