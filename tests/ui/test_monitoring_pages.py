"""Monitoring pages: every monitor with its latest window, and per model the windows
over time as charts with the alerts marked, on the seeded store."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from seed import SeededStore
from starlette.testclient import TestClient


def _charts(page: str) -> list[dict[str, Any]]:
    """The Vega-Lite specs a page draws, in order."""
    found = re.findall(r'<div class="chart"><script type="application/json">(.*?)</script>', page)
    return [json.loads(text) for text in found]


def _layer_values(spec: dict[str, Any], mark: str) -> list[dict[str, Any]]:
    return [
        value
        for layer in spec["layer"]
        if (layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]) == mark
        for value in layer["data"]["values"]
    ]


def test_the_monitor_list_shows_each_models_latest_window_and_open_alerts(
    seeded_dashboard: TestClient,
) -> None:
    page = seeded_dashboard.get("/monitoring")

    assert page.status_code == 200
    row = re.search(r'<a href="/monitoring/fraud">fraud</a>(.*?)</tr>', page.text, re.S)
    assert row, "fraud is not listed"
    assert "healthy" in row.group(1)
    assert '<a href="/alerts?model=fraud&amp;state=open">1</a>' in row.group(1)


def test_a_models_page_charts_each_column_against_the_baseline_with_alerts_marked(
    seeded_dashboard: TestClient, seeded_store: SeededStore
) -> None:
    page = seeded_dashboard.get("/monitoring/fraud?span=24h")

    assert page.status_code == 200
    drift, predictions, labels, lag, latency, errors = _charts(page.text)
    lines = _layer_values(drift, "line")
    assert {v["series"] for v in lines} == {"a", "b", "region"}
    by_window = {(v["at"], v["series"]): v["value"] for v in lines}
    broken = _hour(seeded_store, 8)  # b arrived x1000: its tails moved far from the baseline
    assert by_window[(broken, "b")] >= 0.4 and by_window[(broken, "a")] < 0.3
    marked = {v["alert"][:8] for v in _layer_values(drift, "rule")}
    assert marked == {seeded_store.seeded.open_alert[:8], seeded_store.seeded.incident_alert[:8]}
    assert all(_layer_values(c, "rule") for c in (predictions, labels, lag, latency, errors))
    assert {v["series"] for v in _layer_values(labels, "line")} >= {"all", "region=north"}
    slow = {
        v["value"] for v in _layer_values(latency, "line") if v["at"] == _hour(seeded_store, 15)
    }
    assert 40.0 in slow  # the slow hour's median latency


def test_a_model_without_a_monitor_is_a_404_naming_it(seeded_dashboard: TestClient) -> None:
    page = seeded_dashboard.get("/monitoring/no-such-model")

    assert page.status_code == 404
    assert "Model &#39;no-such-model&#39; has no monitor" in page.text
    assert "prodml monitor set no-such-model SPEC.yaml" in page.text


def test_an_unknown_span_is_refused_with_the_choices(seeded_dashboard: TestClient) -> None:
    page = seeded_dashboard.get("/monitoring/fraud?span=forever")

    assert page.status_code == 400 and "Show one of 24h, 3d, 7d, 30d" in page.text


def _hour(seeded_store: SeededStore, number: int) -> str:
    """The start of the seed's hour ``number`` as the charts write it."""
    return datetime.fromtimestamp(seeded_store.seeded.first_hour + number * 3600, UTC).isoformat()
