"""Running a pipeline: a run with a child run per step, outputs stored as versions
linked to the runs that made them, the step cache reused and recorded, forced steps,
nondeterministic steps flagged, a failing step that caches nothing. What reads or
writes cache entries runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from pipeline_project import CHAIN, CHAIN_STEPS, Project, log_numbers

import prodml
from prodml.client import Client
from prodml.domain.lineage import NodeKind
from prodml.domain.run import RunStatus
from prodml.errors import StepFailedError


def test_a_first_run_runs_every_step_and_a_rerun_reuses_them_recording_where_from(
    client: Client, project: Project
) -> None:
    log_numbers(client, [1, 2, 3])
    project.write("pipeline.yaml", CHAIN)
    project.write("steps.py", CHAIN_STEPS)

    first = project.run(client)
    second = project.run(client)

    assert first.ran == ["load", "scale", "total"]
    assert not any(step.cached for step in first.steps)
    assert first.metrics == {"total": 18.0}
    assert second.ran == [] and all(step.cached for step in second.steps)
    assert second.metrics == {"total": 18.0}
    assert [s.reused_from for s in second.steps] == [s.run_id for s in first.steps]
    assert [s.outputs for s in second.steps] == [s.outputs for s in first.steps]
    assert [s.key for s in second.steps] == [s.key for s in first.steps]
    for made, reused in zip(first.steps, second.steps, strict=True):
        tags = prodml.get_run(reused.run_id, client=client).tags
        assert tags["prodml.step"] == reused.name
        assert tags["prodml.step.cached"] == "true"
        assert tags["prodml.step.reused_from"] == made.run_id
        assert tags["prodml.builds_on"] == made.run_id
        assert tags["prodml.parent"] == second.run_id
        assert set(client.metadata.neighbours(("run", reused.run_id), upstream=True)) == {
            (("run", second.run_id), "child"),
            (("run", made.run_id), "builds_on"),
        }
        assert prodml.get_run(made.run_id, client=client).tags["prodml.step.cached"] == "false"
    whole = prodml.get_run(second.run_id, client=client)
    assert whole.status is RunStatus.FINISHED and whole.metrics == {"total": 18.0}
    assert whole.tags["prodml.pipeline"] == "demo"
    assert whole.tags["prodml.builds_on"] == first.steps[0].run_id
    upstream = client.metadata.neighbours(("run", second.run_id), upstream=True)
    assert (("run", first.steps[0].run_id), "builds_on") in upstream
    entries = prodml.step_cache("demo", client=client)
    assert sorted(e.step for e in entries) == ["load", "scale", "total"]
    assert {e.run_id for e in entries} == {s.run_id for s in first.steps}
    assert [e.step for e in prodml.step_cache("demo", "scale", client=client)] == ["scale"]


def test_step_runs_are_children_of_the_pipeline_run_in_tags_and_lineage(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    project.write("pipeline.yaml", CHAIN)
    project.write("steps.py", CHAIN_STEPS)

    result = project.run(sqlite_client)

    children = sqlite_client.metadata.neighbours(("run", result.run_id), upstream=False)
    for step in result.steps:
        run = prodml.get_run(step.run_id, client=sqlite_client)
        assert run.tags["prodml.parent"] == result.run_id
        assert run.tags["prodml.step"] == step.name and run.tags["prodml.step.key"] == step.key
        assert run.experiment == "demo" and run.status is RunStatus.FINISHED
        assert (("run", step.run_id), "child") in children
    assert prodml.get_run(result.steps[1].run_id, client=sqlite_client).config == {"factor": 3}
    numbers = prodml.get_dataset("numbers@latest", client=sqlite_client)
    assert prodml.get_run(result.run_id, client=sqlite_client).inputs == (numbers.id,)


LINEAGE = """
name: demo
config:
  split: {valid_from: 3}
steps:
  - {name: load, function: steps:load, inputs: {table: numbers@latest}}
  - {name: split, function: steps:split, inputs: {table: load}}
  - name: train
    function: steps:train
    inputs: {table: split.train, valid: split.valid}
    model: mean-model
  - {name: evaluate, function: steps:evaluate, inputs: {model: train, table: split.valid}}
"""

LINEAGE_STEPS = """
import pyarrow as pa
import pyarrow.compute as pc
from model_lib import MeanModel


def load(table: pa.Table) -> pa.Table:
    return table


def split(table: pa.Table, valid_from: int) -> dict[str, pa.Table]:
    late = pc.greater_equal(table["x"], valid_from)
    return {"train": table.filter(pc.invert(late)), "valid": table.filter(late)}


def train(table: pa.Table, valid: pa.Table) -> MeanModel:
    return MeanModel(float(pc.mean(table["x"]).as_py()))


def evaluate(model: MeanModel, table: pa.Table) -> dict[str, float]:
    guesses = model.predict(table.to_pylist())
    errors = [abs(g - row["x"]) for g, row in zip(guesses, table.to_pylist())]
    return {"mae": sum(errors) / len(errors)}
