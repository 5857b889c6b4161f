"""Scaling a store copied from the demo's: every new row is a copy of a row the SDK
wrote in the demo, with new ids, names and times, inserted in bulk through the
store's SQLAlchemy tables. See seed_scale.py for the whole recipe."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from prodml.stores import schema

DAY = 86_400.0
HOUR = 3_600.0
DAYS = 30
MODEL_VERSIONS = 100
MODELS = 10  # the demo's model and nine more
MONITORED = 3  # the demo's model and two more, each with a month of hourly windows
RUNS = 100_000
PREDICTIONS = 10_000_000
CHAMPION_EVERY = 4  # versions between champion moves (each through a rollout)


def new_id() -> str:
    return uuid.uuid4().hex


def rows(connection: sa.Connection, table: sa.Table, *where: Any) -> list[dict[str, Any]]:
    query = table.select().where(*where)
    return [dict(row._mapping) for row in connection.execute(query)]


def insert(connection: sa.Connection, table: sa.Table, made: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(made), 5_000):
        connection.execute(table.insert(), list(made[start : start + 5_000]))


def event(
    template: dict[str, Any], at: float, subject: str, details: dict[str, Any]
) -> dict[str, Any]:
    made = {k: v for k, v in template.items() if k != "id"}
    return {**made, "at": at, "subject_id": subject, "details": json.dumps(details, sort_keys=True)}


class Loop:
    """The demo's rows, and what has been made from them so far."""

    def __init__(self, connection: sa.Connection, now: float) -> None:
        self.connection = connection
        self.now = now
        self.start = (now // HOUR) * HOUR - DAYS * DAY
        self.events: list[dict[str, Any]] = []
        events = rows(connection, schema.events)
        self.event_of = {e["action"]: e for e in events}  # the last of each action
        versions = rows(connection, schema.model_versions)
        self.version = max(versions, key=lambda v: v["created_at"])
        self.template_name = self.version["name"]
        evaluations = rows(connection, schema.evaluations)
        judged = [e for e in evaluations if e["verdict"] is not None] or evaluations
        self.evaluation = max(judged, key=lambda e: (e["verdict"] == "pass", e["created_at"]))
        self.rollout = max(rows(connection, schema.rollouts), key=lambda r: r["created_at"])
        self.serving: dict[str, int] = {}  # model -> champion version at the end

    def flush_events(self) -> None:
        self.events.sort(key=lambda e: e["at"])
        insert(self.connection, schema.events, self.events)
        self.events = []


def model_names(template_name: str) -> list[str]:
    return [template_name, *(f"{template_name}-{i:02d}" for i in range(1, MODELS))]


def seed_models(loop: Loop, run_ids: Sequence[str]) -> None:
    """100 model versions over ten names (the demo's own count toward it), each logged by
    a run, evaluated against the version before, challenger on every new version and
    champion every few versions through a completed rollout."""
    existing = loop.connection.execute(
        sa.select(sa.func.count()).select_from(schema.model_versions)
    ).scalar_one()
    names = model_names(loop.template_name)
    wanted = MODEL_VERSIONS - int(existing)
    per_name = [
        wanted // (len(names) - 1) + (i < wanted % (len(names) - 1)) for i in range(len(names) - 1)
    ]
    versions, evaluations, edges, moves, rollouts = [], [], [], [], []
    runs = iter(run_ids)
    for name, count in zip(names[1:], per_name, strict=True):
        previous_eval: str | None = None
        champion: int | None = None
        for number in range(1, count + 1):
            at = loop.start + (number - 0.5) / count * DAYS * DAY + hash(name) % 3600
            version_id, evaluation_id, run_id = (
                new_id(),
                new_id(),
                next(runs, loop.version["run_id"]),
            )
            versions.append(
                {
                    **loop.version,
                    "id": version_id,
                    "name": name,
                    "version": number,
                    "run_id": run_id,
                    "created_at": at,
                }
            )
            edges.append(
                {
                    "source_kind": "run",
                    "source_id": run_id,
                    "target_kind": "model",
                    "target_id": version_id,
                    "relation": "produced",
                    "created_at": at,
                }
            )
            loop.events.append(
                event(
                    loop.event_of["model.logged"],
                    at,
                    version_id,
                    {"name": name, "run": run_id, "version": number},
                )
            )
            verdict = "pass" if number % 5 else "fail"
            evaluations.append(
                {
                    **loop.evaluation,
                    "id": evaluation_id,
                    "model_id": version_id,
                    "baseline_id": previous_eval,
                    "verdict": verdict,
                    "created_at": at + 60,
                }
            )
            edges.append(
                {
                    "source_kind": "model",
                    "source_id": version_id,
                    "target_kind": "evaluation",
                    "target_id": evaluation_id,
                    "relation": "evaluated",
                    "created_at": at + 60,
                }
            )
            loop.events.append(
                event(
                    loop.event_of["model.evaluated"],
                    at + 60,
                    version_id,
                    {
                        "evaluation": evaluation_id,
                        "suite": loop.evaluation["suite_version"],
                        "verdict": verdict,
                    },
                )
            )
            previous_eval = evaluation_id
            moves.append(
                _move(
                    loop,
                    name,
                    "challenger",
                    number,
                    number - 1 if number > 1 else None,
                    at + 120,
                    version_id,
                    None,
                    None,
                )
            )
            if verdict == "pass" and (champion is None or number - champion >= CHAMPION_EVERY):
                if champion is not None:
                    rollouts.append(_rollout(loop, name, number, champion, at + 180))
                moves.append(
                    _move(
                        loop,
                        name,
                        "champion",
                        number,
                        champion,
                        at + 3 * HOUR,
                        version_id,
                        evaluation_id,
                        verdict,
                    )
                )
                champion = number
        loop.serving[name] = champion or 1
    insert(loop.connection, schema.model_versions, versions)
    insert(loop.connection, schema.evaluations, evaluations)
    insert(loop.connection, schema.edges, edges)
    moves.sort(key=lambda m: m["at"])
    insert(loop.connection, schema.alias_moves, moves)
    insert(loop.connection, schema.rollouts, rollouts)


def _move(
    loop: Loop, name: str, alias: str, version: int, previous: int | None, at: float,
    version_id: str, evaluation_id: str | None, verdict: str | None,
) -> dict[str, Any]:  # fmt: skip
    details = {
        "alias": alias,
        "evaluation": evaluation_id,
        "from": previous,
        "name": name,
        "to": version,
        "verdict": verdict,
    }
    loop.events.append(event(loop.event_of["model.alias_moved"], at, version_id, details))
    return {
        "name": name,
        "alias": alias,
        "version": version,
        "previous": previous,
        "at": at,
        "actor": "bench",
        "reason": None,
        "forced": False,
        "evaluation_id": evaluation_id,
        "verdict": verdict,
    }


def _rollout(loop: Loop, name: str, candidate: int, baseline: int, at: float) -> dict[str, Any]:
    rollout_id = new_id()
    steps = json.loads(loop.rollout["plan"]).get("steps", [])
    started = loop.event_of["rollout.started"]
    details = {**json.loads(started["details"]), "candidate": candidate, "champion": baseline}
    loop.events.append(event(started, at, rollout_id, details))
    done = at + 3 * HOUR - 60
    return {
        **loop.rollout,
        "id": rollout_id,
        "name": name,
        "candidate": candidate,
        "baseline": baseline,
        "state": "completed",
        "step": max(len(steps) - 1, 0),
        "step_started_at": done,
        "created_at": at,
        "updated_at": done,
    }


def scale_up(client: Any, seeded: Any, scale: float) -> None:
    """Runs, the loop's objects and the prediction log at ``scale`` (1.0: the figures'
    store) into the store copied from the template."""
    import _seed_monitors
    from _seed_log import template_rows, write_log

    now = time.time()
    started = time.perf_counter()
    run_ids = seed_runs(client, round(RUNS * scale))
    seeded.seconds["runs"] = time.perf_counter() - started
    started = time.perf_counter()
    engine = client.metadata.engine
    with engine.begin() as connection:
        loop = Loop(connection, now)
        seed_models(loop, run_ids)
        loop.flush_events()
    seeded.seconds["models"] = time.perf_counter() - started
    started = time.perf_counter()
    log = Path(seeded.home) / "predictions"
    monitored = model_names(loop.template_name)[:MONITORED]
    serving = {name: loop.serving.get(name, 1) for name in monitored}
    template = template_rows(log, loop.template_name)
    rows = round(PREDICTIONS * scale)
    hours = write_log(log, template, serving, rows, loop.start, DAYS, client.artifacts)
    seeded.counts["predictions"] = sum(count for _, count in hours.values())
    seeded.seconds["log"] = time.perf_counter() - started
    started = time.perf_counter()
    with engine.begin() as connection:
        loop.connection = connection
        _seed_monitors.seed_monitors(loop, monitored, hours)
        loop.flush_events()
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE")
    seeded.seconds["monitors"] = time.perf_counter() - started


def seed_runs(client: Any, count: int) -> list[str]:
    """Runs with config, params and metric histories (10 metrics x 10 steps), written in
    bulk by run_search.py's seeder, then made what the SDK leaves (see ``as_logged``)."""
    import run_search

    made: list[str] = run_search.seed_prodml(client, count, 10)
    with client.metadata.engine.begin() as connection:
        as_logged(connection, time.time())
    return made


def as_logged(connection: sa.Connection, now: float) -> None:
    """The seeded runs (those without an environment) as the SDK leaves them: spread over
    the month rather than one a second up to now, each with the environment a run
    records and its run.started and run.finished events."""
    runs = schema.runs
    bare = runs.c.environment == "{}"
    first = connection.execute(sa.select(sa.func.min(runs.c.started_at)).where(bare)).scalar()
    environment = connection.execute(sa.select(runs.c.environment).where(~bare).limit(1)).scalar()
    if first is None or environment is None:
        return
    stretch = DAYS * DAY / max(now - float(first), 1.0)
    connection.execute(
        runs.update()
        .where(bare)
        .values(
            started_at=now - (now - runs.c.started_at) * stretch,
            ended_at=now - (now - runs.c.ended_at) * stretch,
        )
    )
    started = _event_template(connection, "run.started")
    finished = _event_template(connection, "run.finished")
    found = connection.execute(
        sa.select(
            runs.c.id, runs.c.started_at, runs.c.ended_at, runs.c.hypothesis, runs.c.experiment
        ).where(bare)
    ).all()
    events = []
    for run_id, begun, ended, hypothesis, experiment in found:
        details = {"experiment": experiment, "inputs": []}
        events.append({**event(started, begun, run_id, details), "reason": hypothesis})
        events.append(event(finished, ended, run_id, {}))
    events.sort(key=lambda e: e["at"])
    insert(connection, schema.events, events)
    connection.execute(runs.update().where(bare).values(environment=environment))


def _event_template(connection: sa.Connection, action: str) -> dict[str, Any]:
    events = schema.events
    query = sa.select(events).where(events.c.action == action).limit(1)
    return dict(connection.execute(query).one()._mapping)
