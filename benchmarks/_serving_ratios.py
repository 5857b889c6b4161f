"""The figures ``serving.py`` reports: each a ratio of one server's figure to its
anchor's, measured in the same run, with its goal (or none: information only)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from _harness import Row, fmt_rate, fmt_ratio
from _serving_load import CONNECTIONS, Figures, micros, ms

THROUGHPUT_VS_BARE_GOAL = 0.7
P99_VS_BARE_GOAL = 1.5
THROUGHPUT_VS_MLFLOW_GOAL = 3.0
LOG_COST_GOAL = 0.10  # share of prodml's requests/s the log and the shadow may take


@dataclass(frozen=True)
class Ratio:
    figure: str
    top: str  # a key of the measured servers: bare, mlflow, or a prodml variant
    bottom: str  # its anchor
    field: str  # "rate" (wrk), "p99_ms" (hey) or "cpu_us" (the server's CPU per request, wrk)
    goal: str = ""
    meets: Callable[[float], bool] | None = None
    cost: bool = False  # also shown as 1 - ratio: the share of requests/s given up
    times: bool = False  # shown as "21.0x"

    def of(self, measured: Mapping[str, Figures]) -> float | None:
        if self.top not in measured or self.bottom not in measured:
            return None
        top = getattr(measured[self.top], self.field)
        bottom = getattr(measured[self.bottom], self.field)
        return None if top is None or bottom is None or bottom <= 0 else float(top / bottom)

    def shown(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        if self.times:
            return fmt_ratio(value)
        return f"{value:.2f}, cost {1 - value:.0%}" if self.cost else f"{value:.2f}"


def _at_least(goal: float) -> Callable[[float], bool]:
    return lambda value: value >= goal


def _at_most(goal: float) -> Callable[[float], bool]:
    return lambda value: value <= goal


C = f"c={CONNECTIONS}"
RATIOS = [
    Ratio(
        f"requests/s at {C}, prodml / bare (wrk)", "base", "bare", "rate",
        f">= {THROUGHPUT_VS_BARE_GOAL}", _at_least(THROUGHPUT_VS_BARE_GOAL),
    ),
    Ratio(
        f"p99 latency at {C}, prodml / bare (hey)", "base", "bare", "p99_ms",
        f"<= {P99_VS_BARE_GOAL}", _at_most(P99_VS_BARE_GOAL),
    ),
    Ratio(
        f"requests/s at {C}, prodml / MLflow (wrk)", "base", "mlflow", "rate",
        f">= {THROUGHPUT_VS_MLFLOW_GOAL:.0f}x", _at_least(THROUGHPUT_VS_MLFLOW_GOAL), times=True,
    ),
    Ratio(
        "requests/s, prodml with guardrails / bare (wrk)", "guardrails", "bare", "rate",
        f">= {THROUGHPUT_VS_BARE_GOAL}", _at_least(THROUGHPUT_VS_BARE_GOAL),
    ),
    Ratio(
        "p99 latency, prodml with guardrails / bare (hey)", "guardrails", "bare", "p99_ms",
        f"<= {P99_VS_BARE_GOAL}", _at_most(P99_VS_BARE_GOAL),
    ),
    Ratio("requests/s, prodml with guardrails / without (wrk)", "guardrails", "base", "rate"),
    Ratio(
        "requests/s, prodml / prodml without log and shadow (wrk)", "base", "nolog", "rate",
        f"cost <= {LOG_COST_GOAL:.0%}", _at_least(1 - LOG_COST_GOAL), cost=True,
    ),
    Ratio(
        "CPU per request, prodml without log and shadow / prodml (wrk)", "nolog", "base", "cpu_us",
        cost=True,
    ),
    Ratio("p99 latency, prodml / prodml without log and shadow (hey)", "base", "nolog", "p99_ms"),
    Ratio(
        "requests/s, prodml / prodml without shadow (wrk)", "base", "noshadow", "rate", cost=True
    ),
    Ratio(
        "requests/s, prodml without shadow / without log (wrk)", "noshadow", "nolog", "rate",
        cost=True,
    ),
]  # fmt: skip


def median_of(figures: Sequence[Figures]) -> Figures:
    """Each figure's median over rounds (the per-round ratios are printed beside it)."""

    def middle(name: str) -> Any:
        values = [getattr(f, name) for f in figures if getattr(f, name) is not None]
        return statistics.median(values) if values else None

    fields = {name: middle(name) for name in Figures.__dataclass_fields__ if name != "server"}
    return Figures(server=figures[0].server, **fields)


def summary_rows(
    ratios: Sequence[Ratio], medians: Mapping[str, Figures], rounds: Sequence[Mapping[str, Figures]]
) -> list[Row]:
    """One row per ratio whose two servers were measured: the ratio of the medians,
    and each round's ratio when there were several."""
    rows = []
    for ratio in ratios:
        value = ratio.of(medians)
        if value is None:
            continue
        shown = ratio.shown(value)
        each = [r for r in (ratio.of(measured) for measured in rounds) if r is not None]
        if len(each) > 1:
            shown += " (rounds: " + ", ".join(f"{r:.2f}" for r in each) + ")"
        top, bottom = medians[ratio.top], medians[ratio.bottom]
        verdict = None if ratio.meets is None else ratio.meets(value)
        rows.append(
            Row(
                ratio.figure,
                _figure(top, ratio.field),
                f"{bottom.server} {_figure(bottom, ratio.field)}",
                shown,
                ratio.goal or "(information)",
                verdict,
            )
        )
    return rows


def _figure(figures: Figures, field: str) -> str:
    if field == "rate":
        return fmt_rate(figures.rate)
    return micros(figures.cpu_us) if field == "cpu_us" else ms(getattr(figures, field))
