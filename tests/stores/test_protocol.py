"""The metadata store's contract, on SQLite and PostgreSQL: what the rest of prodml may
call (the MetadataStore protocol), and that every record it hands out is the domain
record it stored, read back unchanged."""

from __future__ import annotations

import dataclasses
import inspect
import math
import typing
import uuid
from datetime import timedelta
from typing import Any

import pytest
from test_metadata import make_artifact, make_model, make_run

from prodml.client import Client
from prodml.domain.artifact import ModelVersion
from prodml.domain.evaluation import EvaluationRecord, SuiteRecord
from prodml.domain.ids import utcnow
from prodml.domain.lineage import Event
from prodml.domain.monitoring import Alert, AlertClass, AlertState, Incident, Signal, Window
from prodml.domain.registry import AliasChange, AliasMove, RegisteredModel
from prodml.domain.rollout import Criteria, Plan, Rollout, RoutingKey, Step
from prodml.domain.run import Run, RunStatus
from prodml.domain.token import TokenRecord
from prodml.errors import InvalidInputError, ParamConflictError
from prodml.stores.metadata import SqlMetadataStore
from prodml.stores.protocol import MetadataStore

SQL_ONLY = {"read", "write", "serialise", "event", "link", "insert_artifact", "move_alias_in"}


def _public(cls: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls) if not name.startswith("_")}


def test_the_sql_store_has_every_method_of_the_protocol_and_no_other_public_one() -> None:
    listed = _public(MetadataStore)
    offered = _public(SqlMetadataStore) - SQL_ONLY
    assert listed - offered == set(), "the SQL store lacks these"
    assert offered - listed == set(), "add these to the MetadataStore protocol"


def test_each_method_of_the_sql_store_takes_what_the_protocol_says() -> None:
    for name in _public(MetadataStore) - {"dialect"}:
        listed = inspect.signature(getattr(MetadataStore, name))
        offered = inspect.signature(getattr(SqlMetadataStore, name))
        assert list(listed.parameters) == list(offered.parameters), name
        assert listed.return_annotation == offered.return_annotation, name


def _name() -> str:
    return f"contract-{uuid.uuid4().hex[:10]}"


def _alert(model: str) -> Alert:
    now = utcnow().replace(microsecond=0)
    signal = Signal(
        monitor="inputs",
        subject="distance",
        statistic="mean",
        kind=AlertClass.DRIFT,
        observed=12.5,
        expected=[1.0, 2.0],
        message="distance moved",
        score=4.0,
    )
    return Alert(
        id=uuid.uuid4().hex,
        model=model,
        kind=AlertClass.DRIFT,
        severity="warning",
        title="inputs changed: distance",
        signals=(signal,),
        window_start=now,
        window_end=now,
        windows=1,
        state=AlertState.OPEN,
        created_at=now,
        context={"changes": [{"action": "model.logged"}], "samples": {"request_ids": []}},
    )


def test_alerts_and_incidents_come_back_as_the_records_stored(client: Client) -> None:
    store, model = client.metadata, _name()
    alert = _alert(model)

    assert store.add_alert(alert, 1) == alert
    assert store.alert(alert.id) == alert
    assert store.alerts(model) == [alert]
    folded = dataclasses.replace(alert, windows=2, severity="high")
    assert store.update_alert(folded) == store.alert(alert.id) == folded
    decided = store.decide_alert(alert.id, AlertState.ACKED, "seen")
    assert isinstance(decided, Alert) and decided.state is AlertState.ACKED

    incident = Incident(
        id=uuid.uuid4().hex,
        model=model,
        title="t",
        state="open",
        opened_at=alert.created_at,
        opened_by="tester",
        alert_ids=(alert.id,),
    )
    store.add_incident(incident)
    assert store.incident(incident.id) == incident
    assert store.incidents(model) == [incident]
    closed = store.close_incident(incident.id, "fixed")
    assert isinstance(closed, Incident) and closed.state == "closed"
    assert store.alert(alert.id).incident_id == incident.id


PLAN = Plan(
    (
        Step(
            stage="shadow",
            share=0.0,
            min_duration=60.0,
            min_requests=10,
            max_duration=None,
            criteria=Criteria(max_p99_ms=50.0),
        ),
        Step(
            stage="canary",
            share=0.25,
            min_duration=60.0,
            min_requests=10,
            max_duration=600.0,
            criteria=Criteria(metric="accuracy", max_metric_drop=0.02),
        ),
    ),
    RoutingKey("header", "x-user-id"),
    {"stages": [{"stage": "shadow"}, {"stage": "canary", "steps": [25]}]},
)


