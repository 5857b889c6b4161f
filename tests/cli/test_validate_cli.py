"""``prodml validate``, ``prodml checks infer`` and ``prodml profile``, run as a user
runs them: a real process on a real store, with exit code 1 only when blocked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import prodml
from prodml.client import Client

SCRIPT = Path(sys.executable).parent / "prodml"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "prodml.cli.main"]
CITIES = ["Oslo", "Lima", "Rome", "Kyiv"]


@dataclass(frozen=True)
class Store:
    home: Path
    folder: Path


def _trips(seed: int, rows: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "fare": rng.gamma(4.0, 25.0, rows),
            "distance": rng.normal(800.0, 200.0, rows),
            "city": rng.choice(CITIES, rows, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )


def _write(frame: pd.DataFrame, path: Path) -> None:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """Eight logged versions of trips, and batch files beside them."""
    folder = tmp_path_factory.mktemp("validate-cli")
    home = folder / ".prodml"
    client = Client(
        home=str(home),
        metadata_url=f"sqlite:///{home / 'prodml.db'}",
        artifact_url=str(home / "blobs"),
        user="dana",
    )
    try:
        for seed in range(8):
            prodml.log_dataset("trips", _trips(seed), client=client)
    finally:
        client.close()
    _write(_trips(100), folder / "clean.parquet")
    nulls = _trips(101)
    nulls.loc[nulls.sample(frac=0.2, random_state=0).index, "distance"] = None
    _write(nulls, folder / "nulls.parquet")
    _write(
        _trips(102).assign(fare=lambda f: f["fare"].map("{:.2f} EUR".format)),
        folder / "text.parquet",
    )
    (folder / "notes.txt").write_text("just some words\n")
    (folder / "broken.parquet").write_text("this is text, not Parquet\n")
    return Store(home, folder)


def _prodml(store: Store, *args: str) -> subprocess.CompletedProcess[str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    result = subprocess.run(
        [*COMMAND, *args],
        env={**kept, "PRODML_HOME": str(store.home), "PRODML_USER": "dana", "COLUMNS": "1000"},
        cwd=store.folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert "Unexpected error" not in result.stderr, result.stderr
    return result


def _json(store: Store, *args: str) -> tuple[int, Any]:
    result = _prodml(store, *args, "--json")
    return result.returncode, json.loads(result.stdout)


def test_validate_writes_a_self_contained_html_report_and_prints_a_summary(store: Store) -> None:
    result = _prodml(store, "validate", "text.parquet", "--against", "trips", "--html", "out.html")

    assert result.returncode == 1  # blocked
    first = result.stdout.splitlines()[0]
    assert first.startswith("BLOCKED  text.parquet: 2000 rows")
    assert "against 8 version(s) of trips (trips@1..trips@8)" in first
    assert "1 hard, 0 soft, 0 drift" in first
    assert "hard: Column 'fare' is large_string; in history it was double." in result.stdout
    assert "Most likely at fault: fare" in result.stdout
    assert "Report: out.html" in result.stdout
    page = (store.folder / "out.html").read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "Blocked" in page and "text.parquet" in page and "large_string" in page
    assert "http://" not in page and "https://" not in page
    assert "<script src" not in page and "<link" not in page


def test_validate_json_says_whether_to_alarm_and_exits_1_only_when_blocked(store: Store) -> None:
    nulls_code, nulls = _json(store, "validate", "nulls.parquet", "--against", "trips")
    text_code, text = _json(store, "validate", "text.parquet", "--against", "trips")

    assert (nulls_code, nulls["alarm"], nulls["blocked"]) == (0, True, False)
    assert nulls["columns_at_fault"] == ["distance"]
    (finding,) = nulls["findings"]
    assert (finding["kind"], finding["statistic"], finding["observed"]) == (
        "soft",
        "null_share",
        0.2,
    )
    assert (text_code, text["alarm"], text["blocked"]) == (1, True, True)
    assert text["columns_at_fault"] == ["fare"]
    assert text["findings"][0]["score"] is None  # JSON has no infinity: hard findings have none


def test_checks_infer_writes_a_file_that_validate_uses(store: Store) -> None:
    inferred = _prodml(store, "checks", "infer", "trips", "-o", "trips.yaml")
    doc = yaml.safe_load((store.folder / "trips.yaml").read_text())
    doc["columns"]["distance"]["null_share"]["max"] = 0.5  # this week 20% is expected
    (store.folder / "relaxed.yaml").write_text(yaml.safe_dump(doc))
    code, result = _json(
        store, "validate", "nulls.parquet", "--against", "trips", "--checks", "relaxed.yaml"
    )

    assert inferred.returncode == 0, inferred.stderr
    assert inferred.stdout.startswith("Wrote trips.yaml: 3 columns, from 8 version(s) of trips")
    assert list(doc["columns"]) == ["fare", "distance", "city"]
    assert (code, result["alarm"]) == (0, False)


def test_profile_prints_a_row_per_column(store: Store) -> None:
    result = _prodml(store, "profile", "clean.parquet")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "clean.parquet: 2,000 rows, 0 duplicate rows" in lines[0]
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if line.startswith("│")]
    assert [row[:3] for row in cells] == [
        ["fare", "double", "0"],
        ["distance", "double", "0"],
        ["city", "large_string", "0"],
    ]
    assert cells[2][4:7] == ["Kyiv", "-", "Rome"]  # text: min and max, no median


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("profile", "notes.txt"), "notes.txt is not a table file"),
        (("validate", "broken.parquet", "--against", "trips"), "Cannot read broken.parquet"),
    ],
)
def test_a_file_that_is_not_a_table_is_one_line_and_exit_1(
    store: Store, args: tuple[str, ...], says: str
) -> None:
    result = _prodml(store, *args)

    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: ") and says in line
    assert result.stdout == ""
