"""What ``pipelines.py`` measured, and its summary: medians over the attempts, with the
range of the attempts in brackets, and the goals."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from _harness import Row, print_table
from _pipelines_project import CHANGED, STEPS
from _pipelines_runs import Timed

FIRST_OVERHEAD = 0.10  # run_pipeline's first run over the bare functions
RERUN_SHARE = 0.02  # an unchanged rerun, of the first run
RERUN_VS_DVC = 5.0  # an unchanged rerun against dvc repro with nothing to do
CHANGE_RATIO = 1.25  # steps 3-5 rerun against their bare time: "about their own time"
SWEEP_SPEEDUP = 1.7  # --parallel 2 against --parallel 1


@dataclass
class Figures:
    bare: list[Timed] = field(default_factory=list)  # extra: the worker's JSON
    sdk: list[dict[str, Any]] = field(default_factory=list)  # first, again, changed
    cli: dict[str, list[Timed]] = field(default_factory=dict)  # first, again, changed
    dvc: dict[str, list[Timed]] = field(default_factory=dict)
    sweeps: dict[tuple[str, int], Timed] = field(default_factory=dict)  # extra: its JSON

    def add(self, side: dict[str, list[Timed]], key: str, timed: Timed) -> None:
        side.setdefault(key, []).append(timed)


def median(values: list[float]) -> float:
    return statistics.median(values)


def shown(values: list[float], digits: int = 2) -> str:
    """The median in seconds, and the range when there are several values."""
    text = f"{median(values):.{digits}f} s"
    if len(values) > 1:
        text += f" [{min(values):.{digits}f}-{max(values):.{digits}f}]"
    return text


def step_table(figures: Figures) -> None:
    """Each step's time in the first run; prodml's load step imports steps.py (and
    scikit-learn with it), so the bare load is shown with that import."""
    rows = []
    for step in STEPS:
        bare = median([_bare_step(b, step) for b in figures.bare])
        ours = median([s["first"]["steps"][step] for s in figures.sdk])
        rows.append([step, f"{bare:.3f} s", f"{ours:.3f} s", f"{ours - bare:+.3f} s"])
    bare_total = median([b.extra["seconds"] for b in figures.bare])
    sdk_total = median([s["first"]["seconds"] for s in figures.sdk])
    steps_total = median([sum(s["first"]["steps"].values()) for s in figures.sdk])
    outside = sdk_total - steps_total
    rows.append(["outside the steps", "", f"{outside:.3f} s", f"{outside:+.3f} s"])
    rows.append(["in all", f"{bare_total:.3f} s", f"{sdk_total:.3f} s", ""])
    print_table(["first run", "bare", "run_pipeline", "difference"], rows)


def _bare_step(bare: Timed, step: str) -> float:
    seconds = float(bare.extra["steps"][step])
    return seconds + float(bare.extra["import"]) if step == "load" else seconds


def pipeline_rows(figures: Figures) -> list[Row]:
    bare = [b.extra["seconds"] for b in figures.bare]
    bare_process = [b.seconds for b in figures.bare]
    sdk = {k: [s[k]["seconds"] for s in figures.sdk] for k in ("first", "again", "changed")}
    cli = {k: [t.seconds for t in v] for k, v in figures.cli.items()}
    dvc = {k: [t.seconds for t in v] for k, v in figures.dvc.items()}
    own = [sum(b.extra["steps"][s] for s in CHANGED) for b in figures.bare]

    over = median(sdk["first"]) / median(bare) - 1
    share = median(cli["again"]) / median(cli["first"])
    sdk_share = median(sdk["again"]) / median(sdk["first"])
    change = median(sdk["changed"]) / median(own)
    rows = [
        Row(
            "first run: run_pipeline vs the bare functions",
            shown(sdk["first"]),
            shown(bare),
            f"{over:+.0%}",
            f"<= +{FIRST_OVERHEAD:.0%}",
            over <= FIRST_OVERHEAD,
        ),
        Row(
            "first run: prodml run vs the bare script (processes)",
            shown(cli["first"]),
            shown(bare_process),
            f"{median(cli['first']) / median(bare_process) - 1:+.0%}",
            "-",
            None,
        ),
        Row(
            "unchanged rerun: prodml run, share of its first run",
            shown(cli["again"], 3),
            shown(cli["first"]),
            f"{share:.1%}",
            f"<= {RERUN_SHARE:.0%}",
            share <= RERUN_SHARE,
        ),
        Row(
            "unchanged rerun: run_pipeline, share of its first run",
            shown(sdk["again"], 3),
            shown(sdk["first"]),
            f"{sdk_share:.1%}",
            f"(<= {RERUN_SHARE:.0%})",
            None,
        ),
        Row(
            "features.carriers=6: run_pipeline, steps 3-5 vs their bare time",
            shown(sdk["changed"]),
            shown(own),
            f"{change:.2f}x",
            f"exactly 3-5, <= {CHANGE_RATIO}x",
            change <= CHANGE_RATIO,
        ),
    ]
    if dvc:
        rows += dvc_rows(cli, dvc)
    return rows


def dvc_rows(cli: dict[str, list[float]], dvc: dict[str, list[float]]) -> list[Row]:
    faster = {key: median(dvc[key]) / median(cli[key]) for key in ("first", "again", "changed")}
    return [
        Row(
            "first run: prodml run vs dvc repro",
            shown(cli["first"]),
            shown(dvc["first"]),
            f"{faster['first']:.2f}x faster",
            "-",
            None,
        ),
        Row(
            "unchanged rerun: prodml run vs dvc repro",
            shown(cli["again"], 3),
            shown(dvc["again"], 3),
            f"{faster['again']:.2f}x faster",
            f">= {RERUN_VS_DVC:.0f}x",
            faster["again"] >= RERUN_VS_DVC,
        ),
        Row(
            "features.carriers=6: prodml run vs dvc repro (both 3-5)",
            shown(cli["changed"]),
            shown(dvc["changed"]),
            f"{faster['changed']:.2f}x faster",
            "-",
            None,
        ),
    ]


def sweep_rows(figures: Figures, trials: int) -> list[Row]:
    rows = []
    for executor in ("local", "ray"):
        serial, parallel = figures.sweeps.get((executor, 1)), figures.sweeps.get((executor, 2))
        if serial is None or parallel is None:
            continue
        one, two = serial.extra["seconds"], parallel.extra["seconds"]
        same = _values(serial) == _values(parallel)
        rows.append(
            Row(
                f"{trials}-trial sweep, {executor}: --parallel 2 vs 1"
                + ("" if same else " (other trials!)"),
                f"{two:.1f} s{_waited(parallel)}",
                f"{one:.1f} s{_waited(serial)}",
                f"{one / two:.2f}x faster",
                f">= {SWEEP_SPEEDUP}x",
                one / two >= SWEEP_SPEEDUP,
            )
        )
    return rows


def _waited(sweep: Timed) -> str:
    """How many CPUs other work kept busy meanwhile, on average."""
    others = _others(sweep)
    return "" if others is None else f" (others {others:.1f} CPUs)"


def _others(sweep: Timed) -> float | None:
    """The machine's busy CPUs less the command's own processes' (sampled) CPU time."""
    if sweep.scheduling is None:
        return None
    return max(0.0, sweep.busy - sweep.scheduling.on_cpu / sweep.seconds)


