"""The prediction log on a local folder and on an S3 API (moto's server, through s3fs
as AWS would be reached): the same rows read back, whatever writes, compacts or prunes
beside the readers, and the same errors without a secret in them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from log_rows import log_row

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError, StoreError
from prodml.predictions import compaction, labels, query, retention
from prodml.predictions.segments import table_of, write_quarantine, write_segment
from prodml.predictions.writer import SegmentWriter
from prodml.stores.log_files import LogFiles
from prodml.stores.log_places import open_log_files

NOON = datetime(2025, 3, 1, 12, tzinfo=UTC)
COUNT = "SELECT count(*) AS n, count(DISTINCT row_id) AS d FROM predictions"


@pytest.fixture(params=["local", "s3"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogFiles]:
    """The log's files in a local folder, or under a prefix of a fresh bucket."""
    if request.param == "local":
        yield open_log_files(tmp_path / "predictions")
        return
    bucket = request.getfixturevalue("s3_bucket")
    yield open_log_files(f"s3://{bucket}/team/predictions")


def _segment(log: LogFiles, first: int, count: int, at: datetime, host: str = "") -> str:
    rows = [
        log_row(f"r{first + i}", row_id=f"row{first + i}", ts=at + timedelta(seconds=i))
        for i in range(count)
    ]
    return write_segment(log, "m", table_of(rows, ("output",)), at=at.timestamp())


def _count(log: LogFiles, **narrowed: object) -> dict[str, int]:
    (found,) = query.query(log, COUNT, **narrowed).to_pylist()  # type: ignore[arg-type]
    return {"n": int(found["n"]), "d": int(found["d"])}


