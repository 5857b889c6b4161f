"""The dashboard in a real browser against a real ``prodml ui``: every page renders
without console errors and draws its charts, a notification's link opens its alert,
an ack with a reason (and the refusal of a forged CSRF token) and an incident's
rollback work end to end. With ``PRODML_SCREENSHOTS=1`` each page is also saved as a
PNG in docs/screenshots/."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import pytest

import prodml
from conftest import Console, Dashboard
from prodml.client import Client
from prodml.monitor.notify import Notifier
from prodml.settings import load

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).parents[3] / "docs" / "screenshots"
CHART_SECONDS = 30_000  # ms for every chart of a page to draw (slow when the host is busy)
# Detail pages, by what the seeded store holds; {run} etc. are filled in per store.
DETAILS = {
    "alert": "/alerts/{open_alert}",
    "incident": "/incidents/{incident}",
    "monitoring-model": "/monitoring/fraud",
    "model": "/models/fraud",
    "model-version": "/models/fraud/2",
    "dataset": "/datasets/transactions",
    "dataset-version": "/datasets/transactions/2",
    "run": "/runs/{run}",
    "rollout": "/rollouts/{rollout}",
    "lineage": "/lineage?ref=fraud%40champion",
    "report": "/report?since=2d",
}


def _nav(live_dashboard: Dashboard) -> list[str]:
    page = httpx.get(f"{live_dashboard.url}/", timeout=60).text
    nav = page[page.index("<nav>") : page.index("</nav>")]
    return re.findall(r'<a href="([^"]+)"', nav)


def _detail(live_dashboard: Dashboard, template: str) -> str:
    return template.format(
        open_alert=live_dashboard.seeded_open_alert,
        incident=live_dashboard.seeded_incident,
        run=live_dashboard.seeded_run,
        rollout=live_dashboard.seeded_rollout,
    )


def _drawn(page: Any, path: str, name: str) -> int:
    """Open ``path``, wait for every chart to draw; the number of charts."""
    response = page.goto(path)
    assert response is not None and response.status == 200, f"{path}: HTTP {response.status}"
    assert "The page failed" not in page.content(), path
    page.wait_for_function(
        "() => [...document.querySelectorAll('.chart')].every("
        "c => c.querySelector('svg') || c.querySelector('.error'))",
        timeout=CHART_SECONDS,
    )
    failed = page.locator(".chart .error").all_inner_texts()
    assert not failed, f"{path}: charts failed: {failed}"
    charts = page.locator(".chart").count()
    assert page.locator(".chart svg").count() >= charts, path
    if os.environ.get("PRODML_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    return charts


def test_every_page_in_the_nav_renders_and_draws_its_charts(
    page: Any, live_dashboard: Dashboard
) -> None:
    page.set_default_navigation_timeout(30_000)
    paths = _nav(live_dashboard)
    assert {"/", "/monitoring", "/alerts", "/incidents"} <= set(paths)
    drawn = {}
    for path in paths:
        name = "overview" if path == "/" else path.strip("/").replace("/", "-")
        drawn[path] = _drawn(page, live_dashboard.url + path, name)
    assert sum(drawn.values()) > 0, f"no page in the nav draws a chart: {drawn}"


def test_the_page_fixture_catches_script_errors(page: Any, console: Console) -> None:
    page.set_content("<script>window.undefinedFunction()</script>")

    assert [e for e in console.errors if "undefinedFunction" in e], console.errors
    console.errors.clear()  # seen: the check itself works


@pytest.mark.parametrize("name", list(DETAILS))
def test_each_detail_page_renders_and_draws_its_charts(
    page: Any, live_dashboard: Dashboard, name: str
) -> None:
    path = _detail(live_dashboard, DETAILS[name])
    known = httpx.get(live_dashboard.url + path, timeout=60)
    if known.status_code == 404 and "No such page." in known.text:
        pytest.skip(f"{path}: the dashboard has no such page")
    charts = _drawn(page, live_dashboard.url + path, name)
    if name == "monitoring-model":
        assert charts == 6  # drift, predictions, label metric, label lag, latency, errors


def test_an_alert_link_from_a_notification_opens_the_alert(
    page: Any, live_dashboard: Dashboard, tmp_path: Path
) -> None:
    sink = tmp_path / "alerts.jsonl"
    settings = load({"notify_file": str(sink), "ui_url": live_dashboard.url}, tmp_path / "x.toml")
    notifier = Notifier.from_settings(settings)
    notifier.notify(live_dashboard.alert(live_dashboard.seeded_open_alert))
    notifier.close(timeout=5)
    text = json.loads(sink.read_text().splitlines()[0])["text"]
    link = re.search(r"<(http://[^|>]+)\|alert [0-9a-f]{8}>$", text)
    assert link, f"no link in {text!r}"

    page.goto(link.group(1))

    assert (
        page.locator("h1")
        .inner_text()
        .startswith(f"Alert {live_dashboard.seeded_open_alert[:8]}: ")
    )
    assert live_dashboard.seeded_open_alert in page.locator("dl.facts").inner_text()


def _log_in(page: Any, live_dashboard: Dashboard) -> None:
    page.goto(f"{live_dashboard.url}/login")
    page.fill("input[name=token]", live_dashboard.deployer_token)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{live_dashboard.url}/")
    assert "(deployer)" in page.locator(".who").inner_text()


def test_ack_with_a_reason_works_and_a_forged_csrf_token_is_refused(
    page: Any, live_dashboard: Dashboard, console: Console
) -> None:
    alert = live_dashboard.seeded_open_alert
    console.allow(r"status of 403")  # the refused form's page
    _log_in(page, live_dashboard)
    page.goto(f"{live_dashboard.url}/alerts/{alert}")
    page.fill(".decide input[name=why]", "forged")
    page.eval_on_selector(".decide input[name=csrf]", "input => { input.value = 'forged'; }")
    page.click(".decide button.primary")
    assert "CSRF" in page.locator("p.error").inner_text()
    assert live_dashboard.alert(alert).state == "open"

    page.goto(f"{live_dashboard.url}/alerts/{alert}")
    page.fill(".decide input[name=why]", "real: upstream sends grams")
    page.click(".decide button.primary")
    page.wait_for_url(f"{live_dashboard.url}/alerts/{alert}")

    assert "acked by" in page.locator("dd.state").inner_text()
    stored = live_dashboard.alert(alert)
    assert (stored.state, stored.why) == ("acked", "real: upstream sends grams")


def test_an_incident_rollback_works_end_to_end(page: Any, live_dashboard: Dashboard) -> None:
    incident = live_dashboard.seeded_incident
    _log_in(page, live_dashboard)
    page.goto(f"{live_dashboard.url}/incidents/{incident}")
    rollback = page.locator("form[action$='/respond/rollback']")
    rollback.locator("input[name=why]").fill("v3 looks off")
    rollback.locator("button").click()
    page.wait_for_url(re.compile(rf".*/incidents/{incident}#timeline$"))

    timeline = page.locator("table.timeline").inner_text()
    assert "rollback: rolled back" in timeline and "(v3 looks off)" in timeline
    page.goto(f"{live_dashboard.url}/")
    assert "none active" in page.locator("[data-model=fraud] dd.rollout").inner_text()


def test_the_overview_cards_update_without_a_reload(page: Any, live_dashboard: Dashboard) -> None:
    page.goto(f"{live_dashboard.url}/")
    champion = page.locator("[data-model=fraud] dd.champion")
    assert "fallback" not in champion.inner_text()
    deployer = Client(
        **{**asdict(live_dashboard.client.settings), "token": live_dashboard.deployer_token}
    )
    try:
        prodml.set_alias("fraud@1", "fallback", reason="kept ready", client=deployer)
    finally:
        deployer.close()

    page.evaluate("htmx.trigger(document.querySelector('.cards.overview'), 'refresh')")

    page.wait_for_function(
        "() => document.querySelector('[data-model=fraud] dd.champion').innerText"
        ".includes('fallback v1')",
        timeout=CHART_SECONDS,
    )
