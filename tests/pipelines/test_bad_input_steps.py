"""Hostile or mistaken pipeline files, step functions and sweep arguments: each is one
error that names what is wrong and what to do, and stores nothing half."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pipeline_project import CHAIN, CHAIN_STEPS, Project, log_numbers

import prodml
from cli.cli_process import run_prodml
from prodml.client import Client
from prodml.errors import InvalidInputError
from prodml.sdk.sweeps import local_workers_at_most


def _chain(client: Client, project: Project) -> None:
    log_numbers(client, [1, 2, 3])
    project.write("pipeline.yaml", CHAIN)
    project.write("steps.py", CHAIN_STEPS)


@pytest.mark.parametrize("text", ["", "\n# nothing here yet\n", "---\n"])
def test_an_empty_pipeline_file_says_it_is_empty_and_what_it_holds(
    sqlite_client: Client, project: Project, text: str
) -> None:
    _chain(sqlite_client, project)
    project.pipeline.write_text(text)

    with pytest.raises(InvalidInputError) as refused:
        project.run(sqlite_client)

    message = str(refused.value)
    assert message.startswith(f"Pipeline file {project.pipeline} is empty; give a mapping")
    assert "steps" in message and "None" not in message
    assert prodml.list_runs("demo", client=sqlite_client) == []


@pytest.mark.parametrize(
    ("signature", "fragment"),
    [
        (
            "*tables",
            "it takes: no argument by name (*tables takes values by position, which a step "
            "is never given: name a parameter for each input and config key)",
        ),
        (
            "table, /, *rest",
            "takes table by position only (before '/'); a step is given its inputs and "
            "config by name. Remove the '/'",
        ),
    ],
)
def test_a_step_taking_values_only_by_position_is_refused_saying_how_steps_are_called(
    sqlite_client: Client, project: Project, signature: str, fragment: str
) -> None:
    _chain(sqlite_client, project)
    project.edit("steps.py", "def load(table: pa.Table) -> pa.Table:", f"def load({signature}):")
    project.edit("steps.py", 'table["x"], pa.float64()', 'rest[0]["x"], pa.float64()')

    with pytest.raises(InvalidInputError) as refused:
        project.run(sqlite_client)

    assert "Step 'load' (steps:load)" in str(refused.value)
    assert fragment in str(refused.value)
    assert prodml.list_runs("demo", client=sqlite_client) == []


TWO_MODELS = """
import threading

import pyarrow as pa


class Mean:
    def predict(self, rows):
        return [0.0] * len(rows)


class Locked(Mean):
    def __init__(self):
        self.lock = threading.Lock()


def load(table: pa.Table) -> pa.Table:
    return table


def train(table: pa.Table) -> dict[str, object]:
    return {"a": Mean(), "b": Locked()}
