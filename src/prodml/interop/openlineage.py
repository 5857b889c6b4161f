"""OpenLineage events for prodml's records, built with the ``openlineage-python``
client's classes, whose validators check each field as it is set.

How prodml reads in OpenLineage's terms:

- A **job** is an experiment; each prodml run is one of its runs. The job's
  namespace is the store's (its URL without driver or password). A run's
  ``runId`` is its prodml id read as a UUID (prodml ids are 32 hex digits), so the
  same run always has the same ``runId`` and the ``runId`` leads back to it. A
  run's events are START (its start time), RUNNING when it logs a model, and
  COMPLETE or FAIL (its end time, FAIL with the error). A run tagged
  ``parent_run=RUN_ID`` names that run in a parent facet.
- A **dataset** is a dataset version, named ``NAME@VERSION`` in the store's
  namespace, with its schema (columns and types), its content digest as the version,
  data-quality metrics (rows, and per column nulls, distinct values, numeric min and
  max from the stored profile) and, once validated, data-quality assertions: each
  finding a failed check, and the validation as a whole.
- A **model version** is an output dataset of the run that logged it, named
  ``model:NAME@VERSION`` (prodml's own way to say "the model" where a dataset has the
  same name).
- A **validation** of a dataset version is a run of the job ``validate``: START and
  COMPLETE at the time it was recorded, with the version as input.

This module only builds; :mod:`prodml.interop.openlineage_source` reads the records
and :mod:`prodml.interop.openlineage_emitter` sends events as they happen. The
client library is imported by these modules alone, and they only by the SDK's
functions that need them, so no command that does not use OpenLineage loads it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openlineage.client.event_v2 import (
    DatasetEvent,
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
    StaticDataset,
)
from openlineage.client.facet_v2 import (
    DatasetFacet,
    InputDatasetFacet,
    JobFacet,
    RunFacet,
    data_quality_assertions_dataset,
    data_quality_metrics_dataset,
    data_quality_metrics_input_dataset,
    dataset_type_dataset,
    dataset_version_dataset,
    error_message_run,
    job_type_job,
    parent_run,
    processing_engine_run,
    schema_dataset,
    tags_run,
)

from prodml.domain.artifact import ModelVersion
from prodml.domain.dataset import DatasetVersion
from prodml.domain.run import Run as ProdmlRun
from prodml.domain.run import RunStatus
from prodml.domain.validation import ValidationRecord

PRODUCER = "urn:prodml"  # the version follows: urn:prodml:0.1.0
VALIDATE_JOB = "validate"
_RUN_IDS = uuid.UUID("9a6f3a52-4c1e-4a55-9d83-5b7e0f0c2d10")  # names ids that are not hex

OpenLineageEvent = RunEvent | DatasetEvent
START, RUNNING = RunState.START, RunState.RUNNING


@dataclass(frozen=True, kw_only=True)
class ColumnQuality:
    """What the stored profile (or the version's summary) says of one column."""

    nulls: int | None = None
    distinct: int | None = None
    count: int | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True, kw_only=True)
class DatasetFacts:
    """A dataset version with what is known of it when an event is built."""

    version: DatasetVersion
    columns: Mapping[str, ColumnQuality]
    validation: ValidationRecord | None = None


def producer() -> str:
    from prodml import __version__

    return f"{PRODUCER}:{__version__}"


def run_uuid(run_id: str) -> str:
    """The ``runId`` of a prodml run: its 32-hex id read as a UUID; any other id gets
    a name-based UUID of its own (the same every time)."""
    try:
        return str(uuid.UUID(hex=run_id))
    except ValueError:
        return str(uuid.uuid5(_RUN_IDS, run_id))


def namespace(store: str) -> str:
    """The store's URL without its driver or credentials: ``sqlite:////data/prodml.db``,
    ``postgresql://db.example.com:5432/ml``."""
    scheme, found, rest = store.partition("://")
    if not found:
        return store
    authority, slash, path = rest.partition("/")
    return f"{scheme.split('+')[0]}://{authority.rpartition('@')[2]}{slash}{path}"


