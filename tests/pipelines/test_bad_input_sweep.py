"""Hostile input to pipelines and sweeps: each mistake is one error naming the file,
line or key and what to do, before anything is stored or after only what is whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pipeline_project import CHAIN, CHAIN_STEPS, Project, log_numbers

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError, StepFailedError


def _chain(client: Client, project: Project) -> None:
    log_numbers(client, [1, 2, 3])
    project.write("pipeline.yaml", CHAIN)
    project.write("steps.py", CHAIN_STEPS)


def test_a_pipeline_or_space_file_that_is_not_utf8_names_the_file_and_line(
    sqlite_client: Client, project: Project
) -> None:
    _chain(sqlite_client, project)
    project.pipeline.write_bytes(CHAIN.encode() + b"# caf\xe9\n")
    space = project.folder / "space.yaml"
    space.write_bytes(b"objective: total\nparameters: {scale.factor: {int: [1, 4]}}\n\xff\n")

    with pytest.raises(InvalidInputError) as refused:
        project.run(sqlite_client)
    assert str(refused.value) == (
        f"Pipeline file {project.pipeline} is not UTF-8 text: line 9 holds the byte 0xe9. "
        "Save the file as UTF-8 and run again."
    )
    project.write("pipeline.yaml", CHAIN)
    with pytest.raises(InvalidInputError, match=r"Space file .*space.yaml is not UTF-8 .*line 3"):
        prodml.sweep(project.pipeline, space, trials=1, client=sqlite_client)
    assert prodml.list_runs("demo", client=sqlite_client) == []


HALF = """
import threading

import pandas as pd
import pyarrow as pa


class Locked:
    def __init__(self):
        self.lock = threading.Lock()

    def predict(self, rows):
        return [0] * len(rows)


def load(table: pa.Table) -> pa.Table:
    return table


def split(table: pa.Table) -> dict[str, object]:
    return {"good": table, OTHER: VALUE}
