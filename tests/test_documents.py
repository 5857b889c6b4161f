"""The YAML documents (suites, rollout plans, monitor specs, checks, guardrails) are read
by one typed reader: every problem names the document, the full field path and what
is expected; an unknown key is named with the known ones; ``prodml schema KIND``
prints a JSON Schema that accepts the documents the examples ship and refuses a
wrong one."""

from __future__ import annotations

import copy
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import jsonschema_rs
import numpy as np
import pandas as pd
import pytest
import yaml

import prodml
from prodml import documents
from prodml.client import Client
from prodml.data import checks
from prodml.deploy import plan
from prodml.errors import InvalidInputError
from prodml.evaluate import suite
from prodml.monitor import spec
from prodml.pipelines import space
from prodml.pipelines.document import PipelineDocument
from prodml.predict import guardrails

EXAMPLES = Path(__file__).parents[1] / "examples"
PARSERS = {
    "pipeline": lambda d: documents.check(PipelineDocument, d, "Pipeline file"),
    "space": space.read,
    "suite": suite.parse,
    "plan": plan.parse,
    "monitor": spec.parse,
    "checks": checks.parse,
    "guardrails": guardrails.parse,
}


def _example(module: str, name: str) -> dict[str, Any]:
    sys.path.insert(0, str(EXAMPLES))
    try:
        found: dict[str, Any] = copy.deepcopy(getattr(importlib.import_module(module), name))
    finally:
        sys.path.remove(str(EXAMPLES))
    return found


@pytest.fixture(scope="module")
def checks_document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Checks as ``prodml checks infer`` writes them, from a few batches of trips."""
    rng = np.random.default_rng(3)
    batches = [
        pd.DataFrame(
            {
                "fare": rng.gamma(4.0, 25.0, 500),
                "city": rng.choice(["Oslo", "Lima", "Rome"], 500),
            }
        )
        for _ in range(6)
    ]
    home = tmp_path_factory.mktemp("checks") / ".prodml"
    client = Client(home=str(home), user="tester")
    try:
        return prodml.infer_checks([prodml.profile(b) for b in batches], client=client)
    finally:
        client.close()


@pytest.fixture
def shipped(checks_document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every document of each kind the examples ship (checks: as inferred)."""
    return {
        "pipeline": [yaml.safe_load((EXAMPLES / "pipeline" / "pipeline.yaml").read_text())],
        "space": [yaml.safe_load((EXAMPLES / "pipeline" / "space.yaml").read_text())],
        "suite": [_example("evaluation_demo", "SUITE")],
        "plan": [_example("serving_demo", "PLAN"), _example("serving_demo", "BROKEN_PLAN")],
        "monitor": [{"model": "late-arrivals", **_example("monitoring_demo", "SPEC")}],
        "checks": [copy.deepcopy(checks_document)],
        "guardrails": [_example("evaluation_demo", "GUARDRAILS")],
    }


def _refusal(kind: str, document: Any) -> str:
    with pytest.raises(InvalidInputError) as refused:
        PARSERS[kind](document)
    return str(refused.value)


# One wrong value deep in each kind of document, and the path its message must name.
DEEP: list[tuple[str, str, Any, str]] = [
    ("pipeline", "steps.3.leakage.max_overlap", 2, "steps[3].leakage.max_overlap is 2"),
    ("pipeline", "steps.1.cache", "yes", "steps[1].cache is 'yes'"),
    ("space", "seed", 1.5, "seed is 1.5"),
    ("space", "seed", "x", "seed is 'x'"),
    ("suite", "gate.rules.0.max_regression", "small", "gate.rules[0].max_regression is 'small'"),
    ("suite", "slices.0.tolerance", {"auc": -1}, "slices[0].tolerance.auc is -1"),
    ("plan", "stages.2.min_requests", 0, "stages[2].min_requests is 0"),
    ("plan", "criteria.max_error_rate", 1.5, "criteria.max_error_rate is 1.5"),
    ("monitor", "slos.1.over", "ages", "slos[1].over is 'ages'"),
    ("monitor", "labels.slices.long-haul", "", "labels.slices.long-haul is ''"),
    ("checks", "columns.fare.range.max", "high", "columns.fare.range.max is 'high'"),
    ("checks", "table.duplicate_share.max", [1], "table.duplicate_share.max is [1]"),
    ("guardrails", "rules.1.confidence_below", 2, "rules[1].confidence_below is 2"),
]


