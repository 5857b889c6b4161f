"""The ``prodml`` command, run as a user runs it: a real process on a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(sys.executable).parent / "prodml"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "prodml.cli.main"]

SEED = """
import json, time
from datetime import UTC, datetime
import pandas as pd
import prodml

class Model:
    def predict(self, rows):
        return rows

first = prodml.log_dataset("flights", pd.DataFrame({"id": [1, 2, 3], "fare": [10.0, 20.0, 30.0]}),
                           key="id")
second = prodml.log_dataset("flights", pd.DataFrame({"id": [1, 2, 4, 5],
                                                     "fare": [10.0, 25.0, 40.0, 50.0]}), key="id")
with prodml.start_run("delay", config={"depth": 6}, hypothesis="baseline [all rows] [/no cuts]",
                      inputs=[first]) as a:
    a.log_param("trees", 100)
    a.log_metric("auc", 0.8)
    model = a.log_model(Model(), "delay-model")
    artifact = a.log_artifact(b"auc,0.8\\n", name="eval.csv")
time.sleep(0.05)
between = datetime.now(UTC).isoformat()
time.sleep(0.05)
with prodml.start_run("delay", config={"depth": 8}, hypothesis="deeper trees help",
                      inputs=[second]) as b:
    b.log_param("trees", 200)
    b.log_metric("auc", 0.85)
print(json.dumps({"a": a.id, "b": b.id, "first": first.id, "second": second.id,
                  "model": model.id, "artifact": artifact.id, "between": between}))
