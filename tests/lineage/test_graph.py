"""Lineage: links written as a side effect of logging, walked up and down, as of
any time, and the event log of who did what."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

import prodml
from prodml.client import Client
from prodml.domain.lineage import NodeKind
from prodml.errors import InvalidInputError, NotFoundError


@pytest.fixture(autouse=True)
def _outside_any_git_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs capture no code diff, so each run's outputs are only what the test logs."""
    monkeypatch.chdir(tmp_path)


class _Model:
    def __init__(self, bias: float) -> None:
        self.bias = bias

    def predict(self, rows: list[float]) -> list[float]:
        return [row + self.bias for row in rows]


@dataclass
class _Loop:
    dataset_id: str
    labels_id: str
    run_id: str
    model_id: str
    artifact_id: str


def _train(client: Client, bias: float = 1.0) -> tuple[str, str, str]:
    with prodml.start_run("delay", inputs=["flights@1", "labels@1"], client=client) as run:
        model = run.log_model(_Model(bias), "delay-model")
        artifact = run.log_artifact(b"auc,0.9\n", name="eval.csv")
    return run.id, model.id, artifact.id


def _loop(client: Client) -> _Loop:
    flights = prodml.log_dataset("flights", pd.DataFrame({"a": [1, 2]}), client=client)
    labels = prodml.log_dataset("labels", pd.DataFrame({"y": [0, 1]}), client=client)
    run_id, model_id, artifact_id = _train(client)
    return _Loop(flights.id, labels.id, run_id, model_id, artifact_id)


def test_upstream_of_a_model_reaches_its_run_and_datasets(client: Client) -> None:
    loop = _loop(client)

    tree = prodml.upstream("delay-model@1", client=client)

    assert (tree.node.kind, tree.node.id) == (NodeKind.MODEL, loop.model_id)
    assert tree.node.label == "model delay-model@1"
    assert tree.edges() == {
        (loop.model_id, "produced", loop.run_id),
        (loop.run_id, "input", loop.dataset_id),
        (loop.run_id, "input", loop.labels_id),
    }
    run = tree.children[0].node
    assert run.kind is NodeKind.RUN
    assert run.label == f"run {loop.run_id[:12]} (delay, finished)"
    labels = {node.label for node in tree.walk()}
    assert f"dataset flights@1 [{loop.dataset_id[:12]}]" in labels


def test_downstream_of_a_dataset_reaches_runs_models_and_artifacts(client: Client) -> None:
    loop = _loop(client)

    tree = prodml.downstream("flights@1", client=client)

    assert (tree.node.kind, tree.node.id) == (NodeKind.DATASET, loop.dataset_id)
    assert tree.edges() == {
        (loop.dataset_id, "input", loop.run_id),
        (loop.run_id, "produced", loop.model_id),
        (loop.run_id, "produced", loop.artifact_id),
    }
    kinds = {node.kind for node in tree.walk()}
    assert kinds == {NodeKind.DATASET, NodeKind.RUN, NodeKind.MODEL, NodeKind.ARTIFACT}
    artifact = next(n for n in tree.walk() if n.kind is NodeKind.ARTIFACT)
    assert artifact.label.startswith("artifact eval.csv (8 bytes)")


def test_any_id_or_prefix_can_be_the_start(client: Client) -> None:
    loop = _loop(client)

    by_run = prodml.downstream(loop.run_id[:10], client=client)
    by_digest = prodml.downstream(loop.dataset_id[:16], client=client)
    by_artifact = prodml.upstream(loop.artifact_id, client=client)

    assert {n.id for n in by_run.walk()} == {loop.run_id, loop.model_id, loop.artifact_id}
    assert by_digest.node.id == loop.dataset_id
    assert [n.id for n in by_artifact.walk()][:2] == [loop.artifact_id, loop.run_id]
    assert {n.id for n in by_artifact.walk()} >= {loop.dataset_id, loop.labels_id}


def test_a_dataset_feeds_every_run_that_used_it(client: Client) -> None:
    loop = _loop(client)
    second_run, second_model, _ = _train(client, bias=2.0)

    tree = prodml.downstream("labels@1", client=client)

    runs = {child.node.id for child in tree.children}
    assert runs == {loop.run_id, second_run}
    assert second_model in {n.id for n in tree.walk()}
    assert prodml.get_model("delay-model", client=client).version == 2