"""

MODEL_LIB = """
class MeanModel:
    def __init__(self, mean: float) -> None:
        self.mean = mean

    def predict(self, rows: list[object]) -> list[float]:
        return [self.mean] * len(rows)
"""


def test_outputs_are_versions_made_by_their_step_run_and_the_models_upstream_has_every_step(
    client: Client, project: Project
) -> None:
    numbers = log_numbers(client, [1, 2, 3, 4])
    project.write("pipeline.yaml", LINEAGE)
    project.write("steps.py", LINEAGE_STEPS)
    project.write("model_lib.py", MODEL_LIB)

    result = project.run(client)

    runs = {s.name: s.run_id for s in result.steps}
    made = {s.name: {o.name: o for o in s.outputs} for s in result.steps}
    assert made["load"][""].ref == "demo-load@1"
    assert (made["split"]["train"].ref, made["split"]["valid"].ref) == (
        "demo-split-train@1",
        "demo-split-valid@1",
    )
    assert made["train"][""].ref == "mean-model@1"
    assert made["evaluate"][""].value == {"mae": 2.0}
    assert result.metrics == {"mae": 2.0}
    assert prodml.load_table("demo-split-valid@1", client=client).to_pydict() == {"x": [3, 4]}
    assert prodml.load_model("mean-model@1", client=client).predict([0]) == [1.5]
    for name, outputs in made.items():
        for output in outputs.values():
            if output.kind.value in ("dataset", "model"):
                tree = prodml.upstream(output.ref, client=client)
                assert (output.id, "produced", runs[name]) in tree.edges()

    upstream = prodml.upstream("mean-model@1", client=client)
    nodes = {(node.kind, node.id) for node in upstream.walk()}
    for name in ("load", "split", "train"):
        assert (NodeKind.RUN, runs[name]) in nodes, name
    tables = [made["load"][""], made["split"]["train"], made["split"]["valid"]]
    for dataset in (numbers.id, *(o.id for o in tables)):
        assert (NodeKind.DATASET, dataset) in nodes
    edges = upstream.edges()
    assert (made["train"][""].id, "produced", runs["train"]) in edges
    assert (runs["train"], "input", made["split"]["train"].id) in edges
    assert (runs["train"], "input", made["split"]["valid"].id) in edges
    assert (NodeKind.RUN, result.run_id) in nodes
    assert (NodeKind.RUN, runs["evaluate"]) not in nodes


def test_a_rerun_makes_no_new_versions(sqlite_client: Client, project: Project) -> None:
    log_numbers(sqlite_client, [1, 2, 3, 4])
    project.write("pipeline.yaml", LINEAGE)
    project.write("steps.py", LINEAGE_STEPS)
    project.write("model_lib.py", MODEL_LIB)

    project.run(sqlite_client)
    again = project.run(sqlite_client)

    assert again.ran == [] and again.metrics == {"mae": 2.0}
    assert [v.version for v in prodml.list_model_versions("mean-model", client=sqlite_client)] == [
        1
    ]
    assert [v.ref for v in prodml.list_datasets("demo-load", client=sqlite_client)] == [
        "demo-load@1"
    ]


BRANCHED = """
name: demo
steps:
  - {name: load, function: steps:load, inputs: {table: numbers@latest}}
  - {name: double, function: steps:double, inputs: {table: load}}
  - {name: square, function: steps:square, inputs: {table: double}}
  - {name: negate, function: steps:negate, inputs: {table: load}}
  - {name: join, function: steps:join, inputs: {left: square, right: negate}}
"""

BRANCHED_STEPS = """
import pyarrow as pa
import pyarrow.compute as pc


def load(table: pa.Table) -> pa.Table:
    return table


def double(table: pa.Table) -> pa.Table:
    return pa.table({"x": pc.multiply(table["x"], 2)})


def square(table: pa.Table) -> pa.Table:
    return pa.table({"x": pc.multiply(table["x"], table["x"])})


def negate(table: pa.Table) -> pa.Table:
    return pa.table({"x": pc.negate(table["x"])})


def join(left: pa.Table, right: pa.Table) -> pa.Table:
    return pa.table({"x": pc.add(left["x"], right["x"])})
