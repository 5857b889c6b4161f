"""The metadata store contract, run on SQLite always and on PostgreSQL when reachable."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from prodml.client import Client
from prodml.domain.artifact import Artifact, ModelVersion
from prodml.domain.dataset import DatasetKind, DatasetVersion, FileEntry
from prodml.domain.ids import new_id, utcnow
from prodml.domain.run import Run, RunStatus
from prodml.errors import InvalidInputError, NotFoundError, ParamConflictError
from prodml.stores.blobs import hash_bytes
from prodml.stores.metadata import open_metadata
from prodml.stores.protocol import MetadataStore

NewDataset = Callable[..., DatasetVersion]


def make_run(
    store: MetadataStore,
    run_id: str | None = None,
    experiment: str = "churn",
    started_at: datetime | None = None,
    inputs: Sequence[str] = (),
) -> Run:
    run = Run(
        id=run_id or new_id(),
        experiment=experiment,
        status=RunStatus.RUNNING,
        author="tester",
        started_at=started_at or utcnow(),
        hypothesis="more data helps",
        config={"optimizer": {"lr": 0.1}, "layers": [64, 32]},
        environment={"python": "3.12"},
        git_commit="abc123",
    )
    store.insert_run(run, inputs)
    return run


def make_model(run_id: str, name: str, content: bytes = b"model") -> ModelVersion:
    return ModelVersion(
        id="",
        name=name,
        version=0,
        run_id=run_id,
        digest=hash_bytes(content),
        flavor="python:tests",
        author="tester",
        created_at=utcnow(),
        signature={"kind": "columns"},
        environment={"python": "3.12"},
    )


def make_artifact(run_id: str, name: str, content: bytes) -> Artifact:
    return Artifact(
        id=new_id(),
        owner_kind="run",
        owner_id=run_id,
        name=name,
        digest=hash_bytes(content),
        size=len(content),
        media_type="text/html",
        created_at=utcnow(),
    )


def test_a_stored_run_reads_back_whole_by_id_prefix(
    client: Client, make_dataset: NewDataset
) -> None:
    store = client.metadata
    data = make_dataset("ages", "v1")
    store.add_dataset_version(data, None, [])
    run = make_run(store, inputs=[data.id, data.id])

    found = store.get_run(run.id[:8].upper())

    assert found.id == run.id
    assert (found.experiment, found.status, found.author) == ("churn", RunStatus.RUNNING, "tester")
    assert found.config == {"layers": [64, 32], "optimizer": {"lr": 0.1}}
    assert found.hypothesis == "more data helps"
    assert found.git_commit == "abc123"
    assert abs((found.started_at - run.started_at).total_seconds()) < 1e-3
    assert found.inputs == (data.id,)
    assert found.ended_at is None


def test_runs_list_newest_first_by_experiment_with_a_limit(client: Client) -> None:
    store = client.metadata
    now = utcnow()
    old = make_run(store, started_at=now - timedelta(hours=2))
    new = make_run(store, started_at=now)
    other = make_run(store, experiment="fraud", started_at=now - timedelta(hours=1))

    assert [r.id for r in store.list_runs()] == [new.id, other.id, old.id]
    assert [r.id for r in store.list_runs("churn")] == [new.id, old.id]
    assert [r.id for r in store.list_runs(limit=1)] == [new.id]


def test_an_ambiguous_prefix_names_the_candidates_and_asks_for_more(client: Client) -> None:
    store = client.metadata
    first = make_run(store, "abcd1" + new_id()[5:])
    second = make_run(store, "abcd2" + new_id()[5:])

    with pytest.raises(InvalidInputError) as raised:
        store.resolve_run("abcd")

    assert first.id[:12] in str(raised.value)
    assert second.id[:12] in str(raised.value)
    assert "give more characters" in str(raised.value)
    assert store.resolve_run("abcd1") == first.id


def test_an_unknown_or_short_prefix_says_how_to_list_runs(client: Client) -> None:
    store = client.metadata
    make_run(store, "abcd" + new_id()[4:])

    with pytest.raises(NotFoundError) as unknown:
        store.get_run("ffff0000")
    with pytest.raises(NotFoundError):
        store.resolve_run("ab_d")  # LIKE wildcards in a prefix are taken literally
    with pytest.raises(InvalidInputError) as short:
        store.resolve_run("abc")

    assert "'ffff0000'" in str(unknown.value)
    assert "prodml runs list" in str(unknown.value)
    assert "at least 4" in str(short.value)


@pytest.mark.parametrize(
    "lookup",
    [
        lambda store, text: store.get_run(text),
        lambda store, text: store.get_dataset_version(text, "3"),
        lambda store, text: store.get_model_version(text, None),
        lambda store, text: store.get_model_version("churn", text),
    ],
    ids=["run id", "dataset name", "model name", "model version"],
)
def test_a_pasted_megabyte_is_echoed_cut_short_with_its_length(
    client: Client, lookup: Callable[[MetadataStore, str], object]
) -> None:
    with pytest.raises(NotFoundError) as missing:
        lookup(client.metadata, "ab" * 5_000)

    message = str(missing.value)
    assert len(message) < 250, message
    assert "abababab" in message and "(10,0" in message and "characters)" in message


def test_a_finished_or_failed_run_keeps_its_end_and_error(client: Client) -> None:
    store = client.metadata
    done, broken = make_run(store), make_run(store)

    store.finish_run(done.id, RunStatus.FINISHED, time.time())
    store.write_batch([], [], (broken.id, RunStatus.FAILED, time.time(), "ValueError: boom"))

    assert store.get_run(done.id).status is RunStatus.FINISHED
    assert store.get_run(done.id).ended_at is not None
    failed = store.get_run(broken.id)
    assert (failed.status, failed.error) == (RunStatus.FAILED, "ValueError: boom")
    actions = [e.action for e in store.list_events(subject=("run", broken.id))]
    assert actions == ["run.started", "run.failed"]


def test_a_runs_end_is_final_and_a_later_end_keeps_only_its_points(client: Client) -> None:
    store = client.metadata
    run = make_run(store)
    store.finish_run(run.id, RunStatus.FAILED, time.time(), "interrupted (Ctrl-C)")
    first = store.get_run(run.id)

    point = (run.id, "loss", 3, 0.5, time.time())
    store.write_batch([], [point], (run.id, RunStatus.FINISHED, time.time() + 5, None))

    again = store.get_run(run.id)
    assert (again.status, again.ended_at, again.error) == (
        RunStatus.FAILED, first.ended_at, "interrupted (Ctrl-C)",
    )  # fmt: skip
    assert [p.value for p in store.metric_history(run.id, "loss")] == [0.5]
    actions = [e.action for e in store.list_events(subject=("run", run.id))]
    assert actions == ["run.started", "run.failed"]


def test_params_are_write_once_and_the_same_value_again_is_fine(client: Client) -> None:
    store = client.metadata
    run = make_run(store)
    store.write_batch([(run.id, "lr", "0.1"), (run.id, "layers", "3")], [])

    store.write_batch([(run.id, "lr", "0.1")], [])

    assert store.get_run(run.id).params == {"lr": "0.1", "layers": "3"}


def test_a_conflicting_param_stores_nothing_of_its_batch(client: Client) -> None:
    store = client.metadata
    run = make_run(store)
    store.write_batch([(run.id, "lr", "0.1")], [])
    batch = [(run.id, "batch_size", "32"), (run.id, "lr", "0.2")]
    points = [(run.id, "loss", 0, 0.5, time.time())]

    with pytest.raises(ParamConflictError) as raised:
        store.write_batch(batch, points)
    with pytest.raises(ParamConflictError):
        store.write_batch([(run.id, "seed", "1"), (run.id, "seed", "2")], [])

    message = str(raised.value)
    assert "'lr'" in message and run.id[:12] in message
    assert "'0.1'" in message and "'0.2'" in message
    stored = store.get_run(run.id)
    assert stored.params == {"lr": "0.1"}
    assert stored.metrics == {}
    assert store.count_metric_points(run.id) == 0


def test_metric_points_round_trip_in_step_order_with_nan_and_infinities(client: Client) -> None:
    store = client.metadata
    run = make_run(store)
    values = [0.25, math.nan, math.inf, -math.inf, -0.0, 1e300]
    now = time.time()
    points = [(run.id, "loss", step, value, now + step) for step, value in enumerate(values)]

    store.write_batch([], list(reversed(points)))

    history = store.metric_history(run.id, "loss")
    assert [p.step for p in history] == list(range(len(values)))
    assert math.isnan(history[1].value)
    assert [p.value for i, p in enumerate(history) if i != 1] == [
        0.25,
        math.inf,
        -math.inf,
        0,
        1e300,
    ]
    assert [p.timestamp for p in history] == [now + step for step in range(len(values))]
    assert store.count_metric_points(run.id) == len(values)
    assert store.metric_history(run.id, "accuracy") == []


def test_the_latest_metric_is_the_highest_step_then_the_newest_time(client: Client) -> None:
    store = client.metadata
    run = make_run(store)

    def latest(*points: tuple[str, int, float, float]) -> dict[str, float]:
        store.write_batch([], [(run.id, key, step, value, ts) for key, step, value, ts in points])
        return store.get_run(run.id).metrics

    assert latest(("loss", 5, 0.5, 100.0), ("loss", 3, 0.9, 200.0), ("auc", 0, 0.7, 1.0)) == {
        "loss": 0.5,
        "auc": 0.7,
    }
    assert latest(("loss", 4, 0.7, 300.0))["loss"] == 0.5
    assert latest(("loss", 5, 0.4, 400.0))["loss"] == 0.4
    assert latest(("loss", 5, 0.3, 350.0))["loss"] == 0.4
    assert math.isnan(latest(("loss", 6, math.nan, 500.0))["loss"])
    assert latest(("loss", 7, 0.1, 600.0), ("loss", 7, 0.2, 650.0))["loss"] == 0.2
    assert latest()["auc"] == 0.7


def test_model_versions_number_up_per_name(client: Client) -> None:
    store = client.metadata
    run = make_run(store)

    one = store.add_model_version(make_model(run.id, "churn", b"one"))
    two = store.add_model_version(make_model(run.id, "churn", b"two"))
    other = store.add_model_version(make_model(run.id, "fraud"))

    assert (one.ref, two.ref, other.ref) == ("churn@1", "churn@2", "fraud@1")
    assert store.get_model_version("churn").id == two.id
    assert store.get_model_version("churn", "1").digest == hash_bytes(b"one")
    assert store.get_model_version("churn", one.id[:10]).version == 1
    assert store.get_model_by_id(two.id).signature == {"kind": "columns"}
    with pytest.raises(NotFoundError) as missing:
        store.get_model_version("churn", "7")
    assert "churn@7" in str(missing.value) and "log_model" in str(missing.value)


def test_an_ambiguous_model_id_prefix_is_refused(client: Client) -> None:
    store = client.metadata
    run = make_run(store)
    for _ in range(3):
        store.add_model_version(make_model(run.id, "churn"))
    with store.write() as connection:  # give versions 1 and 2 ids that share a prefix
        for version in (1, 2):
            connection.execute(
                sa.text("UPDATE model_versions SET id = :id WHERE version = :version"),
                {"id": f"abc{version}" + new_id()[4:], "version": version},
            )

    with pytest.raises(InvalidInputError) as raised:
        store.get_model_version("churn", "ABC")
    with pytest.raises(NotFoundError):
        store.get_model_version("churn", "_")

    assert "churn@1" in str(raised.value) and "churn@2" in str(raised.value)
    assert store.get_model_version("churn", "abc2").version == 2


def test_artifacts_are_listed_per_owner_and_found_by_id(client: Client) -> None:
    store = client.metadata
    run, other = make_run(store), make_run(store)
    report = make_artifact(run.id, "report.html", b"<html>")
    store.add_artifact(report)
    store.add_artifact(make_artifact(other.id, "other.html", b"x"))

    assert store.list_artifacts("run", run.id) == [report]
    assert store.get_artifact(report.id) == report
    with pytest.raises(NotFoundError) as missing:
        store.get_artifact("nope")
    assert "'nope'" in str(missing.value)


def test_lineage_links_data_runs_models_and_artifacts_both_ways(
    client: Client, make_dataset: NewDataset
) -> None:
    store = client.metadata
    data, _ = store.add_dataset_version(make_dataset("ages", "v1"), None, [])
    run = make_run(store, inputs=[data.id])
    model = store.add_model_version(make_model(run.id, "churn"))
    report = make_artifact(run.id, "report.html", b"<html>")
    store.add_artifact(report)

    assert store.neighbours(("run", run.id), upstream=True) == [(("dataset", data.id), "input")]
    assert store.neighbours(("model", model.id), upstream=True) == [(("run", run.id), "produced")]
    assert set(store.neighbours(("run", run.id), upstream=False)) == {
        (("model", model.id), "produced"),
        (("artifact", report.id), "produced"),
    }
    assert store.neighbours(("dataset", data.id), upstream=False) == [(("run", run.id), "input")]


def test_lineage_as_of_a_past_time_leaves_out_later_edges(
    client: Client, make_dataset: NewDataset
) -> None:
    store = client.metadata
    data, _ = store.add_dataset_version(make_dataset("ages", "v1"), None, [])
    now = utcnow()
    early = make_run(store, started_at=now - timedelta(hours=2), inputs=[data.id])
    late = make_run(store, started_at=now - timedelta(hours=1), inputs=[data.id])
    node = ("dataset", data.id)

    assert store.neighbours(node, False) == [
        (("run", early.id), "input"),
        (("run", late.id), "input"),
    ]
    assert store.neighbours(node, False, as_of=now - timedelta(minutes=90)) == [
        (("run", early.id), "input")
    ]
    assert store.neighbours(node, False, as_of=now - timedelta(hours=3)) == []


def test_events_record_who_why_and_when_and_filter_by_time(client: Client) -> None:
    store = client.metadata
    now = utcnow()
    run = make_run(store, started_at=now - timedelta(hours=1))
    alice = open_metadata(store.url, "alice", 5.0)
    try:
        alice.record_event("alias.moved", ("model", "m1"), "better AUC", {"from": 1, "to": 2})
    finally:
        alice.close()

    moved = store.list_events(subject=("model", "m1"))
    assert [(e.actor, e.action, e.reason, e.details) for e in moved] == [
        ("alice", "alias.moved", "better AUC", {"from": 1, "to": 2})
    ]
    recent = store.list_events(since=now - timedelta(minutes=1))
    assert [e.action for e in recent] == ["alias.moved"]
    older = store.list_events(until=now - timedelta(minutes=30))
    assert [(e.action, e.subject_id, e.actor) for e in older] == [("run.started", run.id, "tester")]
    assert [e.action for e in store.list_events(limit=1)] == ["run.started"]


def test_events_are_chosen_by_action_prefix_in_the_store(client: Client) -> None:
    store = client.metadata
    make_run(store)
    store.record_event("model.alias_moved", ("model", "m1"), None, {})
    store.record_event("modelx.made_up", ("model", "m1"), None, {})
    store.record_event("incident%.odd", ("incident", "i1"), None, {})

    chosen = store.list_events(actions=("model.", "incident%"))

    assert [e.action for e in chosen] == ["model.alias_moved", "incident%.odd"]
    assert [e.action for e in store.list_events(actions=("run.",))] == ["run.started"]
    store.record_event("run_x.odd", ("run", "r1"), None, {})
    store.record_event("o'brien.said", ("run", "r1"), None, {})
    assert [e.action for e in store.list_events(actions=("run_",))] == ["run_x.odd"]
    assert [e.action for e in store.list_events(actions=("o'brien.",))] == ["o'brien.said"]
    assert store.list_events(actions=("'; DROP TABLE events; --",)) == []
    store.record_event("MODEL.shouted", ("model", "m1"), None, {})  # prefixes keep their case
    store.record_event("odd*[x]?.y", ("model", "m1"), None, {})
    store.record_event("oddly.z", ("model", "m1"), None, {})
    assert [e.action for e in store.list_events(actions=("model.",))] == ["model.alias_moved"]
    assert [e.action for e in store.list_events(actions=("odd*[x]?",))] == ["odd*[x]?.y"]
    assert store.list_events(actions=("odd?",)) == store.list_events(actions=("odd[",)) == []
    assert len(store.list_events()) == 9


def test_referenced_digests_and_references_name_every_user_of_a_blob(
    client: Client, make_dataset: NewDataset
) -> None:
    store = client.metadata
    run = make_run(store)
    shared = hash_bytes(b"shared")
    store.add_dataset_version(make_dataset("ages", "v1"), shared, [])
    files = [FileEntry(path="a/cat.png", digest=hash_bytes(b"cat"), size=3)]
    store.add_dataset_version(make_dataset("imgs", "files", DatasetKind.FILES), None, files)
    store.add_artifact(make_artifact(run.id, "report.html", b"shared"))
    model = store.add_model_version(make_model(run.id, "churn", b"model"))

    assert store.referenced_digests() == {shared, hash_bytes(b"cat"), model.digest}
    assert sorted(store.references(shared)) == sorted(
        ["dataset ages@1", f"artifact 'report.html' of run {run.id[:12]}"]
    )
    assert store.references(hash_bytes(b"cat")) == ["file 'a/cat.png' of dataset imgs@1"]
    assert store.references(model.digest) == ["model churn@1"]
    assert store.references(hash_bytes(b"nobody")) == []


def test_a_reason_that_is_not_text_refuses_the_change_and_stores_nothing(
    client: Client,
) -> None:
    store = client.metadata
    before = len(store.list_events())
    with pytest.raises(InvalidInputError, match="give it as text"):
        store.record_event("model.note", ("model", "m"), 5, {})  # type: ignore[arg-type]
    assert len(store.list_events()) == before


def test_id_prefixes_resolve_at_every_digit_boundary(client: Client) -> None:
    store = client.metadata
    for run_id in ("ab9f" + "0" * 28, "aba0" + "0" * 28, "abff" + "1" * 28, "ac00" + "2" * 28):
        make_run(store, run_id=run_id)
    make_run(store, run_id="abff" + "2" * 28)

    assert store.resolve_run("AB9F")[:4] == "ab9f"
    assert store.resolve_run("aba0")[:4] == "aba0"
    assert store.resolve_run("abff1")[:5] == "abff1"
    with pytest.raises(InvalidInputError, match="matches several"):
        store.resolve_run("abff")
    assert store.resolve_run("ac00 ")[:4] == "ac00"
    with pytest.raises(NotFoundError):
        store.resolve_run("abfe")
    with pytest.raises(NotFoundError):
        store.resolve_run("abx_")
