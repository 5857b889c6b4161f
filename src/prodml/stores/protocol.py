"""The metadata store as the rest of prodml sees it: domain records in and out.

:class:`MetadataStore` lists every method the packages above the stores may call;
the SQL store (:class:`prodml.stores.metadata.SqlMetadataStore`, on SQLite or
PostgreSQL) is the one implementation, and the contract suite in ``tests/stores``
runs against this protocol on both databases. No method takes or returns a row for
the caller to interpret: free-form JSON appears only as event details going in and
as typed attributes of records (an alert's context, a suite's document)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol

from prodml.domain.artifact import Artifact, ModelVersion
from prodml.domain.dataset import DatasetVersion, FileEntry
from prodml.domain.evaluation import EvaluationRecord, SuiteRecord
from prodml.domain.hosts import Fence
from prodml.domain.lineage import Event
from prodml.domain.monitoring import Alert, AlertState, Incident, Window
from prodml.domain.registry import AliasChange, AliasMove, RegisteredModel, Tag
from prodml.domain.rollout import Plan, Rollout
from prodml.domain.run import MetricPoint, Run, RunStatus
from prodml.domain.run_query import RunQuery
from prodml.domain.validation import ValidationRecord
from prodml.stores.protocol_hosts import HostStore
from prodml.stores.protocol_steps import StepStore
from prodml.stores.protocol_tokens import TokenStore

NodeRef = tuple[str, str]  # (kind, id) of a node of the lineage graph
MetricRow = tuple[str, str, int, float, float]  # run id, key, step, value, at
Finish = tuple[str, RunStatus, float, str | None]  # run id, status, ended at, error
Links = Sequence[tuple[NodeRef, str]]  # edges into a node: (source, relation)


class MetadataStore(HostStore, StepStore, TokenStore, Protocol):
    """Every object, link and event of the loop."""

    user: str  # who this store's changes are recorded as

    # sql_run_search
    def search_runs(self, query: RunQuery) -> tuple[list[Run], int]:
        """The runs of one page of ``query`` in its order, and how many match in all."""

    def list_runs(
        self,
        experiment: str | None = None,
        limit: int | None = None,
        ids: Iterable[str] | None = None,
    ) -> list[Run]:
        """Runs as :meth:`RunQueries.list_runs` reads them, with their tags."""

    def set_run_tags(
        self,
        run_id: str,
        tags: Mapping[str, str],
        links: Sequence[tuple[tuple[str, str], str]] = (),
    ) -> None:
        """Set (or replace) tags of a run, with one event naming them, and add lineage
        edges into it (``links``: source node and relation)."""

    def run_tags(self, run_ids: Sequence[str]) -> dict[str, dict[str, str]]: ...

    # sql_runs
    def insert_run(
        self, run: Run, inputs: Sequence[str], code: Artifact | None = None, links: Links = ()
    ) -> None:
        """Store a started run with its inputs, code state, tags and ``links`` (lineage
        edges into it: its parent's), in one transaction."""

    def write_batch(
        self,
        params: Sequence[tuple[str, str, str]],
        points: Sequence[MetricRow],
        finish: Finish | None = None,
    ) -> None:
        """Store buffered params and metric points of any runs, and optionally the
        end of a run, in one transaction."""

    def import_runs(
        self,
        runs: Sequence[Run],
        points: Sequence[MetricRow],
        artifacts: Sequence[Artifact],
        source: str,
    ) -> None:
        """Store runs recorded elsewhere, in one transaction: each with its own times, status,
        error, params and tags, its metric history (``points``) and its ``artifacts``. A run
        already stored under its id is brought up to date: its status, end and error set,
        params it lacks added, its tags and its metric history replaced by those given."""

    def finish_run(
        self, run_id: str, status: RunStatus, ended_at: float, error: str | None = None
    ) -> None: ...

    def resolve_run(self, prefix: str) -> str: ...

    def get_run(self, prefix: str) -> Run: ...

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]: ...

    def count_metric_points(self, run_id: str) -> int: ...

    # sql_datasets
    def add_dataset_version(
        self,
        version: DatasetVersion,
        blob: str | None,
        files: list[FileEntry],
        sources: Sequence[tuple[NodeRef, str]] = (),
    ) -> tuple[DatasetVersion, bool]:
        """Store a version unless the same content is already under this name; link
        each ``(node, relation)`` of ``sources`` to it (also when it was there)."""

    def get_dataset_version(self, name: str, version: str | None = None) -> DatasetVersion:
        """``version`` is a number, ``latest`` (or None), or a digest prefix."""

    def dataset_versions_by_digest(self, digest_prefix: str) -> list[DatasetVersion]: ...

    def list_dataset_versions(self, name: str | None = None) -> list[DatasetVersion]: ...

    def dataset_blob(self, version: DatasetVersion) -> str | None: ...

    def dataset_files(self, digest: str) -> list[FileEntry]: ...

    def stored_files(self, digests: list[str]) -> dict[str, FileEntry]:
        """Where files with these digests are already stored (by any dataset version)."""

    # sql_artifacts
    def add_artifact(self, artifact: Artifact) -> None: ...

    def list_artifacts(self, owner_kind: str, owner_id: str) -> list[Artifact]: ...

    def get_artifact(self, artifact_id: str) -> Artifact: ...

    def add_model_version(self, model: ModelVersion) -> ModelVersion:
        """Store a model under the next version of its name, linked to its run."""

    def import_model_versions(
        self, models: Sequence[ModelVersion], tags: Mapping[str, Mapping[str, str]], source: str
    ) -> None:
        """Store model versions recorded elsewhere under their own ids, numbers and times,
        each linked to its run, and set the ``tags`` given by model id, in one transaction.
        A version already stored under its id only has its tags set; a number another
        version of the name already holds is refused, naming it."""

    def get_model_version(self, name: str, version: str | None = None) -> ModelVersion: ...

    def models_of_run(self, run_id: str) -> list[ModelVersion]: ...

    def get_model_by_id(self, model_id: str) -> ModelVersion: ...

    def referenced_digests(self) -> set[str]:
        """Every blob digest that some stored object refers to."""

    def referenced_among(self, digests: Collection[str]) -> set[str]:
        """Those of ``digests`` that some stored object refers to now."""

    def references(self, digest: str) -> list[str]:
        """Human names of the objects that refer to a blob, for error messages."""

    # sql_profiles
    def put_profile(self, version_id: str, partition_by: str, blob: str, partitions: int) -> None:
        """Record the blob holding a version's profile (or its partitions' profiles)."""

    def profile_blob(self, version_id: str, partition_by: str = "") -> str | None: ...

    def add_validation(
        self,
        validation_id: str,
        version_id: str | None,
        subject: str,
        against: str,
        result: Mapping[str, Any],
    ) -> None:
        """Store a validation result; one of a logged version is also an event."""

    def latest_validation(self, version_id: str) -> ValidationRecord | None:
        """The newest stored validation of a dataset version, as stored."""

    # sql_rollouts
    def add_rollout(
        self,
        *,
        rollout_id: str,
        model: str,
        candidate: int,
        baseline: int,
        plan: Plan,
        reason: str | None,
        details: Mapping[str, object],
    ) -> Rollout:
        """Start a rollout at its first step; refused while another rollout of the model
        is active."""

    def rollout(self, rollout_id: str) -> Rollout: ...

    def rollouts(self, name: str | None = None, active: bool = False) -> list[Rollout]:
        """Rollouts, newest first: of one model, or only those running or paused."""

    def update_rollout(
        self,
        rollout: Rollout,
        *,
        action: str,
        reason: str | None,
        details: Mapping[str, object],
        state: str | None = None,
        step: int | None = None,
        move: AliasChange | None = None,
        fence: Fence | None = None,
    ) -> Rollout:
        """Set the rollout's ``state`` and ``step`` if it is still where ``rollout`` saw it
        (its state and step); with ``move``, move an alias in the same transaction; with
        ``fence``, only while that lease is still the token's."""

    def routing_stamp(self) -> tuple[int, ...]:
        """Changes whenever any alias moves, any rollout changes or guardrails are attached,
        whatever the writers' clocks say: one indexed read, cheap to poll."""

    # sql_registry
    def move_alias(
        self,
        name: str,
        alias: str,
        version: int | None,
        model_id: str,
        reason: str | None = None,
        forced: bool = False,
        evaluation_id: str | None = None,
        verdict: str | None = None,
        expected: int | Literal["any"] | None = "any",
    ) -> AliasMove:
        """Point ``alias`` of ``name`` at ``version`` (None removes it), as one record and
        one event in the same transaction. With ``expected``, refuse if the alias no
        longer points where it did when the move was decided (say, by a gate)."""

    def alias_version(self, name: str, alias: str, as_of: float | None = None) -> int | None: ...

    def aliases(self, name: str, as_of: float | None = None) -> dict[str, int]:
        """Every alias of ``name`` and its version, now or at ``as_of``."""

    def alias_moves(
        self, name: str | None = None, until: float | None = None
    ) -> list[AliasMove]: ...

    def set_protected(self, name: str, alias: str, protected: bool) -> None: ...

    def protected(self, name: str) -> frozenset[str]: ...

    def set_tag(self, model_id: str, key: str, value: str) -> None: ...

    def tags(self, model_id: str) -> list[Tag]: ...

    def registered_models(self) -> list[RegisteredModel]: ...

    # sql_evaluations
    def add_suite(self, name: str, document: Mapping[str, object]) -> int:
        """Store ``document`` as the next suite version of model ``name``; the same
        document as the latest is not stored again."""

    def get_suite(self, name: str, version: int | None = None) -> SuiteRecord:
        """One version of the suite of model ``name`` (the latest by default)."""

    def add_evaluation(
        self,
        evaluation_id: str,
        model_id: str,
        suite_version: int,
        result: Mapping[str, Any],
        datasets: list[str],
        baseline_id: str | None = None,
        verdict: str | None = None,
    ) -> None:
        """Store an evaluation, linked to its model version and the dataset versions used."""

    def gate_verdict(self, candidate_id: str, baseline_id: str) -> tuple[str, str | None] | None:
        """(evaluation id, verdict) of the latest comparison of one model version against
        another, or None when they were never compared."""

    def evaluations(
        self, model_id: str | None = None, evaluation_id: str | None = None
    ) -> list[EvaluationRecord]:
        """Stored results, newest first: of one model version, or the one with an id prefix."""

    def add_guardrails(self, model_id: str, artifact_id: str) -> int: ...

    def guardrails_artifact(
        self, model_id: str, version: int | None = None
    ) -> tuple[int, str] | None:
        """(version, artifact id) of a model version's guardrails: the latest by default."""

    # sql_lineage
    def neighbours(
        self, node: NodeRef, upstream: bool, as_of: datetime | None = None
    ) -> list[tuple[NodeRef, str]]:
        """The nodes one edge away: what fed ``node`` (upstream) or what it fed."""

    def list_events(
        self,
        subject: NodeRef | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        actions: Sequence[str] = (),
        newest_first: bool = False,
    ) -> list[Event]: ...

    def record_event(
        self,
        action: str,
        subject: NodeRef,
        reason: str | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None: ...

    # sql_monitors
    def set_monitor(self, model: str, spec: str) -> None:
        """Declare (or replace) the monitor of ``model``: its spec as JSON text."""

    def monitor_specs(self, model: str | None = None) -> dict[str, str]:
        """The spec (JSON text) of each monitor, by model name."""

    def add_window(self, window: Window) -> bool:
        """Store one evaluated window; False when another process stored it first."""

    def last_window(self, model: str, kind: str) -> float | None:
        """The start of the newest evaluated window of this kind."""

    def windows(
        self,
        model: str,
        kind: str,
        before: float | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[Window]:
        """Evaluated windows, newest first, each with the state of the alert it raised."""

    def mark_windows(self, model: str, kind: str, starts: list[float], alert_id: str) -> None: ...

    # sql_alerts
    def add_alert(self, alert: Alert, signals_found: int) -> Alert:
        """Store a new alert and return it as stored; ``signals_found`` counts every
        signal that raised it (the alert keeps the gravest of them)."""

    def update_alert(self, alert: Alert) -> Alert:
        """Store what later windows folded into ``alert``: its signals, the windows it
        covers, its class, severity and title (decisions on it are left as they are).
        Returns it as stored."""

    def alert(self, alert_id: str) -> Alert: ...

    def alerts(
        self,
        model: str | None = None,
        states: tuple[str, ...] = (),
        since: float | None = None,
        until: float | None = None,
        limit: int | None = None,
        ids: Sequence[str] = (),
    ) -> list[Alert]:
        """Alerts whose windows end at or after ``since`` (and start before ``until``),
        newest first; with ``ids``, only those (one query for an incident's alerts)."""

    def decide_alert(self, alert_id: str, state: AlertState, why: str) -> Alert: ...

    def add_incident(self, incident: Incident) -> None:
        """Store a new incident; its alerts now belong to it."""

    def incident(self, incident_id: str) -> Incident: ...

    def incidents(
        self, model: str | None = None, state: str | None = None, since: float | None = None
    ) -> list[Incident]: ...

    def close_incident(self, incident_id: str, resolution: str) -> Incident: ...

    # sql_model_versions
    def model_versions(
        self, name: str, limit: int = 100, before: int | None = None
    ) -> list[ModelVersion]:
        """Versions of ``name``, newest first: at most ``limit``, older than ``before``."""

    # sql_base
    def describe(self) -> str: ...

    @property
    def dialect(self) -> str: ...

    def close(self) -> None: ...

    def ids_with_prefix(self, prefix: str, hint: str) -> list[NodeRef]: ...

    def after_fork(self) -> None: ...