"""


def test_force_reruns_the_step_and_the_steps_that_use_its_outputs_only(
    client: Client, project: Project
) -> None:
    log_numbers(client, [1, 2, 3])
    project.write("pipeline.yaml", BRANCHED)
    project.write("steps.py", BRANCHED_STEPS)
    first = project.run(client)

    forced = project.run(client, force=("double",))

    assert first.ran == ["load", "double", "square", "negate", "join"]
    assert forced.ran == ["double", "square", "join"]
    assert project.run(client, force=("negate",)).ran == ["negate", "join"]
    assert project.run(client).ran == []
    ran = prodml.get_run(forced.steps[1].run_id, client=client)
    assert ran.tags["prodml.step.cached"] == "false"
    assert "prodml.builds_on" not in ran.tags
    assert prodml.load_table(forced.steps[-1].outputs[0].ref, client=client).to_pydict() == {
        "x": [3, 14, 33]
    }
    assert [e.step for e in prodml.step_cache("demo", "double", client=client)] == ["double"]
    assert not any(e.nondeterministic for e in prodml.step_cache("demo", client=client))


RANDOM = """
name: dice
steps:
  - {name: roll, function: steps:roll}
  - {name: report, function: steps:report, inputs: {value: roll}}
"""

RANDOM_STEPS = """
import random


def roll() -> dict[str, object]:
    return {"draw": [random.random() for _ in range(3)]}


def report(value: list[float]) -> dict[str, float]:
    return {"first": value[0]}
"""


def test_a_nondeterministic_step_run_again_is_flagged_and_warned_about_on_reuse(
    client: Client, project: Project
) -> None:
    project.write("pipeline.yaml", RANDOM)
    project.write("steps.py", RANDOM_STEPS)

    first = project.run(client)
    forced = project.run(client, force=("roll",))
    later = project.run(client)

    assert first.ran == ["roll", "report"] and forced.ran == ["roll", "report"]
    assert forced.steps[0].key == first.steps[0].key
    assert forced.steps[0].outputs != first.steps[0].outputs
    (entry,) = prodml.step_cache("dice", "roll", client=client)
    assert entry.nondeterministic and entry.run_id == forced.steps[0].run_id
    assert client.metadata.cached_step(first.steps[0].key) == entry
    assert entry.outputs == forced.steps[0].outputs  # the forced run's are reused from now on
    (event,) = prodml.events(action="step.nondeterministic", client=client)
    assert event.subject_id == forced.steps[0].run_id
    assert event.details["step"] == "roll" and event.details["pipeline"] == "dice"
    assert event.details["runs"] == [first.steps[0].run_id, forced.steps[0].run_id]
    replaced = prodml.events(action="step.cached", client=client)
    assert [e.details.get("replaced") for e in replaced].count(first.steps[0].run_id) == 1
    assert later.ran == [] and later.steps[0].reused_from == forced.steps[0].run_id
    assert later.metrics == forced.metrics != first.metrics  # not undone by the next run
    assert any("nondeterministic" in w for w in later.steps[0].warnings)
    assert not any("nondeterministic" in w for w in later.steps[1].warnings)
    reports = prodml.step_cache("dice", "report", client=client)
    assert len(reports) == 2 and not any(e.nondeterministic for e in reports)


FAILING = """
name: fragile
steps:
  - {name: load, function: steps:load, inputs: {table: numbers@latest}}
  - {name: check, function: steps:check, inputs: {table: load}}
  - {name: total, function: steps:total, inputs: {table: check}}
"""

FAILING_STEPS = """
import pyarrow as pa
import pyarrow.compute as pc


def load(table: pa.Table) -> pa.Table:
    return table


def check(table: pa.Table, run) -> pa.Table:
    run.log_metric("rows_checked", table.num_rows)
    if pc.max(table["x"]).as_py() > 2:
        raise ValueError("a value is over the limit")
    return table


def total(table: pa.Table) -> dict[str, float]:
    return {"total": float(pc.sum(table["x"]).as_py())}
"""


def test_a_failing_step_fails_its_runs_caches_nothing_and_the_steps_before_it_are_reused(
    client: Client, project: Project
) -> None:
    log_numbers(client, [1, 2, 3])
    project.write("pipeline.yaml", FAILING)
    project.write("steps.py", FAILING_STEPS)
    seen: list[str] = []

    with pytest.raises(StepFailedError) as failure:
        prodml.run_pipeline(
            project.pipeline, report=lambda step: seen.append(step.name), client=client
        )

    message = str(failure.value)
    assert "'check'" in message and "steps:check" in message
    assert "ValueError: a value is over the limit" in message
    assert seen == ["load"]
    assert [e.step for e in prodml.step_cache("fragile", client=client)] == ["load"]
    runs = prodml.list_runs("fragile", client=client)
    by_step = {run.tags.get("prodml.step", ""): run for run in runs}
    assert by_step["check"].status is RunStatus.FAILED
    assert "over the limit" in (by_step["check"].error or "")
    assert by_step["check"].metrics == {"rows_checked": 3.0}  # what it logged before failing
    assert by_step[""].status is RunStatus.FAILED
    assert by_step["load"].status is RunStatus.FINISHED
    assert "total" not in by_step

    project.edit("steps.py", "> 2:", "> 5:")
    fixed = project.run(client)

    assert fixed.ran == ["check", "total"] and fixed.metrics == {"total": 6.0}
    assert fixed.steps[0].reused_from == by_step["load"].id
