"""SLO status: each objective's value over its span from the stored windows, whether
it is met, and the share of its error budget left."""

from __future__ import annotations

import prodml
from prodml.client import Client
from prodml.domain.monitoring import Window
from prodml.monitor.slo_status import budget_left
from prodml.monitor.spec import Slo, load

HOUR = 3600.0
SPEC = {
    "window": "1h",
    "slos": [
        {"name": "errors", "metric": "failure_rate", "max": 0.02, "over": "3h"},
        {"name": "p99", "metric": "p99_ms", "max": 50},
        {"name": "accuracy-3h", "metric": "accuracy", "min": 0.9, "over": "3h"},
    ],
}


def _declare(client: Client) -> None:
    """The monitor of a model "m" (no model needed: only its windows are read)."""
    client.metadata.set_monitor("m", load(SPEC, "m").to_json())


def _window(client: Client, kind: str, hour: int, rows: int, **stats: object) -> None:
    start = 1_790_000_000.0 + hour * HOUR
    figures = {"rows": rows, **stats} if kind == "traffic" else stats
    window = Window(
        model="m",
        kind=kind,
        start=start,
        end=start + HOUR,
        rows=rows,
        profile=None,
        stats=figures,
    )
    client.metadata.add_window(window)


def test_the_budget_left_is_the_unused_share_of_the_allowed_shortfall() -> None:
    errors = Slo(name="e", metric="failure_rate", min=None, max=0.01, over=0)
    accuracy = Slo(name="a", metric="accuracy", min=0.9, max=None, over=0)

    assert budget_left(errors, 0.0) == 1.0
    assert budget_left(errors, 0.0025) == 0.75
    assert budget_left(errors, 0.03) == 0.0  # breached: nothing left, never negative
    assert round(budget_left(accuracy, 0.95), 6) == 0.5
    assert budget_left(accuracy, 0.8) == 0.0


def test_status_pools_the_span_and_takes_the_slowest_window_for_latency(
    sqlite_client: Client,
) -> None:
    _declare(sqlite_client)
    for hour, (rate, p99) in enumerate([(0.5, 90.0), (0.0, 30.0), (0.01, 45.0), (0.02, 20.0)]):
        _window(sqlite_client, "traffic", hour, 100, failure_rate=rate, p99_ms=p99)
    for hour, value in enumerate([0.5, 0.96, 0.94, 0.9]):
        slices = {"all": {"n": 50, "value": value}}
        _window(sqlite_client, "labels", hour, 50, labelled=50, metric="accuracy", slices=slices)

    found = {s.name: s for s in prodml.slo_status("m", client=sqlite_client)}

    errors, p99, accuracy = found["errors"], found["p99"], found["accuracy-3h"]
    assert (errors.size, round(errors.value or 0, 6)) == (300, 0.01)  # hours 1-3, not 0
    assert (errors.met, round(errors.budget_left or 0, 6)) == (True, 0.5)
    assert (p99.value, p99.span, p99.met) == (20.0, HOUR, True)  # the latest window only
    assert round(p99.budget_left or 0, 6) == 0.6
    assert (round(accuracy.value or 0, 6), accuracy.size) == (0.933333, 150)
    assert accuracy.objective == "accuracy >= 0.9" and accuracy.met is True


def test_an_slo_without_windows_has_no_value_and_no_verdict(sqlite_client: Client) -> None:
    _declare(sqlite_client)

    (errors, *_) = prodml.slo_status("m", client=sqlite_client)

    assert (errors.value, errors.met, errors.budget_left) == (None, None, None)