def test_two_hosts_write_side_by_side_and_every_row_reads_once(
    log: LogFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number, host in enumerate(["gateway-a", "gateway-b"]):
        monkeypatch.setenv("PRODML_HOST", host)
        writer = SegmentWriter(log, flush_interval=60)
        from log_rows import buffered

        writer.append(buffered([log_row(f"{host}-{i}", row_id=f"{host}-{i}") for i in range(50)]))
        writer.close()
        assert writer.health()["written"] == 50 and writer.health()["dropped"] == 0, number

    files = query.prediction_files(log, "m")
    assert len(files) == 2
    assert {f.rsplit("/", 1)[1].split("-")[1].split(".")[0] for f in files} == {
        "gateway_a",
        "gateway_b",
    }
    assert all(f.startswith(log.path("m/")) for f in files)
    assert _count(log) == {"n": 100, "d": 100}


def test_a_narrow_query_lists_only_the_hours_it_can_need(log: LogFiles) -> None:
    for hour in range(6):
        _segment(log, 10 * hour, 10, NOON + timedelta(hours=hour))
    _segment(log, 100, 10, NOON + timedelta(days=1))

    window = {"since": NOON + timedelta(hours=3), "until": NOON + timedelta(hours=3, minutes=30)}
    files = query.prediction_files(log, "m", **window)

    assert [f.rsplit("/", 1)[1][:2] for f in files] == ["14", "15", "16"]  # one hour of slack
    narrowed = "SELECT count(*) AS n FROM predictions WHERE ts >= $1 AND ts < $2"
    connection = query.connect(log, "m", **window)
    try:
        found = connection.execute(narrowed, [window["since"], window["until"]]).fetchone()
    finally:
        connection.close()
    assert found == (10,)
    assert _count(log) == {"n": 70, "d": 70}


def test_compaction_merges_each_hour_and_readers_never_count_a_row_twice(log: LogFiles) -> None:
    for n in range(160):  # two hours of one writer, a segment each 45 s
        _segment(log, 2 * n, 2, NOON + timedelta(seconds=45 * n))
    before = _count(log)
    seen: list[dict[str, int]] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.append(_count(log))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        report = compaction.compact(log, older_than=0.0, grace=3600.0)
    finally:
        stop.set()
        reader.join()

    assert before == {"n": 320, "d": 320}
    assert report.merged == 160 and report.written == 2 and report.rows == 320
    assert seen and all(counted == before for counted in seen)
    live = query.prediction_files(log, "m")
    assert len(live) == 2 and all(query.is_compacted(f.rsplit("/", 1)[1]) for f in live)
    assert [f.rsplit("/", 1)[1][:2] for f in live] == ["12", "13"]  # one file an hour
    assert _count(log) == before
    assert len(log.files("m/2025-03-01")) == 162  # replaced files stay through the grace

    settled = compaction.compact(log, older_than=0.0, grace=0.0)

    assert settled.deleted == 160 and len(log.files("m/2025-03-01")) == 2
    assert _count(log) == before


def test_two_compactions_of_the_same_files_count_them_once(log: LogFiles) -> None:
    """A claim that lapsed let two compactions merge the same segments: the listing
    keeps the first file made, and a later run deletes the other."""
    for n in range(4):
        _segment(log, 10 * n, 10, NOON + timedelta(minutes=n))
    day = "m/2025-03-01"
    chunk = compaction._chunks(log, day, float("inf"))[0]
    compaction._merge(log, day, chunk)
    compaction._merge(log, day, chunk)  # the second compaction, unaware of the first

    assert len(log.files(day)) == 6
    assert _count(log) == {"n": 40, "d": 40}

    compaction.compact(log, older_than=0.0, grace=0.0)

    assert len(log.files(day)) == 1
    assert _count(log) == {"n": 40, "d": 40}


def test_a_claimed_day_is_skipped_and_named(log: LogFiles) -> None:
    for n in range(3):
        _segment(log, 10 * n, 10, NOON + timedelta(minutes=n))
    with log.claim(f"m/2025-03-01/{compaction.LOCK}") as held:
        assert held
        report = compaction.compact(log, older_than=0.0)
    assert report.merged == 0 and report.busy == (log.path("m/2025-03-01"),)
    assert compaction.compact(log, older_than=0.0).merged == 3  # given back


def test_labels_join_on_the_store(log: LogFiles) -> None:
    _segment(log, 0, 5, NOON)
    report = labels.ingest(log, pa.table({"request_id": ["r1", "r2", "nope"], "label": [1, 0, 1]}))

    assert (report.matched, report.unknown) == (2, 1)
    assert report.segment is not None and report.segment.startswith(log.path("_labels/"))
    joined = query.query(log, "SELECT request_id, label FROM labelled ORDER BY request_id")
    assert joined.to_pylist() == [
        {"request_id": "r1", "label": 1},
        {"request_id": "r2", "label": 0},
    ]


def test_prune_deletes_whole_days_past_the_cutoff_and_keeps_the_rest(log: LogFiles) -> None:
    for day in range(4):
        _segment(log, 10 * day, 10, NOON + timedelta(days=day))
    labels.ingest(log, pa.table({"request_id": ["r1"], "label": [1]}))
    write_quarantine(log, "m", [{"x": 1}], ["kept as it came"])
    now = (NOON + timedelta(days=3)).timestamp()

    report = retention.prune(log, older_than=2 * 86_400 + 3600, model=None, now=now)

    # the cutoff is 2025-03-02 11:00: only 2025-03-01 ended before it
    assert report.deleted == ("m/2025-03-01",) and report.files == 1
    assert _count(log) == {"n": 30, "d": 30}
    assert log.folders("m") == ["2025-03-02", "2025-03-03", "2025-03-04"]
    assert log.folders("_labels") and log.folders("_quarantine/m")  # written today


def test_models_whose_names_hold_a_slash_are_kept_queried_and_pruned_as_others(
    log: LogFiles,
) -> None:
    """A model x/2020-01-01 is not model x's day 2020-01-01: its rows of today stay,
    and team/churn's old day goes with every other model's (each model's folder is one
    level of the log, listed with the others)."""
    old, today = NOON, NOON + timedelta(days=200)
    for model in ("flat", "team/churn", "x/2020-01-01"):
        for at in (old, today):
            row = log_row(f"{model}-{at.day}", model=model, ts=at)
            write_segment(log, model, table_of([row], ("output",)), at=at.timestamp())
    by_model = "SELECT model, count(*) AS n FROM predictions GROUP BY model ORDER BY model"
    every = {"flat": 2, "team/churn": 2, "x/2020-01-01": 2}
    assert {r["model"]: r["n"] for r in query.query(log, by_model).to_pylist()} == every
    one = query.query(log, by_model, model="team/churn").to_pylist()
    assert one == [{"model": "team/churn", "n": 2}]
    assert len(compaction.day_folders(log, "x/2020-01-01")) == 2

    report = retention.prune(log, older_than=90 * 86_400, now=today.timestamp())

    assert len(report.deleted) == 3 and all(d.endswith("/2025-03-01") for d in report.deleted)
    left = {r["model"]: r["n"] for r in query.query(log, by_model).to_pylist()}
    assert left == {"flat": 1, "team/churn": 1, "x/2020-01-01": 1}


@pytest.mark.parametrize("now", [1_764_806_400.123456, 1_764_806_399.999999, 1_900_000_000.5])
def test_prune_reports_the_moment_it_was_given_to_the_second(tmp_path: Path, now: float) -> None:
    """``prodml predictions prune --older-than 2020-01-01`` passes the span back from the
    moment it read the clock, and that moment: the cutoff reported is the date given,
    however long the command took to get there and however the seconds subtract."""
    client = Client(home=str(tmp_path / ".prodml"), user="dana")
    moment = datetime(2020, 1, 1, tzinfo=UTC).timestamp()

    report = prodml.prune_predictions(now - moment, client=client, now=now)
    client.close()

    assert report.cutoff == "2020-01-01T00:00:00+00:00"


def test_prune_refuses_less_than_a_day(tmp_path: Path) -> None:
    client = Client(home=str(tmp_path / "home"), user="tester")
    with pytest.raises(InvalidInputError, match=r"older_than.*90d"):
        prodml.prune_predictions(3600, client=client)
    client.close()


def test_the_log_sits_beside_blobs_on_an_object_store_by_default(
    s3_bucket: str, tmp_path: Path
) -> None:
    client = Client(home=str(tmp_path / "home"), artifact_url=f"s3://{s3_bucket}/prodml")
    assert client.log_files.url == f"s3://{s3_bucket}/prodml/predictions"
    _segment(client.log_files, 0, 3, NOON)

    found = prodml.query_predictions("SELECT count(*) AS n FROM predictions", client=client)

    assert found.to_pylist() == [{"n": 3}]
    assert not (tmp_path / "home" / "predictions").exists()
    client.close()


def test_a_wrong_secret_is_named_without_the_secret(
    s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-123")
    log = open_log_files(f"s3://{s3_bucket}/predictions")

    with pytest.raises(StoreError) as raised:
        query.prediction_files(log, "m")

    message = str(raised.value)
    assert f"s3://{s3_bucket}/predictions" in message and "AWS_SECRET_ACCESS_KEY" in message
    assert "not-the-secret-123" not in message


def test_credentials_in_the_log_url_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"log_url.*AWS_ACCESS_KEY_ID") as raised:
        Client(home=str(tmp_path), log_url="s3://key:secret@bucket/log")
    assert "secret" not in str(raised.value).replace("AWS_SECRET", "")


def test_on_s3_a_query_fetches_each_file_once_and_asks_no_sizes(
    s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files never change once written: a file's rows are copied to the local cache once
    (a compacted file whose footer the listing needs is copied whole, its footer read
    from the copy), and nothing asks the store for a size the listing gave."""
    from prodml.stores import remote_log_files

    log = open_log_files(f"s3://{s3_bucket}/predictions", tmp_path / "cache")
    for n in range(6):
        _segment(log, 10 * n, 10, NOON + timedelta(minutes=n))
    compaction.compact(log, older_than=0.0, grace=3600.0)  # compacted files: footers read
    _segment(log, 100, 10, NOON + timedelta(minutes=30))
    assert isinstance(log, remote_log_files.RemoteLogFiles)
    calls: dict[str, int] = {}
    fetched: list[str] = []

    def counted(name: str) -> None:
        method = getattr(log.fs, name)

        def wrapper(*args: object, **kwargs: object) -> object:
            calls[name] = calls.get(name, 0) + 1
            if name == "get":
                fetched.extend(args[0])  # type: ignore[arg-type]
            return method(*args, **kwargs)

        monkeypatch.setattr(log.fs, name, wrapper)

    for name in ("get", "cat_ranges", "cat_file", "info", "size", "exists", "open"):
        counted(name)
    window = {"since": NOON, "until": NOON + timedelta(hours=1)}

    first = _count(log, **window)
    asked = set(calls)
    calls.clear()
    second = _count(log, **window)

    assert first == second == {"n": 70, "d": 70}
    assert len(fetched) == len(set(fetched)) == 2  # the compacted file, the new segment
    assert asked == {"get"}, f"the first query asked the store for {asked}"
    assert set(calls) == set(), f"the second query asked the store for {calls}"  # listings only
    assert len(list((tmp_path / "cache").rglob("*.parquet"))) == 2


def test_the_local_copies_stay_under_their_bound(
    s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prodml.stores import remote_log_files

    log = open_log_files(f"s3://{s3_bucket}/predictions", tmp_path / "cache")
    for day in range(5):
        _segment(log, 100 * day, 100, NOON + timedelta(days=day))
    size = max(e.size for d in log.folders("m") for e in log.files(f"m/{d}"))
    monkeypatch.setattr(remote_log_files, "CACHE_BYTES", int(size * 2.6))  # two files, and a bit

    for day in range(5):
        moment = NOON + timedelta(days=day)
        assert _count(log, since=moment, until=moment + timedelta(hours=1))["n"] == 100

    assert len(list((tmp_path / "cache").rglob("*.parquet"))) <= 2
    assert _count(log) == {"n": 500, "d": 500}  # the whole log, fetched again