def test_rollouts_come_back_with_their_plan_resolved(client: Client) -> None:
    store, model = client.metadata, _name()
    run = make_run(store)
    second = store.add_model_version(make_model(run.id, model, b"two"))
    store.add_model_version(make_model(run.id, model, b"one"))

    started = store.add_rollout(
        rollout_id=uuid.uuid4().hex,
        model=model,
        candidate=2,
        baseline=1,
        plan=PLAN,
        reason="try it",
        details={"forced": False},
    )

    assert isinstance(started, Rollout) and (started.step, started.state) == (0, "running")
    assert started.plan == PLAN and started.plan.document == PLAN.document
    assert store.rollout(started.id) == started
    assert store.rollouts(model, active=True) == [started]
    moved = store.update_rollout(
        started, action="rollout.advanced", reason="ok", details={}, step=1
    )
    assert (moved.step, moved.current.share) == (1, 0.25)
    move = AliasChange(name=model, alias="champion", version=2, model_id=second.id, expected=None)
    done = store.update_rollout(
        moved, action="rollout.completed", reason="ok", details={}, state="completed", move=move
    )
    assert (done.state, store.rollouts(model, active=True)) == ("completed", [])
    assert store.alias_version(model, "champion") == 2


def test_tokens_come_back_without_their_digest(client: Client) -> None:
    store, name = client.metadata, _name()
    store.add_token(name, "a-digest", "predictor")

    found = store.token("a-digest")

    assert isinstance(found, TokenRecord) and (found.name, found.role) == (name, "predictor")
    assert store.token("another-digest") is None
    assert [t for t in store.tokens() if t.name == name] == [found]
    store.revoke_token(name)
    assert store.token("a-digest") is None
    (revoked,) = [t for t in store.tokens() if t.name == name]
    assert revoked.revoked_at is not None and not revoked.active


def test_runs_models_aliases_and_events_are_domain_records(client: Client) -> None:
    store, model = client.metadata, _name()
    run = make_run(store)
    version = store.add_model_version(make_model(run.id, model))

    assert isinstance(store.get_run(run.id), Run)
    assert store.get_model_version(model, "1") == version
    assert isinstance(version, ModelVersion)
    moved = store.move_alias(model, "champion", 1, version.id, "first")
    assert isinstance(moved, AliasMove) and store.alias_moves(model) == [moved]
    assert any(isinstance(m, RegisteredModel) for m in store.registered_models())
    assert all(isinstance(e, Event) for e in store.list_events(subject=("model", version.id)))
    assert ("model", version.id) in store.ids_with_prefix(version.id, "")


def test_monitors_and_windows_come_back_as_stored(client: Client) -> None:
    store, model = client.metadata, _name()
    store.set_monitor(model, '{"window": 3600}')
    window = Window(
        model=model,
        kind="traffic",
        start=1_790_000_000.0,
        end=1_790_003_600.0,
        rows=12,
        profile="a-digest",
        stats={"rows": 12, "p99_ms": 8.5, "held": []},
    )

    assert store.monitor_specs(model) == {model: '{"window": 3600}'}
    assert store.add_window(window) is True
    (stored,) = store.windows(model, "traffic")
    assert isinstance(stored, Window) and stored.evaluated_at is not None
    assert stored == dataclasses.replace(window, evaluated_at=stored.evaluated_at)
    assert stored.held and store.last_window(model, "traffic") == window.start


def test_suites_come_back_as_the_document_registered(client: Client) -> None:
    store, model = client.metadata, _name()
    document = {"task": "classification", "metrics": ["auc"], "bootstrap": {"resamples": 200}}

    assert store.add_suite(model, document) == 1
    assert store.add_suite(model, document) == 1  # the same document is not stored again
    stored = store.get_suite(model)

    assert isinstance(stored, SuiteRecord)
    assert (stored.name, stored.version, stored.document, stored.author) == (
        model,
        1,
        document,
        "tester",
    )


def test_evaluations_come_back_with_their_verdict_and_result(client: Client) -> None:
    store, model = client.metadata, _name()
    run = make_run(store)
    version = store.add_model_version(make_model(run.id, model))
    result = {"id": "e1", "model": f"{model}@1", "scores": {"auc": 0.91}}

    store.add_evaluation("e1-" + model, version.id, 3, result, [], None, "pass")

    (stored,) = store.evaluations(version.id)
    assert isinstance(stored, EvaluationRecord)
    assert (stored.model_id, stored.suite_version, stored.verdict, stored.result) == (
        version.id,
        3,
        "pass",
        result,
    )
    assert store.evaluations(evaluation_id="e1-" + model) == [stored]
    assert stored.document == {**result, "verdict": "pass", "baseline_id": None}


@pytest.mark.parametrize("prefix", ["zzzzzzzz", "0000"])
def test_an_unknown_prefix_matches_nothing(client: Client, prefix: str) -> None:
    assert client.metadata.ids_with_prefix(prefix, "") == []