"""


@dataclass(frozen=True)
class Store:
    home: Path
    folder: Path
    ids: dict[str, str]


def _environment(home: Path) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    return {**kept, "PRODML_HOME": str(home), "PRODML_USER": "dana", "COLUMNS": "200"}


def _prodml(store: Store, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*COMMAND, *args],
        env=_environment(store.home),
        cwd=store.folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _ok(store: Store, *args: str) -> str:
    result = _prodml(store, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _json(store: Store, *args: str) -> Any:
    return json.loads(_ok(store, *args, "--json"))


def _fails(store: Store, *args: str) -> str:
    """The one-line error of a command that must fail, with its whitespace evened out."""
    result = _prodml(store, *args)
    assert result.returncode == 1, (result.stdout, result.stderr)
    return " ".join(result.stderr.split())


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("cli")
    made = Store(folder / ".prodml", folder, {})
    assert "metadata: sqlite:///" in _ok(made, "init")
    seeded = subprocess.run(
        [sys.executable, "-c", SEED],
        env=_environment(made.home),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    (folder / "trips.csv").write_text("id,city\n1,Oslo\n2,Lima\n3,Rome\n")
    made.ids.update(json.loads(seeded.stdout))
    return made


def test_init_creates_the_store_and_says_where(store: Store) -> None:
    out = _ok(store, "init")

    assert str(store.home / "prodml.db") in out
    assert str(store.home / "blobs") in out
    assert (store.home / "prodml.db").is_file()


def test_datasets_log_versions_a_file_and_says_what_it_stored(store: Store) -> None:
    out = _ok(store, "datasets", "log", "trips", "trips.csv", "--key", "id")

    assert "trips@1" in out
    assert "table: 3 rows" in out
    again = _ok(store, "datasets", "log", "trips", str(store.folder / "trips.csv"))
    assert "trips@1" in again
    (shown,) = _json(store, "datasets", "list", "trips")
    assert f"trips@1 [{shown['id'][:12]}] table: 3 rows" in out
    assert shown["key"] == ["id"]
    assert shown["author"] == "dana"
    assert shown["schema"] == {"id": "int64", "city": "large_string"}


def test_datasets_log_and_show_a_folder(store: Store) -> None:
    folder = store.folder / "images"
    (folder / "cats").mkdir(parents=True)
    (folder / "cats" / "[1] tabby.jpg").write_bytes(b"jpg")
    (folder / "labels.txt").write_text("cat\n")

    out = _ok(store, "datasets", "log", "images", str(folder))
    shown = _ok(store, "datasets", "show", "images@1")

    assert "images@1" in out and "files: - rows, 2 file(s), 7 bytes" in " ".join(out.split())
    assert "cats/[1] tabby.jpg  3 bytes" in shown
    assert "labels.txt  4 bytes" in shown


def test_datasets_list_shows_every_version(store: Store) -> None:
    out = _ok(store, "datasets", "list", "flights")
    listed = _json(store, "datasets", "list", "flights")

    assert "flights@1" in out and "flights@2" in out
    assert store.ids["second"][:12] in out
    assert [(v["name"], v["version"], v["id"]) for v in listed] == [
        ("flights", 1, store.ids["first"]),
        ("flights", 2, store.ids["second"]),
    ]
    assert [v["num_rows"] for v in listed] == [3, 4]
    assert all(v["kind"] == "table" for v in listed)


def test_datasets_show_gives_schema_and_column_summaries(store: Store) -> None:
    out = _ok(store, "datasets", "show", "flights@2")
    shown = _json(store, "datasets", "show", "flights@2")

    assert store.ids["second"] in out
    assert "key: id" in out
    assert "fare" in out and "31.25" in out  # the mean of the fares
    version = shown["version"]
    assert version["id"] == store.ids["second"]
    fare = next(c for c in version["columns"] if c["name"] == "fare")
    assert (fare["min"], fare["max"], fare["mean"], fare["nulls"]) == (10.0, 50.0, 31.25, 0)
    assert shown["files"] == []


def test_datasets_diff_shows_rows_and_columns_that_changed(store: Store) -> None:
    out = _ok(store, "datasets", "diff", "flights@1", "flights@2")
    diff = _json(store, "datasets", "diff", "flights@1", "flights@2")

    assert "flights@1 -> flights@2" in out
    assert "rows matched by key id" in out
    assert "added 2, removed 1, changed 1" in out
    assert (diff["rows_added"], diff["rows_removed"], diff["rows_changed"]) == (2, 1, 1)
    assert (diff["rows_before"], diff["rows_after"]) == (3, 4)
    changes = {
        (c["column"], c["statistic"]): (c["before"], c["after"]) for c in diff["column_changes"]
    }
    assert changes[("fare", "max")] == (30.0, 50.0)
    assert "no differences" in _ok(store, "datasets", "diff", "flights@2", "flights@2")


def test_runs_list_shows_hypotheses_and_metrics(store: Store) -> None:
    out = _ok(store, "runs", "list")
    runs = _json(store, "runs", "list", "--experiment", "delay")["runs"]

    assert store.ids["a"][:12] in out and store.ids["b"][:12] in out
    assert "deeper trees help" in out and "auc=0.85" in out
    assert [r["id"] for r in runs] == [store.ids["b"], store.ids["a"]]
    assert runs[0]["metrics"] == {"auc": 0.85}
    assert runs[0]["status"] == "finished"


def test_runs_show_gives_the_whole_run(store: Store) -> None:
    out = _ok(store, "runs", "show", store.ids["a"][:8])
    shown = _json(store, "runs", "show", store.ids["a"][:8])

    assert f"Run {store.ids['a']}" in out
    assert "hypothesis: baseline [all rows] [/no cuts]" in out
    assert "delay  [finished]" in out
    assert "author dana" in out
    assert f"flights@1 [{store.ids['first'][:12]}]" in out
    assert "eval.csv" in out
    run = shown["run"]
    assert run["config"] == {"depth": 6}
    assert run["params"] == {"trees": "100"}
    assert run["inputs"] == [store.ids["first"]]
    assert [a["name"] for a in shown["artifacts"]] == ["eval.csv"]
    assert "model: delay-model@1" in out
    assert [(m["name"], m["version"]) for m in shown["models"]] == [("delay-model", 1)]


def test_runs_compare_shows_the_differences(store: Store) -> None:
    a, b = store.ids["a"], store.ids["b"]
    out = _ok(store, "runs", "compare", a[:8], b[:8])
    compared = _json(store, "runs", "compare", a[:8], b[:8])

    assert "deeper trees help" in out
    assert "depth" in out and "trees" in out and "flights@2" in out
    assert [(d["name"], d["left"], d["right"]) for d in compared["config"]] == [("depth", 6, 8)]
    assert [(d["name"], d["left"], d["right"]) for d in compared["params"]] == [
        ("trees", "100", "200")
    ]
    assert compared["inputs"][0]["right"].startswith("flights@2")
    (auc,) = compared["metrics"]
    assert auc["name"] == "auc"
    assert auc["delta"] == pytest.approx(0.05)


def test_lineage_walks_downstream_and_upstream(store: Store) -> None:
    down = _ok(store, "lineage", "flights@1", "--downstream")
    up = _json(store, "lineage", "delay-model@1", "--upstream")

    assert f"dataset flights@1 [{store.ids['first'][:12]}]" in down
    assert f"run {store.ids['a'][:12]}" in down
    assert "model delay-model@1" in down and "artifact eval.csv" in down
    assert up["node"]["label"] == "model delay-model@1"
    (run,) = up["children"]
    assert (run["relation"], run["node"]["id"]) == ("produced", store.ids["a"])
    assert [child["node"]["id"] for child in run["children"]] == [store.ids["first"]]


def test_lineage_as_of_a_past_time(store: Store) -> None:
    before = _json(store, "lineage", "flights@2", "--downstream", "--as-of", store.ids["between"])
    now = _json(store, "lineage", "flights@2", "--downstream")

    assert before["children"] == []
    assert [child["node"]["id"] for child in now["children"]] == [store.ids["b"]]


def test_events_show_who_did_what(store: Store) -> None:
    out = _ok(store, "events")
    found = _json(store, "events", "--since", datetime(2020, 1, 1, tzinfo=UTC).isoformat())

    assert "dana  dataset.logged dataset" in out
    assert f"run.started run {store.ids['b'][:12]} - deeper trees help" in out
    actions = [(e["action"], e["subject_id"]) for e in found]
    assert ("model.logged", store.ids["model"]) in actions
    assert ("run.finished", store.ids["a"]) in actions
    assert {e["actor"] for e in found} == {"dana"}


def test_unknown_ids_and_names_say_what_to_do_next(store: Store) -> None:
    assert "No run 'feedface' in this store. List runs: prodml runs list" in _fails(
        store, "runs", "show", "feedface"
    )
    assert "'feedface'" in _fails(store, "runs", "compare", store.ids["a"], "feedface")
    assert "nope@latest" in _fails(store, "datasets", "show", "nope")
    message = _fails(store, "datasets", "diff", "flights@1", "flights@9")
    assert "flights@9" in message and "prodml datasets list" in message
    message = _fails(store, "lineage", "nope@1")
    assert "'nope@1'" in message and "NAME@VERSION" in message


def test_bad_input_is_one_line_with_the_fix(store: Store) -> None:
    message = _fails(store, "lineage", "flights@1", "--as-of", "last tuesday")
    assert "--as-of 'last tuesday' is not a time" in message and "ISO 8601" in message
    assert "--since 'soon' is not a time" in _fails(store, "events", "--since", "soon")
    missing = store.folder / "missing.csv"
    message = _fails(store, "datasets", "log", "trips", str(missing))
    assert str(missing) in message and "Check the path" in message
    broken = store.folder / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    message = _fails(store, "datasets", "log", "broken", str(broken))
    assert str(broken) in message and "Check the file" in message


def test_lineage_follows_an_alias_as_models_commands_do(store: Store) -> None:
    _ok(store, "models", "promote", "delay-model", "1", "--force", "--why", "no suite yet")

    by_alias = _json(store, "lineage", "delay-model@champion")
    by_version = _json(store, "lineage", "delay-model@1")

    assert by_alias == by_version
    assert by_alias["node"]["label"] == "model delay-model@1"
    message = _fails(store, "lineage", "delay-model@staging")
    assert "no alias 'staging'" in message and "prodml models history delay-model" in message


def test_events_take_the_relative_times_changes_takes(store: Store) -> None:
    recent = _json(store, "events", "--since", "1h")
    changed = _ok(store, "changes", "--since", "24h")

    assert ("run.finished", store.ids["a"]) in [(e["action"], e["subject_id"]) for e in recent]
    assert _json(store, "events", "--since", "now") == []
    assert "dataset" in changed
    message = _fails(store, "events", "--since", "a while")
    assert "--since 'a while' is not a time" in message and "30m, 1h, 24h, 7d, 2w" in message