def model_name(model: ModelVersion) -> str:
    return f"model:{model.ref}"


def _time(moment: datetime) -> str:
    return moment.isoformat()


def _schema(version: DatasetVersion) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[
            schema_dataset.SchemaDatasetFacetFields(name=name, type=kind, ordinal_position=place)
            for place, (name, kind) in enumerate(version.schema.items(), start=1)
        ],
        producer=producer(),
    )


def dataset_facets(facts: DatasetFacts) -> dict[str, DatasetFacet]:
    """Schema, version (the content digest), kind and the data-quality metrics."""
    version = facts.version
    facets: dict[str, DatasetFacet] = {
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=version.id, producer=producer()
        ),
        "datasetType": dataset_type_dataset.DatasetTypeDatasetFacet(
            datasetType="TABLE" if version.kind.value == "table" else "FILE",
            subType="prodml dataset version",
            producer=producer(),
        ),
        "dataQualityMetrics": data_quality_metrics_dataset.DataQualityMetricsDatasetFacet(
            columnMetrics={
                name: data_quality_metrics_dataset.ColumnMetrics(**_metrics(quality))
                for name, quality in facts.columns.items()
            },
            rowCount=version.num_rows,
            bytes=version.num_bytes,
            fileCount=version.num_files,
            lastUpdated=_time(version.created_at),
            producer=producer(),
        ),
    }
    if version.schema:
        facets["schema"] = _schema(version)
    return facets


def _metrics(quality: ColumnQuality) -> dict[str, Any]:
    return {
        "nullCount": quality.nulls,
        "distinctCount": quality.distinct,
        "count": None if quality.count is None else float(quality.count),
        "min": quality.minimum,
        "max": quality.maximum,
    }


def input_facets(facts: DatasetFacts) -> dict[str, InputDatasetFacet]:
    """What a run reading the version knew of its quality: the metrics and, when it was
    validated, the assertions."""
    version = facts.version
    metrics = data_quality_metrics_input_dataset
    facets: dict[str, InputDatasetFacet] = {
        "dataQualityMetrics": metrics.DataQualityMetricsInputDatasetFacet(
            columnMetrics={
                name: metrics.ColumnMetrics(**_metrics(quality))
                for name, quality in facts.columns.items()
            },
            rowCount=version.num_rows,
            bytes=version.num_bytes,
            fileCount=version.num_files,
            producer=producer(),
        )
    }
    if facts.validation is not None:
        facets["dataQualityAssertions"] = assertions(facts.validation)
    return facets


def assertions(
    validation: ValidationRecord,
) -> data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet:
    """One failed assertion per finding (hard ones with severity ``error``, the others
    ``warn``), then the validation as a whole: passed unless it alarmed. The store keeps
    each finding and the number of checks, not the checks that passed one by one."""
    result = validation.result
    checks = [
        data_quality_assertions_dataset.Assertion(
            assertion=str(finding.get("statistic") or "check"),
            success=False,
            column=finding.get("column"),
            severity="error" if finding.get("kind") == "hard" else "warn",
            name=f"{finding.get('kind')} {finding.get('statistic')}",
            description=finding.get("message"),
            expected=_text(finding.get("expected")),
            actual=_text(finding.get("observed")),
        )
        for finding in result.get("findings", [])
    ]
    found = result.get("finding_count", len(checks))
    checks.append(
        data_quality_assertions_dataset.Assertion(
            assertion="validation",
            success=not validation.alarm,
            severity="error" if validation.blocked else "warn",
            name=f"validation {validation.id}",
            description=f"{validation.subject} against {validation.against}",
            expected="no findings",
            actual=f"{found} finding(s)",
            params={"tests": result.get("tests"), "blocked": validation.blocked},
        )
    )
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=checks, producer=producer()
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def input_dataset(store: str, facts: DatasetFacts) -> InputDataset:
    return InputDataset(
        namespace=namespace(store),
        name=facts.version.ref,
        facets=dataset_facets(facts),
        inputFacets=input_facets(facts),
    )