def _set(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    holder: Any = changed
    for part in parents:
        holder = holder[part]
    holder[last] = value
    return changed


@pytest.mark.parametrize(("kind", "path", "value", "named"), DEEP)
def test_a_wrong_value_deep_in_a_document_is_named_by_its_full_path(
    shipped: dict[str, list[dict[str, Any]]], kind: str, path: str, value: Any, named: str
) -> None:
    message = _refusal(kind, _set(shipped[kind][0], path, value))

    assert named in message, message
    assert "; give " in message, message  # what is expected
    assert "\n" not in message and "pydantic" not in message and "http" not in message


@pytest.mark.parametrize(
    ("kind", "where", "known"),
    [
        ("suite", "gate", "against, min_rows, mode, rules"),
        ("plan", "stages.1", "criteria, max_duration, min_duration, min_requests, stage, steps"),
        ("monitor", "labels", "metric, min_labels, slice_by, slices, top, wait"),
        ("checks", "columns.city.categories", "allowed, from, max_new_share"),
        ("guardrails", "rules.0", "abstain, clip, confidence_below, name, set, when"),
    ],
)
def test_an_unknown_key_is_named_with_the_known_ones(
    shipped: dict[str, list[dict[str, Any]]], kind: str, where: str, known: str
) -> None:
    document = shipped[kind][0]
    path = f"{where}.colour"
    message = _refusal(kind, _set(document, path, "red"))

    shown = documents._path([int(p) if p.isdigit() else p for p in path.split(".")])
    assert f"{shown} is not a known field; known: {known}." in message, message


def test_every_problem_is_one_line_under_the_document_named_once() -> None:
    message = _refusal(
        "plan",
        {"stages": [{"stage": "shadow", "min_requests": 0}, {"stage": "blue", "colour": 1}]},
    )

    assert message.splitlines() == [
        "Rollout plan has 3 problems:",
        "  stages[0].min_requests is 0; give a whole number >= 1.",
        "  stages[1].stage is 'blue'; use 'shadow', 'canary' or 'full'.",
        "  stages[1].colour is not a known field; known: criteria, max_duration, "
        "min_duration, min_requests, stage, steps.",
    ]


def test_a_document_with_many_problems_lists_the_first_twenty() -> None:
    message = _refusal("plan", {"stages": [{"stage": "blue"}] * 30})

    lines = message.splitlines()
    assert lines[0] == "Rollout plan has 30 problems:" and len(lines) == 22
    assert lines[20] == "  stages[19].stage is 'blue'; use 'shadow', 'canary' or 'full'."
    assert lines[21] == "  ... and 10 more."


def test_the_reader_takes_yaml_text_and_names_the_document_in_its_errors() -> None:
    from prodml.deploy.plan_document import PlanDocument

    read = documents.read(PlanDocument, "stages: [{stage: canary, steps: [5, 50]}]", "Plan")

    assert read.stages[0].shares() == [0.05, 0.5]
    with pytest.raises(InvalidInputError, match=r"^Plan is not valid YAML: "):
        documents.read(PlanDocument, "stages: [{stage: canary", "Plan")
    with pytest.raises(InvalidInputError, match=r"^Plan: stages\[0\]\.steps\[0\] is 500; "):
        documents.read(PlanDocument, "stages: [{stage: canary, steps: [500]}]", "Plan")


LAUGHS = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)
)  # nine lines that stand for 10**9 values


@pytest.mark.parametrize("kind", ["plan", "suite", "monitor", "pipeline"])
def test_aliases_that_stand_for_a_billion_values_or_an_endless_one_are_refused_at_once(
    kind: str,
) -> None:
    model = documents.model_of(kind)

    with pytest.raises(InvalidInputError) as refused:
        documents.read(model, LAUGHS, "Document d.yaml")
    assert str(refused.value) == (
        "Document d.yaml: more than 1,000,000 values once its aliases (*name) are written "
        "out, more than a document written by hand needs. Use fewer aliases, or put the "
        "data in a dataset."
    )
    with pytest.raises(InvalidInputError, match=r"^Document d.yaml: a list or mapping in it "):
        documents.read(model, "name: &n {x: [1, *n]}\n", "Document d.yaml")