def _values(sweep: Timed) -> list[dict[str, Any]]:
    return [trial["values"] for trial in sweep.extra["trials"]]


def cpu_lines(figures: Figures) -> None:
    """CPU seconds beside the wall times: less moved by other work on a shared machine."""
    if figures.bare:
        bare = median([b.extra["cpu"] for b in figures.bare])
        sdk = {k: median([s[k]["cpu"] for s in figures.sdk]) for k in ("first", "again")}
        changed = median([s["changed"]["cpu"] for s in figures.sdk])
        print(
            f"cpu: bare functions {bare:.2f} s; run_pipeline: first {sdk['first']:.2f} s "
            f"({sdk['first'] / bare - 1:+.0%}), again {sdk['again']:.3f} s, "
            f"features.carriers=6 {changed:.2f} s"
        )
    for side, timed in (("prodml run", figures.cli), ("dvc repro", figures.dvc)):
        if timed:
            used = ", ".join(f"{k} {median([t.cpu for t in v]):.2f} s" for k, v in timed.items())
            print(f"cpu of the command and its children: {side}: {used}")
    for (executor, parallel), done in sorted(figures.sweeps.items()):
        each = median([t["outcome"]["seconds"] for t in done.extra["trials"]])
        print(
            f"sweep {executor} --parallel {parallel}: the command {done.seconds:.1f} s, a trial "
            f"{each:.2f} s (median); {done.busy:.2f} CPUs busy on average meanwhile"
        )
        if done.scheduling is not None:
            watched = done.scheduling
            print(
                f"  its processes ({watched.threads} threads) ran {watched.on_cpu:.1f} s on a CPU "
                f"({watched.on_cpu / done.seconds:.2f} CPUs) and were runnable without one "
                f"{watched.waiting:.1f} s ({watched.waiting_share:.0%}); other work "
                f"{_others(done):.2f} CPUs"
            )
        listed = " ".join(f"{t['outcome']['seconds']:.1f}" for t in done.extra["trials"])
        print(f"  trials in order, seconds: {listed}")


def summary(figures: Figures, trials: int) -> None:
    rows: list[Row] = []
    if figures.sdk:
        step_table(figures)
        print()
        rows += pipeline_rows(figures)
    rows += sweep_rows(figures, trials)
    print_table(["figure", "prodml", "anchor", "ratio", "goal", "met"], [r.cells() for r in rows])
    print()
    cpu_lines(figures)
