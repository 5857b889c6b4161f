"""Compaction of the prediction log: queries read the same rows, with the same types,
before, during and after it; the files it replaces stay until no reader can still be
reading them; a folder another compaction holds is skipped."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from log_rows import COLUMNS, buffered, log_row

import prodml
from prodml.client import Client
from prodml.monitor import windows
from prodml.monitor.spec import MonitorSpec
from prodml.predictions import compaction, labels, query
from prodml.predictions.layout import InputLayout, input_layout
from prodml.predictions.rows import LogRows
from prodml.predictions.segments import write_quarantine, write_segment, writer
from prodml.stores.log_places import open_log_files

NOON = datetime(2025, 3, 1, 12, tzinfo=UTC)
DAY = NOON.strftime("%Y-%m-%d")
CHANGED = input_layout(  # the model's next version takes another column, as text
    "m-v2",
    {
        "kind": "columns",
        "columns": [{"name": "a", "type": "double"}, {"name": "c", "type": "string"}],
    },
)
JSON_INPUTS = input_layout("m-v3", None)  # a version logged without a signature


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "predictions"


def _served(folder: Path, first: int, count: int, pid: int, layout: InputLayout = COLUMNS) -> Path:
    """``count`` answered rows ``r<first>``... written as one segment by process ``pid``."""
    inputs = {"columns": {"a": 0.5, "b": -0.5}, "json": {"a": 0.5, "flag": True}}
    rows = [
        log_row(
            f"r{first + i}",
            row_id=f"row{first + i}",
            ts=NOON + timedelta(seconds=first + i),
            status="ok" if (first + i) % 7 else "error",
            version={"m-v1": 1, "m-v2": 2}.get(layout.key, 3),
            inputs={"a": 0.25 * i, "c": f"x{i}"} if layout is CHANGED else inputs[layout.kind],
        )
        for i in range(count)
    ]
    table, bad = buffered(rows, layout).table()
    assert not bad
    return _as_process(write_segment(folder, "m", table, at=NOON.timestamp()), pid)


def _shadowed(folder: Path, numbers: range, pid: int) -> Path:
    """The shadow's late answers for rows ``row<n>``, as a shadow segment."""
    answers = LogRows("m", None)
    row_ids = [f"row{n}" for n in numbers]
    times = [(NOON + timedelta(seconds=n)).timestamp() for n in numbers]
    answers.add_shadowed(row_ids, times, 2, [0.5 * n for n in numbers], [None] * len(row_ids))
    table, _ = answers.table()
    return _as_process(write_segment(folder, "m", table, "shadow-", NOON.timestamp()), pid)


def _as_process(written: str, pid: int) -> Path:
    """The segment as gateway process ``pid`` would have named it."""
    path = Path(written)
    renamed = path.with_name(path.name.replace(f"-{writer()}-", f"-{pid}-"))
    path.rename(renamed)
    return renamed


def _log(folder: Path) -> list[Path]:
    """A day of two gateway processes, with late shadow answers, a model whose inputs
    changed between versions, and labels ingested twice (one request relabelled)."""
    written = [_served(folder, 10 * i, 10, 101 + i % 2) for i in range(4)]
    written += [_shadowed(folder, range(10 * i, 10 * i + 5), 101 + i % 2) for i in range(4)]
    written += [_served(folder, 100 + 10 * i, 10, 101, CHANGED) for i in range(3)]
    written += [_served(folder, 200 + 10 * i, 5, 102, JSON_INPUTS) for i in range(2)]
    for round_, value in enumerate((0, 1)):
        ids = ["r1", "r2", "r11"] if round_ == 0 else ["r1", "r105"]
        labels.ingest(folder, pa.table({"request_id": ids, "label": [value] * len(ids)}))
    return written


def _everything(folder: Path) -> dict[str, Any]:
    """Every row and column type a reader sees, in an order that does not depend on files
    (DuckDB orders the columns and struct fields of files with unlike schemas as the
    first file listed has them)."""
    found: dict[str, Any] = {}
    for view, key in (("predictions", "row_id"), ("labels", "request_id"), ("labelled", "row_id")):
        table = query.query(folder, f"SELECT * FROM {view}")
        types = {field.name: _unordered(field.type) for field in table.schema}
        found[view] = (types, sorted(table.to_pylist(), key=lambda row: str(row[key])))
    return found


