"""A pipeline file checked before anything runs: every mistake is one prodml error
that names the field or file and says what to do, and a mistake found before the
first step leaves no run behind."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from pipeline_project import Project, log_numbers

import prodml
from prodml.client import Client
from prodml.domain.run import RunStatus
from prodml.errors import InvalidInputError, NotFoundError, ProdmlError

BASE: dict[str, Any] = {
    "name": "checked",
    "config": {"scale": {"factor": 2}},
    "steps": [
        {"name": "load", "function": "steps:load", "inputs": {"table": "numbers@latest"}},
        {"name": "scale", "function": "steps:scale", "inputs": {"table": "load"}},
    ],
}

STEPS = """
import pyarrow as pa
import pyarrow.compute as pc


def load(table: pa.Table) -> pa.Table:
    return table


def scale(table: pa.Table, factor: int, offset: int = 0) -> pa.Table:
    return pa.table({"x": pc.add(pc.multiply(table["x"], factor), offset)})


def unstorable(table: pa.Table, factor: int) -> object:
    return {"fine": table, "odd": {1, 2}}


def logged(table: pa.Table, factor: int, run: object = None) -> pa.Table:
    return table
"""

Change = Callable[[dict[str, Any]], None]


def _step(index: int, **fields: Any) -> Change:
    return lambda document: document["steps"][index].update(fields)


def _input(index: int, source: str) -> Change:
    return lambda document: document["steps"][index]["inputs"].update(table=source)


def _config(**slice_: Any) -> Change:
    return lambda document: document["config"]["scale"].update(slice_)


def _no_config(document: dict[str, Any]) -> None:
    document["config"].pop("scale")


def _duplicate(document: dict[str, Any]) -> None:
    document["steps"].append(dict(document["steps"][1]))


def _unchanged(document: dict[str, Any]) -> None:
    pass


def _write(project: Project, change: Change) -> None:
    document = copy.deepcopy(BASE)
    change(document)
    project.write("pipeline.yaml", yaml.safe_dump(document, sort_keys=False))
    project.write("steps.py", STEPS)
    project.write(
        "broken.py", "import a_library_nobody_installed\n\n\ndef f(table, factor):\n    pass\n"
    )
    project.write("garbled.py", "def f(table:\n    return table\n")
    project.write("helpers.py", "def offset(:\n")
    project.write(
        "uses_garbled.py", "from helpers import offset\n\n\ndef f(table, factor):\n    pass\n"
    )


BEFORE_ANY_RUN = [
    (
        "an input naming a later step",
        _input(0, "scale"),
        ["steps[0].inputs.table", "'scale'", "not an earlier step", "earlier steps: none"],
    ),
    (
        "an input naming no step",
        _input(1, "lod"),
        ["steps[1].inputs.table", "'lod'", "earlier steps: load", "NAME@VERSION"],
    ),
    ("two steps of one name", _duplicate, ["steps[2].name", "'scale'", "used by an earlier step"]),
    (
        "a function its module lacks",
        _step(1, function="steps:scaled"),
        [
            "Step 'scale'",
            "no function 'scaled'",
            "its functions: load, logged, scale, unstorable",
            "Fix the step's function",
        ],
    ),
    (
        "a module that is nowhere",
        _step(1, function="scaling:scale"),
        ["Step 'scale'", "no module 'scaling'", "scaling.py beside the pipeline file"],
    ),
    (
        "a step module Python cannot read",
        _step(1, function="garbled:f"),
        ["garbled.py, line 1", "Fix it"],
    ),
    (
        "a helper module Python cannot read",
        _step(1, function="uses_garbled:f"),
        ["helpers.py, line 1", "Fix it"],
    ),
    (
        "a config key the function does not take",
        _config(factr=3),
        [
            "Step 'scale' (steps:scale)",
            "is given factr",
            "it takes: table, factor, offset",
            "Fix the name",
        ],
    ),
    (
        "a required argument nothing gives",
        _no_config,
        ["Step 'scale' (steps:scale)", "needs factor", "config slice 'scale'", "Add them"],
    ),
    (
        "a config slice that is no mapping",
        lambda d: d["config"].update(scale=5),
        ["Step 'scale'", "'scale', which is 5, not a mapping"],
    ),
    (
        "a package that is not installed",
        _step(1, packages=["no-such-distribution"]),
        ["Step 'scale'", "'no-such-distribution'", "not installed", "Install it or fix its name"],
    ),
    (
        "a function that is not module:function",
        _step(1, function="steps.scale"),
        ["steps[1].function", "'steps.scale'"],
    ),
    (
        "an input named as the step's own run",
        _step(1, function="steps:logged", inputs={"table": "load", "run": "load"}),
        ["Step 'scale' (steps:logged)", "takes 'run'", "its own run", "Rename the input"],
    ),
    (
        "a misspelt field",
        _step(1, fucntion="steps:scale"),
        ["steps[1].fucntion", "known: cache, config, function"],
    ),
]


@pytest.mark.parametrize(
    "change,fragments", [case[1:] for case in BEFORE_ANY_RUN], ids=[c[0] for c in BEFORE_ANY_RUN]
)
def test_a_mistake_in_the_file_is_refused_before_any_run_naming_it(
    sqlite_client: Client, project: Project, change: Change, fragments: list[str]
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    _write(project, change)

    with pytest.raises(InvalidInputError) as refused:
        project.run(sqlite_client)

    for fragment in fragments:
        assert fragment in str(refused.value)
    assert prodml.list_runs("checked", client=sqlite_client) == []


@pytest.mark.parametrize(
    "overrides,force,fragments",
    [
        (
            ["scale.factr=3"],
            [],
            ["'scale.factr=3'", "no 'scale.factr'", "scale.factor", "-s +scale.factr=3"],
        ),
        (["scales.factor=3"], [], ["no 'scales'", "-s +scales.factor=3"]),
        (["scale.factor"], [], ["'scale.factor' is not KEY=VALUE", "-s train.max_depth=8"]),
        (["scale..factor=3"], [], ["not KEY=VALUE"]),
        (["scale.factor=[3"], [], ["override 'scale.factor'", "not valid YAML"]),
        (["+scale.bogus=3"], [], ["Step 'scale'", "is given bogus", "does not take"]),
        ([], ["sacle"], ["no step 'sacle'", "its steps: load, scale"]),
    ],
)
def test_a_bad_override_or_forced_step_is_refused_before_any_run(
    sqlite_client: Client,
    project: Project,
    overrides: list[str],
    force: list[str],
    fragments: list[str],
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    _write(project, _unchanged)

    with pytest.raises(InvalidInputError) as refused:
        project.run(sqlite_client, *overrides, force=tuple(force))

    for fragment in fragments:
        assert fragment in str(refused.value)
    assert prodml.list_runs("checked", client=sqlite_client) == []


def test_an_input_dataset_that_is_not_stored_is_refused_before_any_run(
    sqlite_client: Client, project: Project
) -> None:
    _write(project, _unchanged)

    with pytest.raises(NotFoundError, match=r"numbers@latest.*prodml datasets list"):
        project.run(sqlite_client)

    assert prodml.list_runs("checked", client=sqlite_client) == []


def _failed_step(client: Client, step: str) -> tuple[str, str]:
    runs = {r.tags.get("prodml.step", ""): r for r in prodml.list_runs("checked", client=client)}
    assert runs[""].status is RunStatus.FAILED
    return runs[step].status.value, runs[step].error or ""


def test_a_module_that_fails_to_import_fails_its_step_naming_what_is_missing(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    _write(project, _step(1, function="broken:f"))

    with pytest.raises(ProdmlError) as failed:
        project.run(sqlite_client)

    message = str(failed.value)
    assert "Step 'scale'" in message and "importing 'broken' failed" in message
    assert "No module named 'a_library_nobody_installed'" in message
    assert "Fix the module (or install what it imports)" in message
    status, error = _failed_step(sqlite_client, "scale")
    assert status == "failed" and "a_library_nobody_installed" in error


def test_a_step_returning_what_cannot_be_stored_fails_naming_the_output_and_caches_nothing(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    _write(project, _step(1, function="steps:unstorable"))

    with pytest.raises(InvalidInputError) as refused:
        project.run(sqlite_client)

    message = str(refused.value)
    assert "checked:scale" in message and "'odd'" in message and "set" in message
    assert "Return a table (Arrow, pandas, polars), a model" in message
    status, error = _failed_step(sqlite_client, "scale")
    assert status == "failed" and "cannot store" in error
    assert [e.step for e in prodml.step_cache("checked", client=sqlite_client)] == ["load"]


def test_an_input_naming_an_output_its_step_does_not_have_names_the_outputs_it_has(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    _write(project, _input(1, "load.train"))

    with pytest.raises(InvalidInputError) as refused:
        project.run(sqlite_client)

    message = str(refused.value)
    assert "Step 'load' has no output 'load.train'; its outputs: load." in message
    assert "Name one of them in the inputs" in message
