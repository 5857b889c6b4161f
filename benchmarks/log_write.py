"""The prediction log's write path: rows per second through ``Recorder.add``, the
recorder's drain and the writer's flush to a Parquet segment, against the way the
log was written before (a dict per row, then ``pa.Table.from_pydict`` inferring
every type), measured in the same run on the same requests.

    .venv/bin/python benchmarks/log_write.py            # 200,000 rows, 3 rounds
    .venv/bin/python benchmarks/log_write.py --quick    # 20,000 rows, 1 round

Prints rows/s for both and their ratio (goal: the typed columns at least as fast)."""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from prodml.domain.artifact import ModelVersion
from prodml.predict.predictor import Predictor
from prodml.predictions.segments import table_of, write_segment
from prodml.serve.recorder import Entry, Recorder
from prodml.serve.served import Served

NUMBERS = [f"x{i}" for i in range(8)]
SIGNATURE = {
    "kind": "columns",
    "columns": [{"name": n, "type": "double"} for n in NUMBERS]
    + [{"name": "city", "type": "string"}, {"name": "visits", "type": "int64"}],
}


class Zero:
    def predict(self, frame: Any) -> np.ndarray:
        return np.zeros(len(frame))


def served() -> Served:
    version = ModelVersion(
        id="m-v1", name="m", version=1, run_id="run", digest="0" * 64, flavor="pyfunc",
        author="bench", created_at=datetime.now(UTC), signature=SIGNATURE,
    )  # fmt: skip
    return Served(Predictor(version, Zero()), timeout=2.0)


def entries(version: Served, count: int) -> list[Entry]:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(count, len(NUMBERS))).tolist()
    return [
        Entry(
            model="m",
            request_id=f"r{i}",
            ts=time.time(),
            rows=[{**dict(zip(NUMBERS, values[i], strict=True)), "city": "paris", "visits": i}],
            answers=[0.5],
            served=version,
            answered_by=version,
            shadow=None,
            variant="champion",
            rollout_id=None,
            step=None,
            routing_key=None,
            latency_ms=1.2,
            error=None,
            fallback=None,
        )
        for i in range(count)
    ]


def typed_columns(folder: Path, made: list[Entry]) -> float:
    """Seconds for the recorder's path: add each request, drain, flush."""
    recorder = Recorder(folder, flush_interval=3600.0, interval=3600.0)
    started = time.perf_counter()
    for entry in made:
        recorder.add(entry)
    recorder.drain()
    recorder.writer.flush()
    elapsed = time.perf_counter() - started
    recorder.close()
    assert recorder.health()["written"] == len(made)
    return elapsed


def dicts_then_table(folder: Path, made: list[Entry]) -> float:
    """Seconds for the former path: a dict per row, then ``from_pydict``."""
    started = time.perf_counter()
    rows = []
    for entry in made:
        at = datetime.fromtimestamp(entry.ts, UTC)
        for position, row in enumerate(entry.rows):
            rows.append(
                {
                    "request_id": entry.request_id, "ts": at, "model": entry.model,
                    "version": entry.served.number, "assigned": entry.served.number,
                    "variant": entry.variant, "rollout_id": entry.rollout_id,
                    "step": entry.step, "routing_key": entry.routing_key,
                    "status": "ok" if entry.error is None else "error", "error": entry.error,
                    "fallback": entry.fallback, "latency_ms": entry.latency_ms,
                    "output": entry.answers[position], "shadow_version": None,
                    "shadow_output": None, "shadow_error": None,
                    "inputs": entry.served.spec.logged(row),
                }
            )  # fmt: skip
    write_segment(folder, "m", table_of(rows, ("output", "shadow_output")))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    arguments = parser.parse_args()
    rows, rounds = (20_000, 1) if arguments.quick else (arguments.rows, arguments.rounds)
    made = entries(served(), rows)
    best = {"typed columns": float("inf"), "dicts then from_pydict": float("inf")}
    with tempfile.TemporaryDirectory() as scratch:
        typed_columns(Path(scratch) / "warm-typed", made[:1000])  # imports, first calls
        dicts_then_table(Path(scratch) / "warm-dicts", made[:1000])
        for attempt in range(rounds):
            for name, run in (
                ("typed columns", typed_columns),
                ("dicts then from_pydict", dicts_then_table),
            ):
                folder = Path(scratch) / f"{attempt}-{name.split()[0]}"
                best[name] = min(best[name], run(folder, made))
    for name, seconds in best.items():
        print(f"{name:>24}: {rows / seconds:>12,.0f} rows/s  ({seconds:.3f} s for {rows:,} rows)")
    ratio = best["dicts then from_pydict"] / best["typed columns"]
    verdict = "met" if ratio >= 1 else "NOT met"
    print(f"{'ratio':>24}: {ratio:.2f}x the former rows/s (goal >= 1.00: {verdict})")


if __name__ == "__main__":
    main()