def _unordered(kind: pa.DataType) -> object:
    if isinstance(kind, pa.StructType):
        return {field.name: _unordered(field.type) for field in kind}
    return kind


def _files(folder: Path) -> list[str]:
    return query.prediction_files(folder) + query.label_files(folder)


def test_a_compacted_file_beside_the_segments_it_replaces_does_not_double_rows(
    folder: Path,
) -> None:
    sources = [_served(folder, 10 * i, 10, 101) for i in range(3)]
    merged = pa.concat_tables([pq.read_table(path) for path in sources])
    names = json.dumps([path.name for path in sources]).encode()
    target = sources[0].parent / "120000-101-c0a1e5000001.parquet"
    pq.write_table(merged.replace_schema_metadata({b"prodml.replaces": names}), target)

    counted = query.query(
        folder, "SELECT count(*) AS n, count(DISTINCT row_id) AS d FROM predictions"
    )

    assert counted.to_pylist() == [{"n": 30, "d": 30}]
    assert query.prediction_files(folder) == [str(target)]


def test_queries_read_the_same_rows_and_types_after_compaction(folder: Path) -> None:
    written = _log(folder)
    quarantined = Path(write_quarantine(folder, "m", [{"x": 1}], ["no segment took it"]))
    before = _everything(folder)
    assert len(before["predictions"][1]) == 80 and len(before["labels"][1]) == 4

    report = compaction.compact(folder, older_than=0.0)

    after = _everything(folder)
    assert after == before
    shadowed = [row for row in after["predictions"][1] if row["shadow_version"] is not None]
    assert len(shadowed) == 20  # the late answers still joined to their rows
    assert report.merged == len(written) + 2  # and the two label files
    # per kind and schema, whatever the process: served (101's and 102's, 101's changed
    # inputs, 102's JSON inputs), shadow answers (101's and 102's), and the labels
    assert report.written == 5 and len(_files(folder)) == 5
    assert report.rows == 80 + 20 + 5 and report.deleted == 0
    assert quarantined.exists() and not list(quarantined.parent.glob("*.parquet"))


def test_segments_of_unlike_schemas_are_never_merged(folder: Path) -> None:
    for i in range(2):
        _served(folder, 10 * i, 10, 101)
        _served(folder, 100 + 10 * i, 10, 101, CHANGED)
    before = _everything(folder)["predictions"]

    compaction.compact(folder, older_than=0.0)

    assert _everything(folder)["predictions"] == before
    schemas = [pq.read_schema(path).field("inputs").type for path in _files(folder)]
    assert sorted(map(str, schemas)) == [
        "struct<a: double, b: double>",
        "struct<a: double, c: string>",
    ]


def test_a_compacted_file_is_named_and_laid_out_like_a_segment(folder: Path) -> None:
    sources = [_served(folder, 30 - 10 * i, 10, 4242) for i in range(3)]  # newest first
    shadows = [_shadowed(folder, range(10 * i, 10 * i + 3), 4242) for i in range(2)]

    compaction.compact(folder, older_than=0.0)

    served, shadow = sorted(_files(folder), key=lambda name: "shadow-" in name)
    for path, replaced in ((served, sources), (shadow, shadows)):
        name = Path(path).name
        named = query.NAME.match(name)
        assert named is not None and named["writer"] == query.EVERY_WRITER
        assert query.is_compacted(name) and name.startswith("shadow-") == (path == shadow)
        assert set(pq.read_table(path).column("_writer").to_pylist()) == {"4242"}
        footer = pq.read_metadata(path)
        assert footer.row_group(0).column(0).compression == "ZSTD"
        names = json.loads(footer.metadata[b"prodml.replaces"])
        assert names == sorted(p.name for p in replaced)
    times = pq.read_table(served).column("ts").to_pylist()
    assert times == sorted(times) and len(times) == 30


