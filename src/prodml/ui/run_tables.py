"""The tables of the runs pages: a run's value under a column name, the columns and
metric shown when none are chosen, environment rows, and runs side by side with
the rows that differ marked."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prodml.domain.run import Run, flatten_config

if TYPE_CHECKING:
    from prodml.sdk.runs import RunDetails

DEFAULT_METRICS = 3
DEFAULT_CONFIG = 3


def cell(run: Run, column: str) -> Any:
    """A run's value under ``metrics.auc``, ``config.opt.lr``, ``params.x``, ``tags.x``
    or an attribute (``status``, ``experiment``, ``author``, ``started``, ``ended``)."""
    prefix, _, key = column.partition(".")
    if prefix == "metrics":
        return run.metrics.get(key)
    if prefix == "params":
        return run.params.get(key)
    if prefix == "config":
        return flatten_config(run.config).get(key)
    if prefix == "tags":
        return run.tags.get(key)
    return {
        "status": run.status.value,
        "experiment": run.experiment,
        "author": run.author,
        "started": run.started_at,
        "ended": run.ended_at,
        "hypothesis": run.hypothesis,
        "id": run.id,
    }.get(column)


def default_columns(runs: Sequence[Run]) -> list[str]:
    """Config keys that vary between the runs, then their metrics (a few of each)."""
    flat = [flatten_config(run.config) for run in runs]
    keys = sorted({key for config in flat for key in config})
    varying = [k for k in keys if len({repr(config.get(k)) for config in flat}) > 1]
    metrics = sorted({key for run in runs for key in run.metrics})
    return [f"config.{k}" for k in varying[:DEFAULT_CONFIG]] + [
        f"metrics.{k}" for k in metrics[:DEFAULT_METRICS]
    ]


def default_metric(runs: Sequence[Run], columns: Sequence[str], order: str) -> str:
    """The metric the parallel coordinates colour by: the sort key's, else the first
    metric column's, else the first metric any run has."""
    for column in [order.split()[0] if order else "", *columns]:
        if column.startswith("metrics."):
            return column.removeprefix("metrics.")
    found = sorted({key for run in runs for key in run.metrics})
    return found[0] if found else ""


def environment_rows(environment: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The environment as dotted keys, without the code state (shown on its own)."""
    flat = flatten_config({k: v for k, v in environment.items() if k != "git"})
    return sorted(flat.items())


@dataclass(frozen=True)
class Row:
    name: str
    values: tuple[Any, ...]

    @property
    def differs(self) -> bool:
        shown = [_same_form(value) for value in self.values]
        return any(value != shown[0] for value in shown[1:])


def _same_form(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def _rows(named: Sequence[Mapping[str, Any]]) -> list[Row]:
    keys = sorted({key for values in named for key in values})
    return [Row(key, tuple(values.get(key) for values in named)) for key in keys]


def comparison(details: Sequence[RunDetails]) -> list[tuple[str, list[Row]]]:
    """Sections of rows, one value per run: the run itself, config, params, tags,
    latest metrics and inputs."""
    runs = [d.run for d in details]
    about = [
        Row("experiment", tuple(run.experiment for run in runs)),
        Row("status", tuple(run.status.value for run in runs)),
        Row("author", tuple(run.author for run in runs)),
        Row("hypothesis", tuple(run.hypothesis for run in runs)),
        Row("took (s)", tuple(run.duration_s for run in runs)),
        Row("git commit", tuple(run.git_commit for run in runs)),
        Row("uncommitted changes", tuple(bool(d.code_diff) for d in details)),
    ]
    inputs = [{version.name: version.ref for version in d.inputs} for d in details]
    return [
        ("Run", about),
        ("Config", _rows([flatten_config(run.config) for run in runs])),
        ("Params", _rows([run.params for run in runs])),
        ("Tags", _rows([run.tags for run in runs])),
        ("Metrics (latest)", _rows([run.metrics for run in runs])),
        ("Inputs", _rows(inputs)),
    ]