def test_as_of_a_past_time_excludes_what_came_later(client: Client) -> None:
    loop = _loop(client)
    time.sleep(0.02)
    moment = datetime.now(UTC)
    time.sleep(0.02)
    later_run, later_model, _ = _train(client, bias=3.0)

    now = {n.id for n in prodml.downstream("flights@1", client=client).walk()}
    then = {n.id for n in prodml.downstream("flights@1", as_of=moment, client=client).walk()}

    assert {later_run, later_model} <= now
    assert then == {loop.dataset_id, loop.run_id, loop.model_id, loop.artifact_id}
    before_anything = prodml.downstream(
        "flights@1", as_of=datetime(2000, 1, 1, tzinfo=UTC), client=client
    )
    assert before_anything.children == ()


def test_a_dataset_under_two_names_is_one_node(client: Client) -> None:
    loop = _loop(client)
    prodml.log_dataset("flights-copy", pd.DataFrame({"a": [1, 2]}), client=client)

    tree = prodml.downstream("flights-copy@1", client=client)

    assert tree.node.id == loop.dataset_id
    assert tree.node.label.startswith("dataset flights@1, flights-copy@1")
    assert loop.run_id in {n.id for n in tree.walk()}


def test_unknown_refs_say_what_to_give(client: Client) -> None:
    _loop(client)

    for ref in ("nothing@1", "flights@9", "0123456789abcdef"):
        with pytest.raises(NotFoundError) as raised:
            prodml.upstream(ref, client=client)
        message = str(raised.value)
        assert repr(ref) in message
        assert "NAME@VERSION" in message
    with pytest.raises(InvalidInputError, match="too short"):
        prodml.downstream("ab", client=client)


def test_events_record_who_did_what(client: Client) -> None:
    start = datetime.now(UTC)
    loop = _loop(client)
    with (
        pytest.raises(RuntimeError),
        prodml.start_run("delay", hypothesis="will fail", client=client) as failed,
    ):
        raise RuntimeError("out of memory")

    found = prodml.events(since=start, client=client)

    actions = [(e.action, e.subject_kind, e.subject_id) for e in found]
    assert actions == [
        ("dataset.logged", "dataset", loop.dataset_id),
        ("dataset.logged", "dataset", loop.labels_id),
        ("run.started", "run", loop.run_id),
        ("model.logged", "model", loop.model_id),
        ("artifact.logged", "artifact", loop.artifact_id),
        ("run.finished", "run", loop.run_id),
        ("run.started", "run", failed.id),
        ("run.failed", "run", failed.id),
    ]
    assert {e.actor for e in found} == {"tester"}
    assert found[0].details["name"] == "flights" and found[0].details["version"] == 1
    assert found[3].details == {"name": "delay-model", "version": 1, "run": loop.run_id}
    assert found[6].reason == "will fail"
    assert found[7].reason is not None and "out of memory" in found[7].reason
    assert prodml.events(until=start, client=client) == []


def test_events_carry_the_user_of_each_client(client: Client) -> None:
    settings = client.settings
    other = Client(
        home=settings.home,
        metadata_url=settings.metadata_url,
        artifact_url=settings.artifact_url,
        user="alice",
    )
    try:
        prodml.log_dataset("flights", pd.DataFrame({"a": [1]}), client=other)
        with prodml.start_run("delay", client=client):
            pass
    finally:
        other.close()

    actors = [(e.action, e.actor) for e in prodml.events(client=client)]
    assert actors == [
        ("dataset.logged", "alice"),
        ("run.started", "tester"),
        ("run.finished", "tester"),
    ]


class Echo:
    def predict(self, rows: object) -> object:
        return rows


def test_a_name_shared_by_a_dataset_and_a_model_must_say_which(client: Client) -> None:
    prodml.log_dataset("churn", {"a": [1]}, client=client)
    with prodml.start_run("c", client=client) as run:
        run.log_model(Echo(), "churn")
    with pytest.raises(InvalidInputError, match="dataset:churn@1 or model:churn@1"):
        prodml.upstream("churn@1", client=client)
    assert prodml.upstream("model:churn@1", client=client).node.label == "model churn@1"
    assert prodml.upstream("dataset:churn@1", client=client).node.kind.value == "dataset"
