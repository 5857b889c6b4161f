"""OpenLineage events from the store: each entry of prodml's event log that OpenLineage
has a word for becomes one or more events, read through the store's own methods.

The same translation serves the export (every entry since a time) and the emitter
(each entry as it is committed), so the two always send the same events:

=====================  ===========================================================
``run.started``        START of the run, its input dataset versions with their facets
``run.imported``       START and, when it has ended, COMPLETE or FAIL of a run brought in
``run.finished``       COMPLETE, at the run's end, with its inputs and the models it logged
``run.failed``         FAIL, at the run's end, with the error
``model.logged``       RUNNING of the run that logged it, the model version as output
``dataset.logged``     the dataset version's own event, with its facets
``dataset.validated``  START and COMPLETE of the job ``validate``, the version as input
                       with the data-quality assertions
=====================  ===========================================================
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from openlineage.client.event_v2 import RunState

from prodml.client import Client
from prodml.domain.artifact import ModelVersion
from prodml.domain.dataset import DatasetKind, DatasetVersion
from prodml.domain.lineage import Event
from prodml.domain.run import Run
from prodml.domain.validation import ValidationRecord
from prodml.errors import NotFoundError
from prodml.interop import openlineage as build
from prodml.interop.openlineage import ColumnQuality, DatasetFacts, OpenLineageEvent

ACTIONS = (
    "run.imported",
    "run.started",
    "run.finished",
    "run.failed",
    "model.logged",
    "dataset.logged",
    "dataset.validated",
)
PARENT_TAG = "parent_run"  # a run tagged parent_run=RUN_ID names its parent


class Source:
    """Reads what each event needs; a dataset version's profile is read once."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.store = client.metadata.describe()
        self._quality: dict[str, dict[str, ColumnQuality]] = {}

    def translate(self, event: Event) -> list[OpenLineageEvent]:
        """The OpenLineage events of one entry of the event log (none for the entries
        OpenLineage has no word for)."""
        action = event.action
        if action == "run.imported":  # its start and, once ended, its end
            run = self.client.metadata.get_run(event.subject_id)
            state = build.end_state(run)
            states = [build.START] if state is None else [build.START, state]
            return [self._run(run, each) for each in states]
        if action == "run.started":
            return [self._run(self.client.metadata.get_run(event.subject_id), build.START)]
        if action in ("run.finished", "run.failed"):
            run = self.client.metadata.get_run(event.subject_id)
            state = build.end_state(run)
            return [self._run(run, state)] if state is not None else []
        if action == "model.logged":
            return [self._model(self.client.metadata.get_model_by_id(event.subject_id))]
        if action == "dataset.logged":
            version = self._version(event)
            return [build.dataset_event(self.store, self.facts(version, None))]
        if action == "dataset.validated":
            version = self._version(event)
            validation = self._validation(event, version)
            return build.validation_events(self.store, self.facts(version, None, validation))
        return []

    def _run(self, run: Run, state: RunState) -> OpenLineageEvent:
        start = state is build.START
        models = () if start else tuple(self.client.metadata.models_of_run(run.id))
        return build.run_event(
            self.store,
            run,
            state,
            inputs=[self.facts(version, run.started_at) for version in self._inputs(run)],
            models=models,
            parent=self._parent(run),
        )

    def _model(self, model: ModelVersion) -> OpenLineageEvent:
        run = self.client.metadata.get_run(model.run_id)
        return build.run_event(
            self.store,
            run,
            build.RUNNING,
            models=[model],
            parent=self._parent(run),
            at=model.created_at,
        )

    def _inputs(self, run: Run) -> list[DatasetVersion]:
        store = self.client.metadata
        return [
            version for digest in run.inputs for version in store.dataset_versions_by_digest(digest)
        ]

    def _parent(self, run: Run) -> Run | None:
        ident = run.tags.get(PARENT_TAG)
        if not ident:
            return None
        with contextlib.suppress(NotFoundError):
            return self.client.metadata.get_run(ident)
        return None

    def _version(self, event: Event) -> DatasetVersion:
        """The version an entry names (one content can be logged under several names)."""
        versions = self.client.metadata.dataset_versions_by_digest(event.subject_id)
        details = event.details
        named = f"{details.get('name')}@{details.get('version')}"
        for version in versions:
            if version.ref in (named, details.get("subject")):
                return version
        if not versions:
            raise NotFoundError(f"No dataset version {event.subject_id[:12]} in this store.")
        return versions[0]

    def _validation(self, event: Event, version: DatasetVersion) -> ValidationRecord:
        """The validation an entry records: the stored one while it is the latest of the
        version; an earlier one from what the entry says of it (alarm, blocked, how many
        findings: the store keeps the findings of the latest)."""
        details = event.details
        latest = self.client.metadata.latest_validation(version.id)
        if latest is not None and latest.id == details.get("validation"):
            return latest
        return ValidationRecord(
            id=str(details.get("validation", "")),
            version_id=version.id,
            subject=str(details.get("subject", version.ref)),
            against=str(details.get("against", "")),
            alarm=bool(details.get("alarm")),
            blocked=bool(details.get("blocked")),
            result={"findings": [], "finding_count": details.get("findings", 0)},
            author=event.actor,
            created_at=event.at,
        )

    def facts(
        self,
        version: DatasetVersion,
        at: datetime | None,
        validation: ValidationRecord | None = None,
    ) -> DatasetFacts:
        """The version with its column quality and, for a run's input (``at`` is the
        run's start), the latest validation recorded by then."""
        if validation is None and at is not None:
            latest = self.client.metadata.latest_validation(version.id)
            validation = latest if latest is not None and latest.created_at <= at else None
        return DatasetFacts(version=version, columns=self._columns(version), validation=validation)

    def _columns(self, version: DatasetVersion) -> dict[str, ColumnQuality]:
        """Kept once read from a profile; the summary stands in until the profile is
        stored (a version is logged a moment before its profile)."""
        if version.id not in self._quality:
            profiled = self._profiled(version)
            if profiled is None:
                return _summarised(version)
            self._quality[version.id] = profiled
        return self._quality[version.id]

    def _profiled(self, version: DatasetVersion) -> dict[str, ColumnQuality] | None:
        """From the stored profile, when the version has one (none is made here)."""
        if version.kind is not DatasetKind.TABLE:
            return None
        if self.client.metadata.profile_blob(version.id) is None:
            return None
        from prodml.data.stored_profiles import profiles_of

        profile = profiles_of(self.client, version)[0]
        return {
            name: ColumnQuality(
                nulls=column.nulls,
                distinct=round(column.distinct),
                count=column.rows - column.nulls,
                minimum=_number(column.minimum),
                maximum=_number(column.maximum),
            )
            for name, column in profile.columns.items()
        }


def _summarised(version: DatasetVersion) -> dict[str, ColumnQuality]:
    """From the summary kept with every table version."""
    rows = version.num_rows
    return {
        column.name: ColumnQuality(
            nulls=column.nulls,
            distinct=column.distinct,
            count=None if rows is None else rows - column.nulls,
            minimum=_number(column.min),
            maximum=_number(column.max),
        )
        for column in version.columns
    }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def export(client: Client, since: datetime | None = None) -> list[OpenLineageEvent]:
    """Every event since ``since`` (all of them without), oldest first."""
    source = Source(client)
    found: list[OpenLineageEvent] = []
    for event in client.metadata.list_events(since=since, actions=ACTIONS):
        with contextlib.suppress(NotFoundError):  # an object removed since
            found.extend(source.translate(event))
    return found