def _rows_in(annotation: object) -> bool:
    """Whether ``dict[str, Any]`` appears anywhere in a type (as itself or inside one)."""
    if typing.get_origin(annotation) is dict and typing.get_args(annotation) == (str, Any):
        return True
    return any(_rows_in(arg) for arg in typing.get_args(annotation))


def _trading_in_rows() -> set[str]:
    names = set()
    for name in _public(MetadataStore) - {"user", "dialect"}:
        hints = typing.get_type_hints(getattr(MetadataStore, name))
        if any(_rows_in(hint) for hint in hints.values()):
            names.add(name)
    return names


def test_no_method_of_the_protocol_takes_or_returns_rows() -> None:
    assert _trading_in_rows() == set()


def test_the_row_check_sees_a_row_nested_in_a_return_type() -> None:
    assert _rows_in(tuple[int, dict[str, Any]]) and _rows_in(list[dict[str, Any]] | None)
    assert not _rows_in(dict[str, str]) and not _rows_in(list[Alert])


def _imported_run(run_id: str, experiment: str, status: RunStatus, **changes: Any) -> Run:
    started = utcnow().replace(microsecond=0)
    return Run(
        id=run_id,
        experiment=experiment,
        status=status,
        author="someone-else",
        started_at=started,
        ended_at=None if status is RunStatus.RUNNING else started + timedelta(seconds=90),
        params={"depth": "6", "lr": "0.1"},
        tags={"team": "risk"},
        **changes,
    )


def test_imported_runs_keep_their_times_status_params_tags_and_every_metric_point(
    client: Client,
) -> None:
    store, experiment = client.metadata, _name()
    done = _imported_run(uuid.uuid4().hex, experiment, RunStatus.FAILED, error="killed")
    going = _imported_run(uuid.uuid4().hex, experiment, RunStatus.RUNNING)
    points = [(done.id, "loss", step, 1.0 / (step + 1), 1000.0 + step) for step in range(50)]
    points.append((done.id, "loss", 3, float("nan"), 2000.0))  # a second point at one step
    points.append((going.id, "auc", 0, 0.5, 1000.0))
    artifact = make_artifact(done.id, "notes.txt", b"notes")
    store.import_runs([done, going], points, [artifact], "mlflow:test")

    assert store.get_run(done.id) == dataclasses.replace(done, metrics={"loss": 1.0 / 50})
    history = store.metric_history(done.id, "loss")
    assert [(p.step, p.timestamp) for p in history] == sorted(
        (s, t) for _, _, s, _, t in points[:51]
    )
    assert math.isnan(history[4].value) and history[3].value == 0.25
    assert store.list_artifacts("run", done.id) == [artifact]
    assert [e.action for e in store.list_events(("run", going.id))] == ["run.imported"]

    finished = dataclasses.replace(
        going,
        status=RunStatus.FINISHED,
        ended_at=going.started_at + timedelta(seconds=5),
        params={**going.params, "seed": "1"},
        tags={"team": "growth"},
    )
    later = [(going.id, "auc", step, 0.5 + step / 10, 1000.0 + step) for step in range(3)]
    store.import_runs([finished], later, [], "mlflow:test")

    assert store.get_run(going.id) == dataclasses.replace(finished, metrics={"auc": 0.7})
    assert store.count_metric_points(going.id) == 3


def test_a_conflicting_param_of_a_run_brought_up_to_date_is_refused(client: Client) -> None:
    store = client.metadata
    run = _imported_run(uuid.uuid4().hex, _name(), RunStatus.RUNNING)
    store.import_runs([run], [], [], "mlflow:test")
    with pytest.raises(ParamConflictError, match="depth"):
        store.import_runs([dataclasses.replace(run, params={"depth": "7"})], [], [], "x")


def test_imported_model_versions_keep_their_ids_numbers_and_tags(client: Client) -> None:
    store, name = client.metadata, _name()
    run = make_run(store)
    third = dataclasses.replace(make_model(run.id, name, b"3"), id=uuid.uuid4().hex, version=3)
    store.import_model_versions([third], {third.id: {"stage": "Staging"}}, "mlflow:test")

    assert store.get_model_version(name, "3") == third
    assert store.models_of_run(run.id) == [third]
    store.import_model_versions([third], {third.id: {"stage": "Production"}}, "mlflow:test")
    assert [(t.key, t.value) for t in store.tags(third.id)] == [("stage", "Production")]
    assert store.add_model_version(make_model(run.id, name, b"4")).version == 4

    other = dataclasses.replace(third, id=uuid.uuid4().hex)
    with pytest.raises(InvalidInputError, match=rf"{name}@3 is already in this store"):
        store.import_model_versions([other], {}, "mlflow:test")