def test_a_file_holds_a_bounded_number_of_rows(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compaction, "MAX_ROWS", 25)
    for i in range(6):
        _served(folder, 10 * i, 10, 101)

    report = compaction.compact(folder, older_than=0.0)

    assert report.written == 3 and report.merged == 6
    assert [pq.read_metadata(f).num_rows for f in _files(folder)] == [20, 20, 20]


def test_no_file_spans_a_pause_so_a_window_in_it_reads_no_other_schema(folder: Path) -> None:
    for first in (0, 20, 900, 920):  # version 1 served, paused 14 minutes, served again
        _served(folder, first, 10, 101)
    for first in (400, 420):  # meanwhile version 2, whose inputs differ
        _served(folder, first, 10, 101, CHANGED)
    spec = MonitorSpec(model="m", window=300.0, settle=0.0)
    start = NOON.timestamp() + 300
    before = windows.read(folder, spec, start, start + 300)

    report = compaction.compact(folder, older_than=0.0)

    after = windows.read(folder, spec, start, start + 300)
    assert before.inputs is not None and after.inputs is not None
    assert after.inputs.column_names == before.inputs.column_names == ["a", "c", "prediction"]
    assert report.written == 3 and report.merged == 6


def test_a_listing_taken_before_or_during_a_compaction_counts_each_row_once(
    folder: Path,
) -> None:
    _log(folder)
    listed_before = query.prediction_files(folder)

    compaction.compact(folder, older_than=0.0)  # merged files written, sources not deleted

    assert all(Path(name).exists() for name in listed_before)
    listed_during = query.prediction_files(folder)
    assert len(listed_during) < len(listed_before)
    for listing in (listed_before, listed_during):
        served = [name for name in listing if not Path(name).name.startswith("shadow-")]
        connection = duckdb.connect()
        counted = connection.execute(
            "SELECT count(*), count(DISTINCT row_id) FROM read_parquet(?, union_by_name=true)",
            [served],
        ).fetchall()
        connection.close()
        assert counted == [(80, 80)]


def test_sources_are_kept_until_their_compacted_file_is_past_its_grace(folder: Path) -> None:
    sources = [_served(folder, 10 * i, 10, 101) for i in range(3)]
    started = time.time()

    first = compaction.compact(folder, older_than=0.0, grace=600.0)
    early = compaction.compact(folder, older_than=0.0, grace=600.0, now=started + 300)

    assert first.merged == 3 and early.merged == early.deleted == 0
    assert all(path.exists() for path in sources)
    late = compaction.compact(folder, older_than=0.0, grace=600.0, now=started + 3600)
    assert late.deleted == 3 and not any(path.exists() for path in sources)
    assert query.query(folder, "SELECT count(*) AS n FROM predictions").to_pylist() == [{"n": 30}]


def test_segments_younger_than_older_than_are_left_alone(folder: Path) -> None:
    sources = [_served(folder, 10 * i, 10, 101) for i in range(3)]

    young = compaction.compact(folder, older_than=600.0)
    assert young.merged == 0 and all(path.exists() for path in sources)

    old = compaction.compact(folder, older_than=600.0, grace=3600.0, now=time.time() + 601)
    assert old.merged == 3


def test_compacting_again_folds_the_earlier_compacted_file_in(folder: Path) -> None:
    sources = [_served(folder, 10 * i, 10, 101) for i in range(3)]
    compaction.compact(folder, older_than=0.0)
    (earlier,) = query.prediction_files(folder)
    newer = [_served(folder, 30 + 10 * i, 10, 101) for i in range(2)]

    again = compaction.compact(folder, older_than=0.0)
    Path(earlier).unlink()  # the earlier file may go before its sources: the newer names them

    assert again.merged == 3 and again.written == 1
    (latest,) = query.prediction_files(folder)
    replaced = query.replaced_names(open_log_files(folder), latest)
    assert replaced == {p.name for p in [*sources, *newer]} | {Path(earlier).name}
    counted = query.query(
        folder, "SELECT count(*) AS n, count(DISTINCT row_id) AS d FROM predictions"
    )
    assert counted.to_pylist() == [{"n": 50, "d": 50}]
    compaction.compact(folder, older_than=0.0, grace=0.0)
    assert [p.name for p in Path(latest).parent.glob("*.parquet")] == [Path(latest).name]


