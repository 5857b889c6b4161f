"""The prediction log at scale: large Parquet segments in the log's layout
(``<log>/<model>/<day>/<time>-<pid>-<random>.parquet``, labels under ``_labels``),
each row copied from a row the demo's gateway logged (its inputs, answer and
latency), with new ids, times, model and version."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DAY = 86_400.0
HOUR = 3_600.0
PROFILED_DAYS = 8  # the monitoring page shows the last 168 windows and the first few
LABELLED = 0.2  # share of requests whose label arrives
LABELS = "_labels"
SHADOW = ("shadow_version", "shadow_output", "shadow_error")


def template_rows(log: Path, model: str) -> tuple[pa.Table, pa.Table | None]:
    """The demo's served rows (segments of the one schema most of them share) and labels."""
    served = [
        pq.read_table(path)
        for path in sorted((log / model).glob("*/*.parquet"))
        if not path.name.startswith("shadow-")
    ]
    common = max({t.schema for t in served}, key=lambda s: sum(t.schema == s for t in served))
    labels = [pq.read_table(path) for path in sorted((log / LABELS).glob("*/*.parquet"))]
    return (
        pa.concat_tables([t for t in served if t.schema == common]),
        pa.concat_tables(labels) if labels else None,
    )


def write_log(
    log: Path, template: tuple[pa.Table, pa.Table | None], models: dict[str, int], rows: int,
    start: float, days: int, artifacts: Any,
) -> dict[tuple[str, float], tuple[str, int]]:  # fmt: skip
    """``rows`` predictions spread evenly over ``models`` (name -> serving version) and
    ``days`` days from ``start``, one segment per model and day. Each hour's rows are
    profiled as the monitor profiles a traffic window (its inputs and the prediction),
    the profile stored as a blob: the first model's first day and last PROFILED_DAYS
    (profiling every hour of every model would take most of the seeding's time), the
    other hours reusing those profiles. Returns (model, hour start) -> (profile
    digest, rows)."""
    served, labels = template
    rng = np.random.default_rng(7)
    per_segment = max(1, rows // (len(models) * days))
    hours: dict[tuple[str, float], tuple[str, int]] = {}
    for model, version in models.items():
        for day in range(days):
            begin = start + day * DAY
            table = _segment(served, model, version, begin, per_segment, rng)
            _write(log / model, begin, table)
            if labels is not None:
                _write(log / LABELS, begin + DAY - 1, _labels(labels, table, rng))
            profiled = model == next(iter(models)) and (day == 0 or day >= days - PROFILED_DAYS)
            for (_, at), (digest, count) in _hours(artifacts, model, begin, table, profiled):
                hours[(model, at)] = (digest, count)
    return _spread(hours)


def _spread(
    hours: dict[tuple[str, float], tuple[str, int]],
) -> dict[tuple[str, float], tuple[str, int]]:
    """Each hour of every model with a profile: the first model's of that hour where it
    was profiled, else one of the profiled hours in turn."""
    by_hour = {at: digest for (_, at), (digest, _) in hours.items() if digest}
    pool = [by_hour[at] for at in sorted(by_hour)]
    filled = {}
    for number, ((model, at), (digest, count)) in enumerate(sorted(hours.items())):
        chosen = digest or by_hour.get(at) or (pool[number % len(pool)] if pool else "")
        filled[(model, at)] = (chosen, count)
    return filled


def _hours(
    artifacts: Any, model: str, begin: float, table: pa.Table, profiled: bool
) -> list[tuple[tuple[str, float], tuple[str, int]]]:
    from prodml.data.profile import profile_table

    seconds = table.column("ts").cast(pa.int64()).to_numpy() / 1e6
    edges = np.searchsorted(seconds, begin + HOUR * np.arange(25))
    inputs = table.column("inputs").combine_chunks().flatten()
    names = [field.name for field in table.schema.field("inputs").type]
    made = []
    for hour in range(24):
        low, high = int(edges[hour]), int(edges[hour + 1])
        at = begin + hour * HOUR
        if high <= low or not profiled:
            made.append(((model, at), ("", high - low)))
            continue
        columns = [column.slice(low, high - low) for column in inputs]
        columns.append(table.column("output").slice(low, high - low))
        window = pa.table(columns, names=[*names, "prediction"])
        profile = profile_table(window, f"{model} {_strftime('%Y-%m-%dT%H:%M:%S+00:00', at)}")
        digest, _ = artifacts.put_bytes(profile.to_bytes())
        made.append(((model, at), (digest, high - low)))
    return made


def _segment(
    served: pa.Table, model: str, version: int, begin: float, count: int, rng: np.random.Generator
) -> pa.Table:
    table = served.take(rng.integers(0, served.num_rows, count))
    prefix = uuid.uuid4().hex[:16]
    counter = pc.utf8_lpad(pc.cast(pa.array(np.arange(count)), pa.string()), 16, "0")
    micros = np.sort(rng.uniform(begin, begin + DAY, count) * 1e6).astype("int64")
    replaced = {
        "row_id": pc.binary_join_element_wise(prefix, counter, ""),
        "request_id": pc.binary_join_element_wise(prefix[::-1], counter, ""),
        "ts": pa.array(micros, pa.timestamp("us", tz="UTC")),
        "model": pa.array(np.full(count, model)),
        "version": pa.array(np.full(count, version, dtype="int64")),
        "assigned": pa.array(np.full(count, version, dtype="int64")),
        "variant": pa.array(np.full(count, "champion")),
    }
    for name in ("rollout_id", "step", "routing_key", *SHADOW):  # the champion alone serves
        index = table.schema.get_field_index(name)
        if index >= 0:
            replaced[name] = pa.nulls(count, table.schema.field(index).type)
    for name, column in replaced.items():
        index = table.schema.get_field_index(name)
        table = table.set_column(index, table.schema.field(index), column)
    return table


def _labels(template: pa.Table, served: pa.Table, rng: np.random.Generator) -> pa.Table:
    chosen = np.flatnonzero(rng.random(served.num_rows) < LABELLED)
    table = template.take(rng.integers(0, template.num_rows, len(chosen)))
    lag = rng.exponential(3600.0, len(chosen))
    served_at = served.column("ts").take(chosen).cast(pa.int64()).to_numpy()
    labelled = (served_at + lag * 1e6).astype("int64")
    replaced = {
        "request_id": served.column("request_id").take(chosen),
        "model": served.column("model").take(chosen),
        "labelled_at": pa.array(labelled, pa.timestamp("us", tz="UTC")),
        "ingested_at": pa.array(labelled, pa.timestamp("us", tz="UTC")),
        "lag_seconds": pa.array(lag),
    }
    for name, column in replaced.items():
        index = table.schema.get_field_index(name)
        if index >= 0:
            table = table.set_column(index, table.schema.field(index), column)
    return table


def _write(folder: Path, at: float, table: pa.Table) -> None:
    day = folder / _strftime("%Y-%m-%d", at)
    day.mkdir(parents=True, exist_ok=True)
    name = f"{_strftime('%H%M%S', at)}-{os.getpid()}-{uuid.uuid4().hex[:12]}.parquet"
    pq.write_table(table, day / name, compression="zstd")


def _strftime(pattern: str, at: float) -> str:
    import time

    return time.strftime(pattern, time.gmtime(at))
