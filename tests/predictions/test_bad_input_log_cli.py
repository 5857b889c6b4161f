"""A file in the prediction log that prodml did not write (empty, cut short, foreign),
met by ``prodml predictions compact`` and ``query`` as a user runs them: compaction
merges the segments around it and leaves it; a query names it and says to move it
out; neither ends in a traceback, and no stored row is lost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from log_rows import log_row

from cli.cli_process import run_prodml
from prodml.client import Client
from prodml.errors import DataReadError
from prodml.predictions import compaction, query
from prodml.predictions.segments import table_of, write_segment
from prodml.stores.log_files import LogFiles
from prodml.stores.log_places import open_log_files

DAY = datetime.now(UTC) - timedelta(days=2)
FOLDER = f"m/{DAY:%Y-%m-%d}"
ODD = f"{FOLDER}/{DAY:%H%M%S}-gateway.7-0123456789ab.parquet"  # named like a segment
CONTENTS = {"empty": b"", "cut short": b"PAR1\x00\x01", "text": b"request_id,output\nr1,1\n"}


def _seed(log: LogFiles) -> None:
    """Three one-row segments of model m, two days back."""
    for i in range(3):
        at = DAY + timedelta(seconds=i)
        row = log_row(f"r{i}", row_id=f"row{i}", ts=at)
        write_segment(log, "m", table_of([row], ("output",)), at=at.timestamp())


@pytest.fixture(params=sorted(CONTENTS))
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A store whose log holds three segments and one file that is not Parquet."""
    home = tmp_path / ".prodml"
    client = Client(home=str(home), user="dana")
    _seed(client.log_files)
    client.log_files.write(ODD, lambda handle: handle.write(CONTENTS[request.param]))
    client.close()
    yield home


def _log(home: Path) -> Path:
    return home / "predictions"


def test_compact_merges_the_segments_around_a_file_that_is_not_parquet(home: Path) -> None:
    result = run_prodml(home, "predictions", "compact", "--older-than", "0m")

    assert result.returncode == 0, result.stderr
    assert "Merged 3 segment(s) into 1 file(s): 3 rows" in " ".join(result.stdout.split())
    assert (_log(home) / ODD).exists()
    (_log(home) / ODD).unlink()
    rows = query.query(_log(home), "SELECT request_id FROM predictions ORDER BY 1")
    assert rows.column("request_id").to_pylist() == ["r0", "r1", "r2"]


def test_a_query_names_the_file_that_is_not_parquet_and_says_to_move_it(home: Path) -> None:
    result = run_prodml(home, "predictions", "query", "SELECT count(*) FROM predictions")

    assert result.returncode == 1, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert f"Cannot read the prediction log at {_log(home)}" in message
    assert Path(ODD).name in message
    assert "move it out of the log folder, then run again" in message
    assert len(list((_log(home) / FOLDER).glob("*.parquet"))) == 4


@pytest.fixture(params=["local", "s3"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogFiles]:
    if request.param == "local":
        yield open_log_files(tmp_path / "predictions")
        return
    bucket = request.getfixturevalue("s3_bucket")
    yield open_log_files(f"s3://{bucket}/team/predictions")


def test_compaction_on_object_storage_too_leaves_a_file_that_is_not_parquet(
    log: LogFiles,
) -> None:
    _seed(log)
    log.write(ODD, lambda handle: handle.write(CONTENTS["cut short"]))

    report = compaction.compact(log, older_than=0.0)

    assert (report.merged, report.written, report.rows) == (3, 1, 3)
    assert ODD in [f"{FOLDER}/{entry.name}" for entry in log.files(FOLDER)]


def test_a_query_names_the_file_where_it_lies_not_where_it_was_copied_to(log: LogFiles) -> None:
    _seed(log)
    log.write(ODD, lambda handle: handle.write(CONTENTS["cut short"]))

    with pytest.raises(DataReadError) as refused:
        query.query(log.url, "SELECT count(*) FROM predictions")

    message = str(refused.value)
    assert f"{log.url.rstrip('/')}/{ODD}" in message, message
    assert "prodml-log-cache" not in message
    assert "move it out of the log folder" in message


def test_compact_leaves_a_folder_not_named_for_a_day_as_it_is(tmp_path: Path) -> None:
    home = tmp_path / ".prodml"
    client = Client(home=str(home), user="dana")
    _seed(client.log_files)
    client.close()
    kept = _log(home) / "m" / "copy-by-hand"
    kept.mkdir()
    for segment in (_log(home) / FOLDER).glob("*.parquet"):
        (kept / segment.name).write_bytes(segment.read_bytes())
    before = sorted(path.name for path in kept.iterdir())

    result = run_prodml(home, "predictions", "compact", "--older-than", "0m")

    assert result.returncode == 0, result.stderr
    assert "Merged 3 segment(s) into 1 file(s): 3 rows" in " ".join(result.stdout.split())
    assert sorted(path.name for path in kept.iterdir()) == before


@pytest.mark.parametrize(
    "command",
    [["predictions", "compact"], ["predictions", "prune", "--older-than", "90d"]],
)
def test_a_model_neither_the_log_nor_the_store_has_is_named_not_reported_tidy(
    home: Path, command: list[str]
) -> None:
    result = run_prodml(home, *command, "--model", "mm")

    assert result.returncode == 1
    assert " ".join(result.stderr.split()) == (
        "Error: No model 'mm' in this store. List models: prodml models list (or leave out "
        "--model for every model's log)."
    )
    assert run_prodml(home, *command, "--model", "m").returncode == 0
