"""The overview: per model what serves, its health, alerts, incidents and SLOs, and
what changed in the last day, on the seeded store."""

from __future__ import annotations

import html
import re

from seed import SeededStore
from starlette.testclient import TestClient


def _card(page: str, model: str) -> str:
    found = re.search(
        rf'<section class="card model" data-model="{model}">(.*?)</section>', page, re.S
    )
    assert found, f"no card for {model}"
    return found.group(1)


def _text(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _part(pattern: str, markup: str) -> str:
    found = re.search(pattern, markup, re.S)
    assert found, f"nothing matches {pattern}"
    return _text(found.group(1))


def test_the_overview_shows_what_serves_each_model_now(
    seeded_dashboard: TestClient, seeded_store: SeededStore
) -> None:
    page = seeded_dashboard.get("/")

    assert page.status_code == 200
    card = _card(page.text, "fraud")
    assert 'href="/models/fraud/2">v2</a>' in card  # the champion, after the forced move
    assert "challenger v3" in _text(card)
    rollout = _part(r'<dd class="rollout">(.*?)</dd>', card)
    assert rollout.startswith("v3 canary 10% (10% to v3, 90% to v2; running")
    assert f'href="/rollouts/{seeded_store.seeded.rollout_id}"' in card


def test_the_overview_shows_health_alerts_incidents_and_the_error_budget(
    seeded_dashboard: TestClient, seeded_store: SeededStore
) -> None:
    card = _card(seeded_dashboard.get("/").text, "fraud")
    seeded = seeded_store.seeded

    assert "healthy" in card and "60 requests, p99 6 ms, 0% failed" in _text(card)
    assert f'href="/alerts/{seeded.open_alert}"' in card
    assert f'href="/alerts/{seeded.incident_alert}"' not in card  # its incident shows instead
    assert f'href="/incidents/{seeded.incident}">b arrives in grams</a>' in card
    p99 = _part(r'<tr data-slo="p99">(.*?)</tr>', card)
    assert p99 == "p99 p99_ms <= 20.0 6 70%"  # 6 ms of 20 allowed: 70% of the budget left


def test_the_overview_lists_the_last_days_changes_newest_first(
    seeded_dashboard: TestClient,
) -> None:
    page = seeded_dashboard.get("/").text
    changes = _text(page[page.index('<table class="changes">') :])

    assert "model.alias_forced fraud" in changes and "hotfix: b is unreliable upstream" in changes
    assert changes.index("incident.opened") < changes.index("model.alias_forced")


def test_an_empty_store_says_how_to_start(dashboard: TestClient) -> None:
    page = dashboard.get("/")

    assert page.status_code == 200
    assert "No model yet" in page.text and "Nothing changed." in page.text


def test_an_empty_stores_monitoring_alert_and_incident_pages_say_so(
    dashboard: TestClient,
) -> None:
    expected = {
        "/monitoring": "No monitor yet",
        "/alerts": "No alert matches.",
        "/incidents": "No incident matches.",
        "/report": "No incident in the period.",
    }
    for path, said in expected.items():
        page = dashboard.get(path)

        assert page.status_code == 200, path
        assert said in page.text, path