def test_what_a_killed_compaction_left_reads_correctly_and_is_tidied(folder: Path) -> None:
    sources = [_served(folder, 10 * i, 10, 101) for i in range(3)]
    day = sources[0].parent
    half = day / f".{sources[0].stem[:-12]}c0a1e5000002.parquet.compacting"
    half.write_bytes(b"PAR1 half of a file")

    assert len(query.prediction_files(folder)) == 3
    report = compaction.compact(folder, older_than=0.0)

    assert not half.exists() and report.written == 1
    assert query.query(folder, "SELECT count(*) AS n FROM predictions").to_pylist() == [{"n": 30}]


def test_rows_per_gateway_process_in_a_monitor_window_are_unchanged(folder: Path) -> None:
    _log(folder)
    spec = MonitorSpec(model="m", window=3600.0, settle=0.0)
    start = NOON.timestamp()
    before = windows.read(folder, spec, start, start + 3600)

    compaction.compact(folder, older_than=0.0)

    after = windows.read(folder, spec, start, start + 3600)
    per_process = sorted(before.stats["sources"], key=lambda source: source["process"])
    assert sorted(after.stats["sources"], key=lambda s: s["process"]) == per_process
    assert [source["process"] for source in per_process] == ["101", "102"]
    assert after.rows == before.rows == 80


@pytest.fixture
def held(folder: Path) -> Iterator[Path]:
    """A day folder whose lock another compaction holds."""
    day = _served(folder, 0, 10, 101).parent
    _served(folder, 10, 10, 101)
    with (day / compaction.LOCK).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield day


def test_a_day_folder_another_compaction_holds_is_skipped(folder: Path, held: Path) -> None:
    report = compaction.compact(folder, older_than=0.0)

    assert report.busy == (str(held),) and report.merged == 0
    assert len(query.prediction_files(folder)) == 2


def test_the_sdk_compacts_the_clients_log_and_records_the_counts(tmp_path: Path) -> None:
    client = Client(home=str(tmp_path / "home"), user="tester")
    log = Path(client.settings.log_url)
    for i in range(3):
        _served(log, 10 * i, 10, 101)

    report = prodml.compact_predictions(older_than=0.0, client=client)
    nothing = prodml.compact_predictions(older_than=0.0, client=client)

    assert report.merged == 3 and nothing.merged == 0
    events = [e for e in client.metadata.list_events() if e.action == "predictions.compacted"]
    (event,) = events  # a run that changed nothing records nothing
    assert event.details["merged"] == 3 and event.details["rows"] == 30
    assert event.actor == "tester"
    with pytest.raises(prodml.ProdmlError, match="older_than"):
        prodml.compact_predictions(older_than=-1.0, client=client)
    client.close()


def _prodml(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    result = subprocess.run(
        [sys.executable, "-m", "prodml.cli.main", *args],
        env={**kept, "PRODML_HOME": str(home), "COLUMNS": "200"},
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_the_command_compacts_and_refuses_a_bad_age_naming_the_option(tmp_path: Path) -> None:
    home = tmp_path / ".prodml"
    client = Client(home=str(home), user="tester")
    for i in range(3):
        _served(Path(client.settings.log_url), 10 * i, 10, 101)
    client.close()

    young = _prodml(home, "predictions", "compact")
    done = _prodml(home, "predictions", "compact", "--model", "m", "--older-than", "0m", "--json")
    bad = _prodml(home, "predictions", "compact", "--older-than", "soon")

    assert young.returncode == 0 and "Merged 0 segment(s)" in young.stdout
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)
    assert counts["bytes_after"] > 0 and counts["busy"] == []
    assert [counts[name] for name in ("merged", "written", "rows", "deleted")] == [3, 1, 30, 0]
    assert bad.returncode != 0
    (line,) = [text for text in (bad.stdout + bad.stderr).splitlines() if "Error" in text]
    assert "--older-than" in line and "soon" in line