def model_dataset(store: str, model: ModelVersion) -> OutputDataset:
    return OutputDataset(
        namespace=namespace(store),
        name=model_name(model),
        facets={
            "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=model.digest, producer=producer()
            ),
            "datasetType": dataset_type_dataset.DatasetTypeDatasetFacet(
                datasetType="MODEL", subType=model.flavor, producer=producer()
            ),
        },
    )


def dataset_event(store: str, facts: DatasetFacts) -> DatasetEvent:
    """A version as logged: its facets, at the time it was logged. (Its validations
    are runs of the job ``validate``: assertions are a facet of a run's input.)"""
    version = facts.version
    return DatasetEvent(
        eventTime=_time(version.created_at),
        producer=producer(),
        dataset=StaticDataset(
            namespace=namespace(store), name=version.ref, facets=dataset_facets(facts)
        ),
    )


def _job(store: str, name: str, kind: str) -> Job:
    facets: dict[str, JobFacet] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="PRODML", jobType=kind, producer=producer()
        )
    }
    return Job(namespace=namespace(store), name=name, facets=facets)


def _run_facets(
    store: str, run: ProdmlRun, parent: ProdmlRun | None, error: str | None
) -> dict[str, RunFacet]:
    from prodml import __version__

    tags = {"prodml.run_id": run.id, "prodml.author": run.author, **run.tags}
    facets: dict[str, RunFacet] = {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            version=__version__, name="prodml", producer=producer()
        ),
        "tags": tags_run.TagsRunFacet(
            tags=[
                tags_run.TagsRunFacetFields(key=key, value=value, source="PRODML")
                for key, value in tags.items()
            ],
            producer=producer(),
        ),
    }
    if parent is not None:
        facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run_uuid(parent.id)),
            job=parent_run.Job(namespace=namespace(store), name=parent.experiment),
            producer=producer(),
        )
    if error is not None:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error, programmingLanguage="PYTHON", producer=producer()
        )
    return facets


def run_event(
    store: str,
    run: ProdmlRun,
    state: RunState,
    inputs: Iterable[DatasetFacts] = (),
    models: Sequence[ModelVersion] = (),
    parent: ProdmlRun | None = None,
    at: datetime | None = None,
) -> RunEvent:
    """An event of ``run``: START at its start, COMPLETE or FAIL at its end, RUNNING
    at ``at`` (when it logged a model)."""
    moment = at or (run.ended_at if state in (RunState.COMPLETE, RunState.FAIL) else run.started_at)
    error = (run.error or "failed") if state is RunState.FAIL else None
    return RunEvent(
        eventType=state,
        eventTime=_time(moment or run.started_at),
        producer=producer(),
        run=Run(runId=run_uuid(run.id), facets=_run_facets(store, run, parent, error)),
        job=_job(store, run.experiment, "EXPERIMENT"),
        inputs=[input_dataset(store, facts) for facts in inputs],
        outputs=[model_dataset(store, model) for model in models],
    )


def end_state(run: ProdmlRun) -> RunState | None:
    """COMPLETE or FAIL for an ended run; None while it runs."""
    if run.status is RunStatus.FINISHED:
        return RunState.COMPLETE
    if run.status is RunStatus.FAILED:
        return RunState.FAIL
    return None


def validation_events(store: str, facts: DatasetFacts) -> list[OpenLineageEvent]:
    """A recorded validation as a run of the job ``validate``: START and COMPLETE at the
    time it was recorded, the version as input with its assertions."""
    validation = facts.validation
    if validation is None:
        return []
    job = _job(store, VALIDATE_JOB, "VALIDATION")
    run = Run(runId=run_uuid(validation.id))
    return [
        RunEvent(
            eventType=state,
            eventTime=_time(validation.created_at),
            producer=producer(),
            run=run,
            job=job,
            inputs=[input_dataset(store, facts)],
        )
        for state in (RunState.START, RunState.COMPLETE)
    ]


def kind(event: OpenLineageEvent) -> str:
    """``START``, ``RUNNING``, ``COMPLETE``, ``FAIL`` for run events, ``DATASET`` for a
    dataset's own event."""
    if isinstance(event, RunEvent) and event.eventType is not None:
        return str(event.eventType.value)
    return "DATASET"
