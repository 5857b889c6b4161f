"""What the benchmark scripts share: running prodml in a clean subprocess, reading
the JSON a worker prints, timing commands, and printing the summary table."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src"


class BenchmarkError(RuntimeError):
    pass


def prodml_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a prodml subprocess: a fresh PRODML_HOME, no other PRODML_*
    settings, and the working tree's src/ first on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    env["PRODML_HOME"] = str(home)
    if (SRC / "prodml").is_dir():
        paths = [str(SRC), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env.update(extra or {})
    return env


def run_prodml_python(
    code: str,
    args: Sequence[str],
    *,
    home: Path,
    cwd: Path,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run a snippet here with a fresh PRODML_HOME; return the last JSON line it prints."""
    completed = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=prodml_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchmarkError(
            f"prodml worker exited with {completed.returncode}\n{completed.stderr[-4000:]}"
        )
    return last_json_line(completed.stdout)


def last_json_line(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise BenchmarkError("worker printed nothing; expected a JSON line")
    result = json.loads(lines[-1])
    if not isinstance(result, dict):
        raise BenchmarkError(f"worker printed {lines[-1]!r}; expected a JSON object")
    return result


def median_wall_seconds(
    args: Sequence[str],
    *,
    repeats: int,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> float:
    """Median wall time of ``repeats`` fresh runs of a command, after one untimed run."""
    samples = []
    for attempt in range(repeats + 1):
        started = time.perf_counter()
        subprocess.run(list(args), env=env, cwd=cwd, check=True, capture_output=True)
        if attempt:
            samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def import_seconds(
    python: str, code: str, *, repeats: int, env: Mapping[str, str], cwd: Path
) -> float:
    """Median time of ``python -c code`` (e.g. ``"import x"``) less that of ``python -c pass``."""
    empty = median_wall_seconds([python, "-c", "pass"], repeats=repeats, env=env, cwd=cwd)
    loaded = median_wall_seconds([python, "-c", code], repeats=repeats, env=env, cwd=cwd)
    return loaded - empty


def load_warning(seconds: float = 2.0) -> str | None:
    """A warning when other work is running: these figures need an otherwise idle machine.

    Samples the CPU time spent outside the idle task over ``seconds`` (Linux
    /proc/stat); elsewhere falls back to the 1-minute load average."""
    cpus = os.cpu_count() or 1
    try:
        before = _cpu_times()
        time.sleep(seconds)
        after = _cpu_times()
    except OSError:
        busy = os.getloadavg()[0]
    else:
        total = sum(after) - sum(before)
        idle = (after[3] + after[4]) - (before[3] + before[4])
        busy = cpus * (1 - idle / total) if total else 0.0
    if busy < 0.3:
        return None
    return (
        f"warning: other processes keep {busy:.1f} of {cpus} CPUs busy;"
        " the figures will be skewed. Run on an idle machine."
    )


def _cpu_times() -> list[int]:
    with open("/proc/stat") as stat:
        return [int(field) for field in stat.readline().split()[1:]]


@dataclass(frozen=True)
class Row:
    figure: str
    prodml: str
    anchor: str
    ratio: str
    goal: str
    met: bool | None

    def cells(self) -> list[str]:
        verdict = {True: "yes", False: "NO", None: "-"}[self.met]
        return [self.figure, self.prodml, self.anchor, self.ratio, self.goal, verdict]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True)
        ).rstrip()

    print(line(headers))
    print(line(["-" * width for width in widths]))
    for row in rows:
        print(line(row))


def fmt_rate(value: float | None, unit: str = "/s") -> str:
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}{unit}"
    return f"{value:,.1f}{unit}"


def fmt_seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def fmt_ratio(value: float | None, word: str = "x") -> str:
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}{word}"
    return f"{value:.1f}{word}"


def ratio(better: float | None, worse: float | None) -> float | None:
    """How many times ``better`` exceeds ``worse``; None when either is missing or zero."""
    if better is None or worse is None or worse <= 0:
        return None
    return better / worse