def test_aliases_that_share_values_within_bounds_are_read_as_written_out() -> None:
    text = "defaults: &d {lr: 0.1, depth: [1, 2]}\nconfig: {a: *d, b: *d}\n"

    from prodml import yaml_text

    assert yaml_text.parse(text, "Config") == {
        "defaults": {"lr": 0.1, "depth": [1, 2]},
        "config": {"a": {"lr": 0.1, "depth": [1, 2]}, "b": {"lr": 0.1, "depth": [1, 2]}},
    }


def test_a_value_no_shape_of_a_field_takes_is_one_problem() -> None:
    message = _refusal("monitor", {"model": "m", "sensitivity": "high"})

    assert message == "Monitor spec: sensitivity is 'high'; give a number or a mapping."


@pytest.mark.parametrize("kind", sorted(documents.KINDS))
def test_the_schema_accepts_what_the_examples_ship_and_refuses_a_wrong_value(
    shipped: dict[str, list[dict[str, Any]]], kind: str
) -> None:
    schema = prodml.document_schema(kind)
    validator = jsonschema_rs.Draft202012Validator(schema)

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    for document in shipped[kind]:
        assert validator.is_valid(json.loads(json.dumps(document))), document
        PARSERS[kind](document)  # and the reader agrees
    wrong = _set(shipped[kind][0], *next((p, v) for k, p, v, _ in DEEP if k == kind))
    assert not validator.is_valid(json.loads(json.dumps(wrong)))
    assert not validator.is_valid({**shipped[kind][0], "colour": "red"})


@pytest.mark.parametrize("kind", sorted(documents.KINDS))
def test_every_field_of_a_schema_has_a_title_and_a_description(kind: str) -> None:
    schema = prodml.document_schema(kind)

    assert schema["title"] and schema["description"]
    for model in [schema, *schema.get("$defs", {}).values()]:
        for name, field in model.get("properties", {}).items():
            assert field.get("title") and field.get("description"), (kind, model["title"], name)


def test_durations_in_a_schema_take_seconds_or_text() -> None:
    validator = jsonschema_rs.Draft202012Validator(prodml.document_schema("plan"))

    for good in ("30s", "5m", "250ms", 45, 0):
        assert validator.is_valid({"stages": [{"stage": "shadow", "min_duration": good}]})
    for bad in ("5 minutes", -1, True):
        assert not validator.is_valid({"stages": [{"stage": "shadow", "min_duration": bad}]})


def test_the_vocabularies_of_the_models_are_those_of_the_records() -> None:
    from prodml.evaluate.outcomes import Task
    from prodml.evaluate.suite_document import GateDocument, SuiteDocument
    from prodml.monitor.spec_document import LabelMetric, Monitor

    assert get_args(LabelMetric) == spec.LABEL_METRICS
    assert get_args(Monitor) == spec.MONITORS
    assert set(get_args(SuiteDocument.model_fields["task"].annotation)) == {t.value for t in Task}
    modes = get_args(GateDocument.model_fields["mode"].annotation)
    assert modes == (suite.OBSERVED, suite.NON_INFERIORITY)


def _prodml(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    return subprocess.run(
        [sys.executable, "-m", "prodml.cli.main", *args],
        env={**kept, "PRODML_HOME": str(tmp_path / ".prodml"), "COLUMNS": "200"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_prodml_schema_prints_the_json_schema_of_a_kind(tmp_path: Path) -> None:
    result = _prodml(tmp_path, "schema", "plan")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == prodml.document_schema("plan")


def test_prodml_schema_of_an_unknown_kind_names_the_known_ones(tmp_path: Path) -> None:
    result = _prodml(tmp_path, "schema", "plans")

    assert result.returncode == 1 and result.stdout == ""
    assert "Traceback" not in result.stderr and "Unexpected error" not in result.stderr
    assert (
        "No document kind 'plans'. Known kinds: checks, guardrails, monitor, pipeline, plan, "
        "space, suite." in " ".join(result.stderr.split())
    )
