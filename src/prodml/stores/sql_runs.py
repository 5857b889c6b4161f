"""Runs, params and metrics in the SQL store."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from prodml.domain.artifact import Artifact
from prodml.domain.ids import from_epoch
from prodml.domain.run import MetricPoint, Run, RunStatus
from prodml.errors import RowsRefusedError, StoreError
from prodml.stores import driver, schema
from prodml.stores.resolve import by_prefix
from prodml.stores.run_values import (
    INSERT_VALUE,
    config_rows,
    index_params,
    value_row,
)
from prodml.stores.sql_artifacts import ArtifactQueries
from prodml.stores.sql_base import INSERT_EVENT
from prodml.stores.sql_params import insert_params, prepare_params, store_params
from prodml.stores.upsert import upsert_latest

RUNS_HINT = "List runs: prodml runs list"
MetricRow = tuple[str, str, int, float, float]
Finish = tuple[str, RunStatus, float, str | None]


class RunQueries(ArtifactQueries):
    def insert_run(
        self,
        run: Run,
        inputs: Sequence[str],
        code: Artifact | None = None,
        links: Sequence[tuple[tuple[str, str], str]] = (),
    ) -> None:
        """Store a started run with its inputs, code state, tags and the runs it comes
        from (``links``: lineage edges into it, e.g. its parent's), in one transaction."""
        started = run.started_at.timestamp()
        config = json.dumps(run.config, default=str, sort_keys=True)
        row = (
            *(run.id, run.experiment, run.status.value, run.author, started, run.hypothesis),
            *(config, _environment_text(run.environment), run.git_commit),
        )
        values = config_rows(run.id, json.loads(config))
        tags = (value_row(run.id, "tag", key, value) for key, value in run.tags.items())
        values += [tag for tag in tags if tag]
        details = {"experiment": run.experiment, "inputs": list(inputs)}
        event = self._event_row("run.started", ("run", run.id), run.hypothesis, details, started)
        with self.write() as connection:
            driver.change(connection, _INSERT_STARTED, row)
            driver.execute_many(connection, INSERT_VALUE, values)
            for digest in dict.fromkeys(inputs):
                self.link(connection, ("dataset", digest), ("run", run.id), "input", started)
            for source, relation in links:
                self.link(connection, source, ("run", run.id), relation, started)
            if code is not None:
                self.insert_artifact(connection, code, "code")
            driver.change(connection, INSERT_EVENT, event)

    def write_batch(
        self,
        params: Sequence[tuple[str, str, str]],
        points: Sequence[MetricRow],
        finish: Finish | None = None,
    ) -> None:
        """Store buffered params and metric points of any runs, and optionally the
        end of a run, in one transaction. The rows are made before it begins. A run's
        end is final: a run that has ended already keeps its first end (a sweep that
        ended an interrupted trial's run as failed stays so when the trial's worker,
        stopped later, ends its open runs on its way out); its points are kept."""
        ending = self._ending(*finish) if finish is not None else None
        fresh = prepare_params(params)
        rows, latest = _point_rows(points), _latest(points)
        with self.write() as connection:
            if ending is not None and driver.change(connection, _UPDATE_ENDED, ending[0]):
                driver.change(connection, INSERT_EVENT, ending[1])
            store_params(connection, fresh)
            _insert_point_rows(connection, rows)
            upsert_latest(connection, latest)

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
        ids = [run.id for run in runs]
        with self.write() as connection:
            stored = _stored_ids(connection, ids)
            fresh = [run for run in runs if run.id not in stored]
            driver.execute_many(connection, _INSERT_RUN, [_run_row(run) for run in fresh])
            driver.execute_many(
                connection,
                "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ?",
                [(*_run_row(run)[6:9], run.id) for run in runs if run.id in stored],
            )
            _forget(connection, sorted(stored))
            rows = [(run.id, key, value) for run in fresh for key, value in run.params.items()]
            driver.execute_many(
                connection, "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)", rows
            )
            index_params(connection, rows)
            driver.execute_many(
                connection,
                INSERT_VALUE,
                [r for run in fresh for r in config_rows(run.id, run.config)],
            )
            insert_params(
                connection,
                [(run.id, k, v) for run in runs if run.id in stored for k, v in run.params.items()],
            )
            values = [value_row(run.id, "tag", k, v) for run in runs for k, v in run.tags.items()]
            driver.execute_many(
                connection, INSERT_VALUE, [row for row in values if row is not None]
            )
            if points:
                _insert_points(connection, points)
                upsert_latest(connection, _latest(points))
            for artifact in artifacts:
                self.insert_artifact(connection, artifact, "produced")
            driver.execute_many(
                connection, INSERT_EVENT, [_imported(run, self.user, source) for run in runs]
            )

    def finish_run(
        self, run_id: str, status: RunStatus, ended_at: float, error: str | None = None
    ) -> None:
        self.write_batch([], [], (run_id, status, ended_at, error))

    def _ending(
        self, run_id: str, status: RunStatus, ended_at: float, error: str | None
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """A run's end: the row's new columns and its event."""
        event = self._event_row(f"run.{status.value}", ("run", run_id), error, at=ended_at)
        return (status.value, ended_at, error, run_id), event

    def resolve_run(self, prefix: str) -> str:
        with self.read() as connection:
            return by_prefix(connection, schema.runs.c.id, prefix, "run", RUNS_HINT)

    def get_run(self, prefix: str) -> Run:
        run_id = self.resolve_run(prefix)
        return self.list_runs(ids=[run_id])[0]

    def list_runs(
        self,
        experiment: str | None = None,
        limit: int | None = None,
        ids: Iterable[str] | None = None,
    ) -> list[Run]:
        query = sa.select(schema.runs).order_by(schema.runs.c.started_at.desc())
        if experiment is not None:
            query = query.where(schema.runs.c.experiment == experiment)
        if ids is not None:
            query = query.where(schema.runs.c.id.in_(list(ids)))
        if limit is not None:
            query = query.limit(limit)
        with self.read() as connection:
            rows = connection.execute(query).all()
            found = [row.id for row in rows]
            params = _grouped(connection, schema.params, found, "value")
            latest = _grouped(connection, schema.latest_metrics, found, "value")
            inputs = self._inputs(connection, found)
        return [
            _run(row, params.get(row.id, {}), latest.get(row.id, {}), inputs.get(row.id, ()))
            for row in rows
        ]

    def _inputs(self, connection: sa.Connection, run_ids: list[str]) -> dict[str, tuple[str, ...]]:
        edges = schema.edges.c
        query = sa.select(edges.target_id, edges.source_id).where(
            edges.target_kind == "run", edges.source_kind == "dataset", edges.target_id.in_(run_ids)
        )
        found: dict[str, tuple[str, ...]] = {}
        for run_id, digest in connection.execute(query):
            found[run_id] = (*found.get(run_id, ()), digest)
        return found

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        metrics = schema.metrics.c
        query = (
            sa.select(metrics.key, metrics.value, metrics.step, metrics.ts)
            .where(metrics.run_id == run_id, metrics.key == key)
            .order_by(metrics.step, metrics.ts)
        )
        with self.read() as connection:
            return [
                MetricPoint(row.key, _null_to_nan(row.value), row.step, row.ts)
                for row in connection.execute(query)
            ]

    def count_metric_points(self, run_id: str) -> int:
        query = sa.select(sa.func.count()).where(schema.metrics.c.run_id == run_id)
        with self.read() as connection:
            return int(connection.execute(query).scalar_one())


def _point_rows(points: Sequence[MetricRow]) -> list[MetricRow | tuple[Any, ...]]:
    """Metric points as stored: NaN as NULL."""
    return [(r, k, s, None if v != v else v, t) for r, k, s, v, t in points]


def _insert_points(connection: sa.Connection, points: Sequence[MetricRow]) -> None:
    _insert_point_rows(connection, _point_rows(points))


def _insert_point_rows(connection: sa.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """The hot write: tuples straight to the driver (COPY for many on PostgreSQL)."""
    if not rows:
        return
    columns = "run_id, key, step, value, ts"
    if connection.dialect.name == "postgresql" and len(rows) >= _COPY_FROM:
        cursor = connection.connection.cursor()
        try:
            with cursor.copy(f"COPY metrics ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        except Exception as error:  # the driver's own errors: COPY bypasses SQLAlchemy
            kinds = {kind.__name__ for kind in type(error).__mro__}
            if kinds & {"OperationalError", "InterfaceError"}:  # worth retrying
                raise StoreError(f"Storing {len(rows)} metric points failed: {error}") from None
            raise RowsRefusedError(
                f"The store refused {len(rows)} metric points: {error}"
            ) from None
        return
    driver.execute_many(connection, f"INSERT INTO metrics ({columns}) VALUES (?, ?, ?, ?, ?)", rows)


def _latest(points: Sequence[MetricRow]) -> list[tuple[Any, ...]]:
    latest: dict[tuple[str, str], MetricRow] = {}
    for point in points:
        known = latest.get((point[0], point[1]))
        if known is None or (point[2], point[4]) >= (known[2], known[4]):
            latest[(point[0], point[1])] = point
    return [(r, k, s, _nan_to_null(v), t) for r, k, s, v, t in latest.values()]


def _grouped(
    connection: sa.Connection, table: sa.Table, run_ids: list[str], column: str
) -> dict[str, dict[str, Any]]:
    grouped: dict[str, dict[str, Any]] = {}
    query = sa.select(table.c.run_id, table.c.key, table.c[column]).where(
        table.c.run_id.in_(run_ids)
    )
    for run_id, key, value in connection.execute(query):
        grouped.setdefault(run_id, {})[key] = value
    return grouped


def _nan_to_null(value: float) -> float | None:
    return None if math.isnan(value) else value


def _null_to_nan(value: float | None) -> float:
    return math.nan if value is None else value


def _run(row: Any, params: dict[str, str], metrics: dict[str, Any], inputs: tuple[str, ...]) -> Run:
    return Run(
        id=row.id,
        experiment=row.experiment,
        status=RunStatus(row.status),
        author=row.author,
        started_at=from_epoch(row.started_at),
        ended_at=from_epoch(row.ended_at) if row.ended_at is not None else None,
        hypothesis=row.hypothesis,
        config=json.loads(row.config),
        environment=json.loads(row.environment),
        git_commit=row.git_commit,
        error=row.error,
        params=params,
        metrics={key: _null_to_nan(value) for key, value in metrics.items()},
        inputs=inputs,
    )


_INSERT_STARTED = (
    "INSERT INTO runs (id, experiment, status, author, started_at, hypothesis, config,"
    " environment, git_commit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_ENDED = (
    "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ? AND status = 'running'"
)
_INSERT_RUN = (
    "INSERT INTO runs (id, experiment, author, started_at, hypothesis, config, status, ended_at,"
    " error, environment, git_commit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_last_environment: tuple[object, str] = (None, "")


def _environment_text(environment: dict[str, Any]) -> str:
    """The environment as stored; every run of a process shares one environment record
    (see prodml.track.environment), so its text is made once."""
    global _last_environment
    known, text = _last_environment
    if known is not environment:
        text = json.dumps(environment, default=str, sort_keys=True)
        _last_environment = (environment, text)
    return text


_COPY_FROM = 1000  # points; fewer go in one pipelined INSERT, fewer round trips than COPY
_CHUNK = 500  # ids per IN list: well under every database's limit of bound values


def _run_row(run: Run) -> tuple[Any, ...]:
    """A run as the columns of ``_INSERT_RUN``; status, end and error are [6:9]."""
    return (
        run.id,
        run.experiment,
        run.author,
        run.started_at.timestamp(),
        run.hypothesis,
        json.dumps(run.config, default=str, sort_keys=True),
        run.status.value,
        run.ended_at.timestamp() if run.ended_at is not None else None,
        run.error,
        json.dumps(run.environment, default=str, sort_keys=True),
        run.git_commit,
    )


def _stored_ids(connection: sa.Connection, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        query = sa.select(schema.runs.c.id).where(schema.runs.c.id.in_(chunk))
        found.update(connection.execute(query).scalars())
    return found


def _forget(connection: sa.Connection, run_ids: Sequence[str]) -> None:
    """Delete the metric history and tags of runs about to be stored again."""
    for start in range(0, len(run_ids), _CHUNK):
        chunk = list(run_ids[start : start + _CHUNK])
        for table in (schema.metrics, schema.latest_metrics):
            connection.execute(sa.delete(table).where(table.c.run_id.in_(chunk)))
        values = schema.run_values.c
        connection.execute(
            sa.delete(schema.run_values).where(values.run_id.in_(chunk), values.kind == "tag")
        )


def _imported(run: Run, actor: str, source: str) -> tuple[Any, ...]:
    details = {"experiment": run.experiment, "status": run.status.value, "source": source}
    return (
        time.time(),
        actor,
        "run.imported",
        "run",
        run.id,
        None,
        json.dumps(details, sort_keys=True),
    )
