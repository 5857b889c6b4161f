"""OpenLineage export: a store with a dataset in two versions, a validation, a run that
reads the dataset and logs a model, a failed run and a child run, exported as the
events OpenLineage consumers read.

Every event is checked with the ``openlineage-python`` client: the client ships no
JSON schema files and cannot fetch the spec offline, so each event is built through
its attrs classes (whose validators check UUIDs, times and enums), validated again
field by field, and its JSON checked for the fields the spec requires."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import attr
import pandas as pd
import pytest
from openlineage.client.event_v2 import DatasetEvent, RunEvent
from openlineage.client.serde import Serde

import prodml
from prodml.client import Client
from prodml.domain.artifact import ModelVersion
from prodml.domain.run import Run


class _Model:
    def predict(self, rows: list[float]) -> list[float]:
        return rows


@dataclass(frozen=True)
class Seeded:
    client: Client
    home: Path
    fit: Run
    failed: Run
    child: Run
    model: ModelVersion
    events: list[dict[str, Any]]  # the export's JSON, in order
    objects: list[RunEvent | DatasetEvent]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    home = tmp_path_factory.mktemp("openlineage") / ".prodml"
    client = Client(home=str(home), user="dana", flush_interval=0.05)
    first = prodml.log_dataset(
        "flights",
        pd.DataFrame({"fare": [10.0, None, 30.0, 30.0], "city": ["a", "b", "a", None]}),
        client=client,
    )
    second = prodml.log_dataset(
        "flights",
        pd.DataFrame({"fare": [10.0, 20.0, 30.0, 1e6], "city": ["a", "b", "a", "c"]}),
        client=client,
    )
    prodml.validate(second, first, client=client)
    with prodml.start_run("delay", inputs=[second], client=client) as run:
        model = run.log_model(_Model(), "delay-model")
    with pytest.raises(ValueError), prodml.start_run("delay", client=client) as broken:
        raise ValueError("the fares ran out")
    with prodml.start_run("delay-child", client=client) as child:
        pass
    prodml.tag_run(child.id, {"parent_run": run.id}, client=client)
    objects = prodml.openlineage_events(client=client)
    out = home.parent / "events.ndjson"
    prodml.export_openlineage(out, client=client)
    events = [json.loads(line) for line in out.read_text().splitlines()]
    yield Seeded(
        client,
        home,
        client.metadata.get_run(run.id),
        client.metadata.get_run(broken.id),
        client.metadata.get_run(child.id),
        model,
        events,
        objects,
    )
    client.close()


def _runs(events: list[dict[str, Any]], job: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("eventType") == kind and e["job"]["name"] == job]


def _one(events: list[dict[str, Any]], job: str, kind: str, run: Run) -> dict[str, Any]:
    (found,) = [e for e in _runs(events, job, kind) if e["run"]["runId"] == str(uuid.UUID(run.id))]
    return found


def test_the_ndjson_holds_one_event_a_line_as_the_objects_serialise(seeded: Seeded) -> None:
    assert seeded.events == [Serde.to_dict(event) for event in seeded.objects]
    kinds = [e.get("eventType", "DATASET") for e in seeded.events]
    assert kinds.count("DATASET") == 2  # the two versions
    assert kinds.count("FAIL") == 1
    assert kinds.count("RUNNING") == 1  # the model logged


def test_each_run_is_a_run_of_its_experiments_job_with_its_times_and_a_stable_id(
    seeded: Seeded,
) -> None:
    fit = seeded.fit
    start = _one(seeded.events, "delay", "START", fit)
    complete = _one(seeded.events, "delay", "COMPLETE", fit)
    assert start["eventTime"] == fit.started_at.isoformat()
    assert fit.ended_at is not None and complete["eventTime"] == fit.ended_at.isoformat()
    assert uuid.UUID(start["run"]["runId"]).hex == fit.id  # leads back to the prodml run
    namespace = start["job"]["namespace"]
    assert namespace == f"sqlite:///{seeded.home / 'prodml.db'}"
    tags = {t["key"]: t["value"] for t in start["run"]["facets"]["tags"]["tags"]}
    assert tags["prodml.run_id"] == fit.id and tags["prodml.author"] == "dana"
    again = prodml.openlineage_events(client=seeded.client)
    assert [Serde.to_dict(e) for e in again] == seeded.events  # the same every time


def test_a_failed_run_ends_with_fail_and_its_error(seeded: Seeded) -> None:
    fail = _one(seeded.events, "delay", "FAIL", seeded.failed)
    assert seeded.failed.ended_at is not None
    assert fail["eventTime"] == seeded.failed.ended_at.isoformat()
    assert "the fares ran out" in fail["run"]["facets"]["errorMessage"]["message"]
    assert fail["run"]["facets"]["errorMessage"]["programmingLanguage"] == "PYTHON"


def test_the_input_is_the_dataset_version_with_schema_and_quality_from_its_profile(
    seeded: Seeded,
) -> None:
    start = _one(seeded.events, "delay", "START", seeded.fit)
    (read,) = start["inputs"]
    assert read["name"] == "flights@2" and read["namespace"] == start["job"]["namespace"]
    facets = read["facets"]
    fields = [(f["name"], f["type"], f["ordinal_position"]) for f in facets["schema"]["fields"]]
    assert fields == [("fare", "double", 1), ("city", "large_string", 2)]
    version = prodml.get_dataset("flights@2", client=seeded.client)
    assert facets["version"]["datasetVersion"] == version.id
    metrics = read["inputFacets"]["dataQualityMetrics"]
    assert metrics["rowCount"] == 4
    assert metrics["columnMetrics"]["fare"]["nullCount"] == 0
    assert metrics["columnMetrics"]["fare"]["distinctCount"] == 4
    assert metrics["columnMetrics"]["fare"]["max"] == 1e6
    assert metrics["columnMetrics"]["city"]["distinctCount"] == 3


def test_a_version_logged_is_a_dataset_event_with_its_null_and_distinct_counts(
    seeded: Seeded,
) -> None:
    (first,) = [e for e in seeded.events if e.get("dataset", {}).get("name") == "flights@1"]
    version = prodml.get_dataset("flights@1", client=seeded.client)
    assert first["eventTime"] == version.created_at.isoformat()
    columns = first["dataset"]["facets"]["dataQualityMetrics"]["columnMetrics"]
    assert columns["fare"]["nullCount"] == 1 and columns["fare"]["distinctCount"] == 2
    assert columns["city"]["nullCount"] == 1 and columns["city"]["distinctCount"] == 2


def test_the_validation_is_a_run_of_validate_with_each_check_and_whether_it_passed(
    seeded: Seeded,
) -> None:
    recorded = seeded.client.metadata.latest_validation(
        prodml.get_dataset("flights@2", client=seeded.client).id
    )
    assert recorded is not None and recorded.result["findings"]
    (start,) = _runs(seeded.events, "validate", "START")
    (complete,) = _runs(seeded.events, "validate", "COMPLETE")
    assert start["run"]["runId"] == complete["run"]["runId"] == str(uuid.UUID(recorded.id))
    assert complete["eventTime"] == recorded.created_at.isoformat()
    (checked,) = complete["inputs"]
    assertions = checked["inputFacets"]["dataQualityAssertions"]["assertions"]
    findings = recorded.result["findings"]
    assert [(a["assertion"], a.get("column"), a["success"]) for a in assertions[:-1]] == [
        (f["statistic"], f["column"], False) for f in findings
    ]
    whole = assertions[-1]
    assert whole["assertion"] == "validation" and whole["success"] is False
    assert whole["params"]["tests"] == recorded.result["tests"]
    # the run that read the version knew of the validation too
    read = _one(seeded.events, "delay", "START", seeded.fit)["inputs"][0]
    assert read["inputFacets"]["dataQualityAssertions"]["assertions"] == assertions


def test_the_model_is_an_output_of_the_run_that_logged_it(seeded: Seeded) -> None:
    model = seeded.model
    running = _one(seeded.events, "delay", "RUNNING", seeded.fit)
    complete = _one(seeded.events, "delay", "COMPLETE", seeded.fit)
    assert running["eventTime"] == model.created_at.isoformat()
    for event in (running, complete):
        (output,) = event["outputs"]
        assert output["name"] == "model:delay-model@1"
        assert output["facets"]["version"]["datasetVersion"] == model.digest
        assert output["facets"]["datasetType"]["datasetType"] == "MODEL"
    assert _one(seeded.events, "delay", "START", seeded.fit)["outputs"] == []


def test_a_run_tagged_with_its_parent_names_it_in_a_parent_facet(seeded: Seeded) -> None:
    start = _one(seeded.events, "delay-child", "START", seeded.child)
    parent = start["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == str(uuid.UUID(seeded.fit.id))
    assert parent["job"]["namespace"] == start["job"]["namespace"]
    assert parent["job"]["name"] == "delay"
    assert "parent" not in _one(seeded.events, "delay", "START", seeded.fit)["run"]["facets"]


def _validate(value: Any) -> None:
    """Run every attrs validator of the event and of everything in it."""
    if attr.has(type(value)):
        attr.validate(value)
        for field in attr.fields(type(value)):
            _validate(getattr(value, field.name))
    elif isinstance(value, list | tuple):
        for item in value:
            _validate(item)
    elif isinstance(value, dict):
        for item in value.values():
            _validate(item)


def _facets_have_producer_and_schema(facets: dict[str, Any]) -> None:
    for name, facet in facets.items():
        assert facet["_producer"] == f"urn:prodml:{prodml.__version__}", name
        assert facet["_schemaURL"].startswith("https://openlineage.io/spec/"), name


def test_every_event_passes_the_clients_validators_and_has_the_fields_the_spec_requires(
    seeded: Seeded,
) -> None:
    for event, doc in zip(seeded.objects, seeded.events, strict=True):
        _validate(event)
        assert {"eventTime", "producer", "schemaURL"} <= set(doc)
        if isinstance(event, RunEvent):
            assert doc["schemaURL"].endswith("#/$defs/RunEvent")
            assert doc["eventType"] in ("START", "RUNNING", "COMPLETE", "FAIL")
            uuid.UUID(doc["run"]["runId"])
            assert doc["job"]["namespace"] and doc["job"]["name"]
            _facets_have_producer_and_schema(doc["run"].get("facets", {}))
            _facets_have_producer_and_schema(doc["job"].get("facets", {}))
            for dataset in doc["inputs"] + doc["outputs"]:
                assert dataset["namespace"] and dataset["name"]
                _facets_have_producer_and_schema(dataset.get("facets", {}))
                _facets_have_producer_and_schema(dataset.get("inputFacets", {}))
        else:
            assert isinstance(event, DatasetEvent)
            assert doc["schemaURL"].endswith("#/$defs/DatasetEvent")
            assert doc["dataset"]["namespace"] and doc["dataset"]["name"]
            _facets_have_producer_and_schema(doc["dataset"]["facets"])


def test_since_keeps_what_happened_from_then_on(seeded: Seeded) -> None:
    later = prodml.openlineage_events(since=seeded.failed.started_at, client=seeded.client)
    found = [Serde.to_dict(event) for event in later]
    assert [(e["job"]["name"], e["eventType"]) for e in found] == [
        ("delay", "START"),
        ("delay", "FAIL"),
        ("delay-child", "START"),
        ("delay-child", "COMPLETE"),
    ]


def test_the_command_writes_the_events_and_says_how_many_of_each_kind(seeded: Seeded) -> None:
    script = Path(sys.executable).parent / "prodml"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "prodml.cli.main"]
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    out = seeded.home.parent / "cli.ndjson"
    result = subprocess.run(
        [*command, "lineage", "export", "--openlineage", "--output", str(out)],
        env={**kept, "PRODML_HOME": str(seeded.home), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert [json.loads(line) for line in out.read_text().splitlines()] == seeded.events
    assert "Wrote 11 OpenLineage events" in result.stderr
    assert "2 DATASET" in result.stderr and "1 FAIL" in result.stderr
    unsaid = subprocess.run(
        [*command, "lineage", "export"],
        env={**kept, "PRODML_HOME": str(seeded.home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert unsaid.returncode == 1 and "--openlineage" in unsaid.stderr


def test_without_the_client_library_the_error_says_what_to_install(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['openlineage'] = None  # as if openlineage-python were not installed\n"
        "import prodml\n"
        "try:\n"
        "    prodml.export_openlineage()\n"
        "except prodml.ProdmlError as error:\n"
        "    print(error)\n"
    )
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**kept, "PRODML_HOME": str(tmp_path / ".prodml")},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "pip install 'prodml[openlineage]'" in result.stdout