"""


@pytest.mark.parametrize(
    ("other", "value", "fragment"),
    [
        ('"odd"', "object()", "returned 'odd' 'object', which prodml cannot store"),
        ('"x" * 300', "table", "an output named 'xxxxx"),
        ('"mixed"', 'pd.DataFrame({"x": [1, "a"]})', "dataset 'half-split-mixed' into a table"),
        ('"model"', "Locked()", "Model 'half-model' cannot be serialised"),
    ],
)
def test_a_step_with_one_output_it_cannot_store_stores_none_of_its_outputs(
    sqlite_client: Client, project: Project, other: str, value: str, fragment: str
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    project.write(
        "pipeline.yaml",
        """
        name: half
        steps:
          - {name: load, function: steps:load, inputs: {table: numbers@latest}}
          - {name: split, function: steps:split, inputs: {table: load}}
        """,
    )
    project.write("steps.py", HALF.replace("OTHER", other).replace("VALUE", value))

    with pytest.raises(InvalidInputError) as refused:
        project.run(sqlite_client)

    stored = {d.name for d in prodml.list_datasets(client=sqlite_client)}
    assert stored == {"numbers", "half-load"}
    assert fragment in str(refused.value)
    assert [e.step for e in prodml.step_cache("half", client=sqlite_client)] == ["load"]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "scale.factor=",
            "Override 'scale.factor=' has no value after '='. Give one (-s scale.factor=8), "
            "or null for none (-s scale.factor=null).",
        ),
        (
            "scale.factor.deep=2",
            "Override 'scale.factor.deep=2': scale.factor is 3, not a mapping, so it has no "
            "key 'deep'. Override scale.factor itself (-s scale.factor=VALUE).",
        ),
        (
            "+scale.factor.deep=2",
            "Override '+scale.factor.deep=2': scale.factor is 3, not a mapping, so it has no "
            "key 'deep'. Override scale.factor itself (-s scale.factor=VALUE).",
        ),
        (
            "scale.factor=2.5",
            "Step 'scale' (steps:scale) takes factor: int, but the config gives scale.factor "
            "= 2.5, which is a number with a fraction. Fix the value in the pipeline file or "
            "the -s override.",
        ),
        (
            "+scale.factor=2",
            "Override '+scale.factor=2' adds scale.factor, which the config already has "
            "(= 3). Set it without the '+': -s scale.factor=2.",
        ),
    ],
)
def test_an_override_without_a_value_or_inside_a_plain_value_is_refused_before_any_run(
    sqlite_client: Client, project: Project, setting: str, message: str
) -> None:
    _chain(sqlite_client, project)

    with pytest.raises(InvalidInputError) as refused:
        project.run(sqlite_client, setting)

    assert str(refused.value) == message
    assert prodml.list_runs("demo", client=sqlite_client) == []
    assert [d.name for d in prodml.list_datasets(client=sqlite_client)] == ["numbers"]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("scale.factr", "scale has no key 'factr', so every trial would fail"),
        ("scale.factor.deep", "scale.factor is 3, not a mapping with keys"),
        ("scale", "is a whole mapping of the config; a trial would replace it"),
    ],
)
def test_a_searched_key_no_trial_could_set_is_refused_before_any_trial(
    sqlite_client: Client, project: Project, key: str, message: str
) -> None:
    _chain(sqlite_client, project)
    space = {"objective": "total", "parameters": {key: {"int": [1, 4]}}}

    with pytest.raises(InvalidInputError) as refused:
        prodml.sweep(project.pipeline, space, trials=2, client=sqlite_client)

    assert f"Search space parameters.{key}" in str(refused.value)
    assert message in str(refused.value)
    assert prodml.list_runs("demo", client=sqlite_client) == []


def test_one_override_or_forced_step_given_as_text_is_one_item_not_its_letters(
    sqlite_client: Client, project: Project
) -> None:
    _chain(sqlite_client, project)
    project.run(sqlite_client)

    overridden = prodml.run_pipeline(project.pipeline, "scale.factor=4", client=sqlite_client)
    forced = prodml.run_pipeline(project.pipeline, [], "total", client=sqlite_client)

    assert overridden.ran == ["scale", "total"] and overridden.metrics == {"total": 24.0}
    assert forced.ran == ["total"]


@pytest.mark.parametrize(
    ("path", "overrides", "force", "message"),
    [
        (None, [], [], "The pipeline file is None; give its path, e.g. 'pipeline.yaml'."),
        ("pipeline.yaml", [8], [], "overrides[0] is 8 (int); give text, e.g. 'train.max_depth=8'."),
        (
            "pipeline.yaml",
            8,
            [],
            "overrides is 8; give a list of text, e.g. ['train.max_depth=8'].",
        ),
        ("pipeline.yaml", [], [None], "force[0] is None (NoneType); give text, e.g. 'load'."),
    ],
)
def test_arguments_of_the_wrong_type_are_refused_naming_them(
    sqlite_client: Client, project: Project, path: Any, overrides: Any, force: Any, message: str
) -> None:
    _chain(sqlite_client, project)
    where = None if path is None else project.folder / path

    with pytest.raises(InvalidInputError) as refused:
        prodml.run_pipeline(where, overrides, force, client=sqlite_client)  # type: ignore[arg-type]

    assert str(refused.value) == message
    assert prodml.list_runs("demo", client=sqlite_client) == []


def test_a_step_name_or_function_of_the_wrong_shape_says_what_shape_to_give(
    sqlite_client: Client, project: Project
) -> None:
    _chain(sqlite_client, project)
    project.write(
        "pipeline.yaml",
        """
        name: demo
        steps:
          - {name: ../load, function: steps, inputs: {"a table": numbers@latest}}
        """,
    )

    with pytest.raises(InvalidInputError) as refused:
        project.run(sqlite_client)

    lines = str(refused.value).splitlines()[1:]
    assert sorted(line.strip() for line in lines) == [
        "steps[0].function is 'steps'; give module:function, e.g. steps:train.",
        "steps[0].inputs['a table'] is not a valid key; give 1-64 letters, digits, '_' or "
        "'-', starting with a letter or '_'.",
        "steps[0].name is '../load'; give 1-64 letters, digits, '_' or '-', starting with "
        "a letter or '_'.",
    ]


def test_a_step_calling_sys_exit_fails_that_step_and_keeps_the_steps_before_it(
    sqlite_client: Client, project: Project
) -> None:
    _chain(sqlite_client, project)
    project.write("steps.py", CHAIN_STEPS + "\n\ndef leave(table):\n    raise SystemExit(3)\n")
    project.edit("pipeline.yaml", "steps:total", "steps:leave")

    with pytest.raises(StepFailedError) as failed:
        project.run(sqlite_client)

    assert "Step 'total' (steps:leave) failed: SystemExit: 3." in str(failed.value)
    cached = [e.step for e in prodml.step_cache("demo", client=sqlite_client)]
    assert sorted(cached) == ["load", "scale"]
    statuses = {
        r.tags.get("prodml.step", ""): r.status.value
        for r in prodml.list_runs("demo", client=sqlite_client)
    }
    assert statuses == {"": "failed", "load": "finished", "scale": "finished", "total": "failed"}


def test_a_sweep_whose_every_trial_failed_exits_non_zero_saying_so(
    sqlite_client: Client, project: Project, tmp_path: Path
) -> None:
    _chain(sqlite_client, project)
    space = tmp_path / "space.yaml"
    space.write_text("objective: accuracy\nparameters: {scale.factor: {int: [1, 4]}}\n")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    environ |= {"PRODML_HOME": sqlite_client.settings.home, "COLUMNS": "200"}
    command = [sys.executable, "-m", "prodml.cli.main", "sweep", str(project.pipeline)]

    ran = subprocess.run(
        [*command, "--space", str(space), "--name", "s", "--trials", "2"],
        capture_output=True, text=True, env=environ, check=False,
    )  # fmt: skip

    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert ran.stderr.count("The pipeline logged no metric 'accuracy'") == 2
    assert "Error: no trial of sweep s completed" in ran.stderr
    assert "Traceback" not in ran.stderr and "best:" not in ran.stdout


def test_a_sweep_on_ray_refused_for_its_files_starts_no_ray(
    sqlite_client: Client, project: Project
) -> None:
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("Ray was started in this process by an earlier test.")
    _chain(sqlite_client, project)
    space = {"objective": "total", "parameters": {"scale.factr": {"int": [1, 4]}}}

    with pytest.raises(InvalidInputError, match=r"parameters\.scale\.factr"):
        prodml.sweep(project.pipeline, space, 2, 2, "ray", client=sqlite_client)

    assert not ray.is_initialized()


@pytest.mark.parametrize(
    ("setting", "given"),
    [
        ("scale.factor=abc", "'abc', which is text."),
        ("scale.factor=1e3", "'1e3', which is text (YAML reads 1e3 as text; write 1.0e+3)."),
        ("scale.factor=[1, 2]", "[1, 2], which is a list."),
        ("scale.factor=true", "True, which is true or false."),
    ],
)
def test_a_config_value_the_steps_annotation_does_not_take_is_refused_before_any_run(
    sqlite_client: Client, project: Project, setting: str, given: str
) -> None:
    _chain(sqlite_client, project)

    with pytest.raises(InvalidInputError) as refused:
        project.run(sqlite_client, setting)

    assert str(refused.value) == (
        f"Step 'scale' (steps:scale) takes factor: int, but the config gives scale.factor = "
        f"{given} Fix the value in the pipeline file or the -s override."
    )
    assert prodml.list_runs("demo", client=sqlite_client) == []


def test_config_values_of_a_kind_the_annotation_allows_or_does_not_say_are_taken(
    sqlite_client: Client, project: Project
) -> None:
    project.write(
        "pipeline.yaml",
        """
        name: kinds
        config:
          take: {number: 2.0, maybe: null, either: text, items: [1], free: {a: 1}}
        steps:
          - {name: take, function: steps:take}
        """,
    )
    project.write(
        "steps.py",
        """
        from typing import Any, Optional

        def take(number: int, maybe: Optional[int], either: "int | str", items: list[int],
                 free: Any) -> dict[str, float]:
            return {"number": float(number)}
        """,
    )

    assert project.run(sqlite_client).metrics == {"number": 2.0}


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("name: demo", "name: ../../etc", "name is '../../etc'"),
        ("name: demo", 'name: "x\'; DROP TABLE runs; --"', 'name is "x\'; DROP TABLE runs; --"'),
        ("steps:total,", "steps:total, model: 'a@b',", "steps[2].model is 'a@b'"),
    ],
)
def test_a_pipeline_or_model_name_that_cannot_be_stored_is_refused_naming_the_field(
    sqlite_client: Client, project: Project, old: str, new: str, field: str
) -> None:
    _chain(sqlite_client, project)
    project.edit("pipeline.yaml", old, new)

    with pytest.raises(InvalidInputError) as refused:
        project.run(sqlite_client)

    assert str(refused.value) == (
        f"Pipeline file {project.pipeline}: {field}; use 1-200 letters, digits, '_', '-', "
        "'.', '/' or spaces, starting with a letter or digit (no '@')."
    )
    assert prodml.step_cache("demo", client=sqlite_client) == []


def test_a_pipeline_file_that_is_not_yaml_names_the_line_and_column(
    sqlite_client: Client, project: Project
) -> None:
    _chain(sqlite_client, project)
    project.write("pipeline.yaml", CHAIN.replace("inputs: {table: load}}", "inputs: {table: load}"))

    with pytest.raises(InvalidInputError) as refused:
        project.run(sqlite_client)

    assert str(refused.value) == (
        f"Pipeline file {project.pipeline} is not valid YAML: expected ',' or '}}', but got "
        "'-' at line 7, column 3 (while parsing a flow mapping)."
    )


def test_a_value_nested_too_deeply_to_read_is_refused_not_a_recursion_error(
    sqlite_client: Client, project: Project
) -> None:
    _chain(sqlite_client, project)

    with pytest.raises(InvalidInputError, match=r"override 'scale.factor' is nested too deeply"):
        project.run(sqlite_client, "scale.factor=" + "[" * 5000 + "]" * 5000)


def test_a_key_given_twice_is_refused_naming_both_lines_not_the_last_kept(
    sqlite_client: Client, project: Project
) -> None:
    _chain(sqlite_client, project)
    project.edit(
        "pipeline.yaml", "  scale: {factor: 3}\n", "  scale: {factor: 3}\n  scale: {factor: 5}\n"
    )

    with pytest.raises(InvalidInputError) as refused:
        project.run(sqlite_client)

    assert str(refused.value) == (
        f"Pipeline file {project.pipeline} is not valid YAML: the key 'scale', first given "
        "on line 3, is given again at line 4, column 3."
    )
    assert prodml.list_runs("demo", client=sqlite_client) == []


def test_keys_a_merge_brings_in_may_still_be_overridden(
    sqlite_client: Client, project: Project
) -> None:
    _chain(sqlite_client, project)
    project.edit(
        "pipeline.yaml",
        "  scale: {factor: 3}\n",
        "  base: &base {factor: 3}\n  scale: {<<: *base, factor: 5}\n",
    )

    assert project.run(sqlite_client).metrics == {"total": 30.0}


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (
            {"seed": -1},
            "seed is -1; give a whole number >= 0",
        ),
        (
            {"seed": 2**40},
            "seed is 1099511627776; give a whole number <= 4294967295",
        ),
        (
            {"parameters": {"scale.factor": {"int": [1, 10], "step": 0.5}}},
            "parameters['scale.factor'] step of an int range is a whole number, not 0.5",
        ),
        (
            {"parameters": {"scale.factor": {"choice": [1, [2, 3]]}}},
            "parameters['scale.factor'].choice[1] is [2, 3]; give true or false or a whole "
            "number or a number or text",
        ),
    ],
)
def test_a_space_optuna_cannot_take_is_refused_naming_the_field(
    sqlite_client: Client, project: Project, field: dict[str, Any], message: str
) -> None:
    _chain(sqlite_client, project)
    space = {"objective": "total", "parameters": {"scale.factor": {"int": [1, 4]}}, **field}

    with pytest.raises(InvalidInputError) as refused:
        prodml.sweep(project.pipeline, space, trials=2, client=sqlite_client)

    assert str(refused.value) == f"Search space: {message}."
    assert prodml.list_runs("demo", client=sqlite_client) == []


def test_a_grid_too_fine_to_list_is_refused_counting_its_points_not_listing_them(
    sqlite_client: Client, project: Project
) -> None:
    _chain(sqlite_client, project)
    project.edit("steps.py", "factor: int", "factor: float")
    fine = {"float": [0, 1], "step": 1e-12}  # a trillion points: listing them would not end
    space = {"objective": "total", "sampler": "grid", "parameters": {"scale.factor": fine}}

    with pytest.raises(InvalidInputError, match=r"more than 100,000 points \(1,000,000,000,00"):
        prodml.sweep(project.pipeline, space, trials=2, client=sqlite_client)

    assert prodml.list_runs("demo", client=sqlite_client) == []


def test_an_async_step_function_is_refused_before_any_step_runs(
    sqlite_client: Client, project: Project
) -> None:
    _chain(sqlite_client, project)
    project.write("steps.py", CHAIN_STEPS.replace("def total(", "async def total("))

    with pytest.raises(InvalidInputError) as refused:
        project.run(sqlite_client)

    assert str(refused.value) == (
        "Step 'total': steps:total is an async function, which a step cannot be (prodml "
        "calls steps and stores what they return). Make it a plain def."
    )
    assert prodml.list_runs("demo", client=sqlite_client) == []


def test_a_config_path_a_step_names_that_the_config_lacks_is_refused(
    sqlite_client: Client, project: Project
) -> None:
    _chain(sqlite_client, project)
    project.edit("pipeline.yaml", "steps:scale,", "steps:scale, config: sacle,")
    project.write("steps.py", CHAIN_STEPS.replace("factor: int)", "factor: int = 1)"))

    with pytest.raises(InvalidInputError) as refused:
        project.run(sqlite_client)

    assert str(refused.value) == (
        "Step 'scale' takes the config at 'sacle', which the config does not have (keys: "
        "scale.factor). Fix the step's config: or add sacle to the config."
    )
    assert prodml.list_runs("demo", client=sqlite_client) == []


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"trials": "3"}, "trials must be a whole number, 1 or more, not '3'."),
        ({"trials": 2.5}, "trials must be a whole number, 1 or more, not 2.5."),
        ({"trials": True}, "trials must be a whole number, 1 or more, not True."),
        ({"parallel": None}, "parallel must be a whole number, 1 or more, not None."),
        ({"parallel": 0}, "parallel must be a whole number, 1 or more, not 0."),
    ],
)
def test_a_count_of_trials_or_workers_that_is_not_a_whole_number_is_refused(
    sqlite_client: Client, project: Project, counts: dict[str, Any], message: str
) -> None:
    _chain(sqlite_client, project)
    space = {"objective": "total", "parameters": {"scale.factor": {"int": [1, 4]}}}

    with pytest.raises(InvalidInputError) as refused:
        prodml.sweep(project.pipeline, space, client=sqlite_client, **counts)

    assert str(refused.value) == message
    assert prodml.list_runs("demo", client=sqlite_client) == []
