"""With the dashboard's URL set (``ui_url``), a notification links the alert's page,
and that link opens the alert on the dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path

from seed import SeededStore
from starlette.testclient import TestClient

import prodml
from prodml.monitor.notify import Notifier
from prodml.settings import load


def test_alert_link_defaults_to_the_dashboards_alert_pages(tmp_path: Path) -> None:
    toml = tmp_path / "absent.toml"

    assert load({"ui_url": "https://ml.example/"}, toml).alert_link == "https://ml.example/alerts"
    assert load({"ui_url": ""}, toml).alert_link == ""
    chosen = load({"ui_url": "https://ml.example", "alert_link": "https://pager/a"}, toml)
    assert chosen.alert_link == "https://pager/a"  # set explicitly: kept


def test_a_notifications_link_opens_the_alerts_page(
    seeded_store: SeededStore, seeded_dashboard: TestClient, tmp_path: Path
) -> None:
    sink = tmp_path / "alerts.jsonl"
    settings = load({"notify_file": str(sink), "ui_url": "http://ui.test"}, tmp_path / "x.toml")
    alert = prodml.get_alert(seeded_store.seeded.open_alert, client=seeded_store.client)
    notifier = Notifier.from_settings(settings)
    notifier.notify(alert)
    notifier.close(timeout=5)

    sent = json.loads(sink.read_text().splitlines()[0])["text"]
    found = re.search(r"<(http://ui\.test/alerts/[0-9a-f]+)\|alert ([0-9a-f]{8})>$", sent)
    assert found, f"no dashboard link in {sent!r}"
    page = seeded_dashboard.get(found.group(1))

    assert page.status_code == 200
    assert f"<h1>Alert {alert.id[:8]}: " in page.text and f"<code>{alert.id}</code>" in page.text
