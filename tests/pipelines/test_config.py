"""The config tree and its overrides: ``-s KEY=VALUE`` changes one value (read as
YAML), ``+KEY`` adds one, and a changed slice reruns exactly its step and the steps
that use what it made."""

from __future__ import annotations

from pipeline_project import Project, log_numbers

import prodml
from prodml.client import Client
from prodml.pipelines.runner import PipelineResult

FIVE = """
name: five
config:
  one: {add: 1}
  two: {add: 2}
  three: {add: 3}
  four: {add: 4}
  five: {add: 5}
steps:
  - {name: one, function: steps:add, inputs: {table: numbers@latest}}
  - {name: two, function: steps:add, inputs: {table: one}}
  - {name: three, function: steps:add, inputs: {table: two}}
  - {name: four, function: steps:add, inputs: {table: three}}
  - {name: five, function: steps:add, inputs: {table: four}}
"""

STEPS = """
import pyarrow as pa
import pyarrow.compute as pc


def add(table: pa.Table, add: int, times: int = 1) -> pa.Table:
    return pa.table({"x": pc.multiply(pc.add(table["x"], add), times)})


def describe(value: object) -> list[object]:
    return [type(value).__name__, value]
"""


def _five(client: Client, project: Project) -> None:
    log_numbers(client, [0, 10])
    project.write("pipeline.yaml", FIVE)
    project.write("steps.py", STEPS)
    assert project.run(client).ran == ["one", "two", "three", "four", "five"]


def _final(client: Client, result: PipelineResult) -> list[int]:
    table = prodml.load_table(result.steps[-1].outputs[0].ref, client=client)
    return list(table["x"].to_pylist())


def test_overriding_one_steps_slice_reruns_exactly_it_and_the_steps_after_it(
    sqlite_client: Client, project: Project
) -> None:
    _five(sqlite_client, project)

    changed = project.run(sqlite_client, "three.add=30")

    assert changed.ran == ["three", "four", "five"]
    assert _final(sqlite_client, changed) == [42, 52]
    assert prodml.get_run(changed.run_id, client=sqlite_client).config["three"] == {"add": 30}
    assert "add: 3}" in project.pipeline.read_text()  # the file is left as it was
    back = project.run(sqlite_client)
    assert back.ran == [] and _final(sqlite_client, back) == [15, 25]
    assert project.run(sqlite_client, "three.add=30").ran == []


def test_overriding_the_last_step_reruns_only_it(sqlite_client: Client, project: Project) -> None:
    _five(sqlite_client, project)

    assert project.run(sqlite_client, "five.add=50").ran == ["five"]


def test_a_plus_adds_a_key_the_file_does_not_have(sqlite_client: Client, project: Project) -> None:
    _five(sqlite_client, project)

    added = project.run(sqlite_client, "+four.times=2")

    assert added.ran == ["four", "five"]
    assert _final(sqlite_client, added) == [25, 45]
    assert prodml.get_run(added.run_id, client=sqlite_client).config["four"] == {
        "add": 4,
        "times": 2,
    }


def test_override_values_are_read_as_yaml(sqlite_client: Client, project: Project) -> None:
    project.write(
        "pipeline.yaml",
        """
        name: typed
        config:
          describe: {value: 0}
        steps:
          - {name: describe, function: steps:describe}
        """,
    )
    project.write("steps.py", STEPS)

    def described(setting: str) -> object:
        (output,) = project.run(sqlite_client, f"describe.value={setting}").steps[0].outputs
        return output.value

    assert described("8") == ["int", 8]
    assert described("0.5") == ["float", 0.5]
    assert described("'8'") == ["str", "8"]
    assert described("[1, 2]") == ["list", [1, 2]]
    assert described("{a: 1}") == ["dict", {"a": 1}]
    assert described("true") == ["bool", True]
    assert described("hello world") == ["str", "hello world"]
    assert described("a=b") == ["str", "a=b"]


def test_a_date_in_the_file_or_an_override_reaches_the_step_as_its_text(
    sqlite_client: Client, project: Project
) -> None:
    project.write(
        "pipeline.yaml",
        """
        name: dated
        config:
          describe: {value: 2013-03-15}
        steps:
          - {name: describe, function: steps:describe}
        """,
    )
    project.write("steps.py", STEPS)

    from_file = project.run(sqlite_client)
    overridden = project.run(sqlite_client, "describe.value=2013-04-01")

    assert from_file.steps[0].outputs[0].value == ["str", "2013-03-15"]
    assert overridden.steps[0].outputs[0].value == ["str", "2013-04-01"]
    config = prodml.get_run(overridden.run_id, client=sqlite_client).config
    assert config == {"describe": {"value": "2013-04-01"}}