"""


def test_a_step_whose_second_model_cannot_be_saved_stores_neither_model(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    project.write(
        "pipeline.yaml",
        """
        name: pair
        steps:
          - {name: load, function: steps:load, inputs: {table: numbers@latest}}
          - {name: train, function: steps:train, inputs: {table: load}}
        """,
    )
    project.write("steps.py", TWO_MODELS)

    with pytest.raises(InvalidInputError, match="'pair-b' cannot be serialised"):
        project.run(sqlite_client)

    assert prodml.list_models(client=sqlite_client) == []
    assert [e.step for e in prodml.step_cache("pair", client=sqlite_client)] == ["load"]

    project.edit("steps.py", '"b": Locked()', '"b": Mean()')
    result = project.run(sqlite_client)
    assert sorted(m.name for m in prodml.list_models(client=sqlite_client)) == ["pair-a", "pair-b"]
    assert result.ran == ["train"]


def test_more_worker_processes_than_a_machine_can_run_are_refused_before_any_run(
    sqlite_client: Client, project: Project
) -> None:
    _chain(sqlite_client, project)
    space = {"objective": "total", "parameters": {"scale.factor": {"int": [1, 4]}}}
    most = local_workers_at_most()
    assert most >= 4 * (os.cpu_count() or 1)

    with pytest.raises(InvalidInputError) as refused:
        prodml.sweep(project.pipeline, space, trials=10**6, parallel=10**6, client=sqlite_client)

    assert str(refused.value) == (
        f"parallel 1000000 is more worker processes than this machine can run "
        f"({os.cpu_count()} CPUs): give at most {most}, or run the trials on Ray "
        "(--executor ray)."
    )
    assert prodml.list_runs("demo", client=sqlite_client) == []


def test_more_workers_than_trials_start_only_as_many_as_there_are_trials(
    sqlite_client: Client, project: Project
) -> None:
    _chain(sqlite_client, project)
    space = {
        "objective": "total",
        "sampler": "grid",
        "parameters": {"scale.factor": {"choice": [1, 2]}},
    }

    result = prodml.sweep(project.pipeline, space, trials=2, parallel=8, client=sqlite_client)

    assert result.workers == 2
    assert sorted(t.outcome.value for t in result.trials) == [6.0, 12.0]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["best", "s1", "--baseline", "m@1"],
            "Error: --baseline is the model a comparison runs against; give the suite too: "
            "prodml sweep best s1 --compare SUITE --baseline m@1.",
        ),
        (
            ["pipeline.yaml", "--space", "space.yaml", "--compare", "suite"],
            "Error: --compare is for a finished sweep's best trial: run the sweep, then "
            "prodml sweep best NAME --compare suite.",
        ),
        (
            ["pipeline.yaml", "s1", "--space", "space.yaml"],
            "Error: prodml sweep pipeline.yaml takes one file; 's1' is one argument too many. "
            "For a sweep's best trial: prodml sweep best s1.",
        ),
    ],
)
def test_sweep_options_that_belong_to_the_other_form_are_refused_not_ignored(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()

    ran = run_prodml(home, "sweep", *arguments)

    assert ran.returncode != 0
    assert message in " ".join(ran.stderr.split())
    assert ran.stdout == ""


def test_a_config_whose_aliases_stand_for_a_billion_values_is_refused_at_once(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    laughs = "".join(
        f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}' if i else 'x'] * 10)}]\n" for i in range(9)
    )
    (tmp_path / "pipeline.yaml").write_text(
        "name: demo\nconfig:\n" + laughs + "steps:\n"
        "  - {name: load, function: steps:load, inputs: {table: numbers@latest}}\n"
    )

    ran = run_prodml(home, "run", "pipeline.yaml")

    assert ran.returncode == 1
    assert "Error: Pipeline file pipeline.yaml: more than 1,000,000 values once its " in " ".join(
        ran.stderr.split()
    )


def test_a_step_returning_a_nan_metric_is_failed_naming_the_metric_and_not_cached(
    sqlite_client: Client, project: Project
) -> None:
    _chain(sqlite_client, project)
    project.edit("steps.py", "factor: int", "factor: float")

    with pytest.raises(InvalidInputError) as refused:
        project.run(sqlite_client, "scale.factor=.nan")

    assert str(refused.value) == (
        "Step demo:total returned the metric total=nan; a step's metrics must be finite "
        "numbers. Check what the step computes from its inputs and config."
    )
    cached = prodml.step_cache("demo", client=sqlite_client)
    assert sorted(entry.step for entry in cached) == ["load", "scale"]
    assert project.run(sqlite_client).ran == ["scale", "total"]


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        ({"float": [0, float("inf")]}, "parameters['scale.factor'].float[1] is inf; give a "),
        ({"float": [float("nan"), 1]}, "parameters['scale.factor'].float[0] is nan; give a "),
        ({"float": [0, 1], "step": float("inf")}, "parameters['scale.factor'].step is inf; "),
    ],
)
def test_a_search_range_that_is_not_finite_is_refused_naming_the_bound(
    sqlite_client: Client, project: Project, parameter: dict[str, Any], message: str
) -> None:
    _chain(sqlite_client, project)
    space = {"objective": "total", "parameters": {"scale.factor": parameter}}

    with pytest.raises(InvalidInputError) as refused:
        prodml.sweep(project.pipeline, space, trials=2, client=sqlite_client)

    assert message in str(refused.value)
    assert str(refused.value).endswith("give a finite number.")
    assert prodml.list_runs("demo", client=sqlite_client) == []


def test_a_whole_number_in_float_form_is_taken_where_a_whole_number_is_wanted(
    sqlite_client: Client, project: Project
) -> None:
    _chain(sqlite_client, project)

    assert project.run(sqlite_client, "scale.factor=2.0").metrics == {"total": 12.0}


def test_a_float_range_searched_for_an_int_parameter_is_refused_before_any_trial(
    sqlite_client: Client, project: Project
) -> None:
    _chain(sqlite_client, project)
    space = {"objective": "total", "parameters": {"scale.factor": {"float": [1, 4]}}}

    with pytest.raises(InvalidInputError) as refused:
        prodml.sweep(project.pipeline, space, trials=2, client=sqlite_client)

    assert str(refused.value) == (
        "Search space parameters.scale.factor gives numbers with fractions, but step "
        "'scale' takes factor: int. Search it as int: [low, high] (or choices of whole "
        "numbers)."
    )
    assert prodml.list_runs("demo", client=sqlite_client) == []
