"""The monitoring half of the demo: the champion watched over short windows of its
prediction log, an upstream unit change that raises one alert with its context,
an incident with a rollback, the failures added to the validation set, and a
retrained challenger judged on the grown set."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import yaml
from evaluation_demo import HOLDOUT, MODEL, cli, say
from serving_demo import CLI, Traffic, _port, _ready

import prodml

WINDOW = 5.0  # seconds: short windows so the demo sees many of them
SPEC = {
    "window": f"{WINDOW:g}s",
    "settle": "1.5s",
    "warmup": 6,
    "labels": {"wait": "2s", "slices": {"long-haul": "distance > 1500"}, "min_labels": 30},
    "slos": [
        {"name": "p99", "metric": "p99_ms", "max": 1000},
        {"name": "accuracy-1m", "metric": "accuracy", "min": 0.5, "over": "1m"},
    ],
}
CALM_WINDOWS, CHANGED_WINDOWS, REQUESTS = 8, 3, 300


def run(folder: Path, flights: pd.DataFrame) -> None:
    july = flights[flights["month"] == 7].sample(frac=1.0, random_state=2)
    os.environ["PRODML_NOTIFY_FILE"] = str(folder / "alerts.jsonl")
    port = _port()
    url = f"http://127.0.0.1:{port}"
    log = (folder / "gateway-monitoring.log").open("w")
    server = subprocess.Popen(
        [*CLI, "serve", MODEL, "--port", str(port), "--fallback-default", "0"],
        stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PRODML_LOG_FLUSH_INTERVAL": "0.5"},
    )  # fmt: skip
    try:
        _ready(url)
        alert_id = _watch(folder, Traffic(url, july), _in_kilometres(url, july))
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    _respond(folder, alert_id)


def _in_kilometres(url: str, flights: pd.DataFrame) -> Traffic:
    changed = flights.copy()
    changed["distance"] = (changed["distance"] * 1.609).round()
    return Traffic(url, changed)


def _watch(folder: Path, calm: Traffic, changed: Traffic) -> str:
    say("18. Monitoring: windows of the prediction log, each judged against the ones before")
    spec = folder / "monitor.yaml"
    since = datetime.now(UTC).isoformat(timespec="seconds")  # this demo's traffic only
    spec.write_text(yaml.safe_dump({**SPEC, "since": since}, sort_keys=False))
    print(spec.read_text())
    cli("monitor", "set", MODEL, str(spec))
    for _ in range(CALM_WINDOWS):
        _one_window(folder, calm)
    time.sleep(2.0)
    cli("monitor", "run", MODEL)
    say("19. Upstream, distance starts arriving in kilometres: one alert, with its context")
    for _ in range(CHANGED_WINDOWS):
        _one_window(folder, changed)
    time.sleep(3.5)  # the last window settles and its labels have their wait
    cli("monitor", "run", MODEL)
    alerts = prodml.list_alerts(MODEL)
    print(f"{len(alerts)} alert(s) raised")
    cli("alerts", "list", MODEL)
    cli("alerts", "show", alerts[0].id[:8])
    sent = (folder / "alerts.jsonl").read_text().splitlines()
    print(f"notification (file sink, Slack-style text): {json.loads(sent[0])['text']}")
    return alerts[0].id


def _one_window(folder: Path, traffic: Traffic) -> None:
    """Wait for the next window, send its requests, let their labels arrive."""
    time.sleep(WINDOW - time.time() % WINDOW + 0.05)
    asyncio.run(traffic.send(REQUESTS))
    time.sleep(1.0)  # the log's flush
    labels = traffic.labels(folder / "labels.csv")
    prodml.ingest_labels(labels, label="late")


def _respond(folder: Path, alert_id: str) -> None:
    say("20. An incident: roll back, and keep the failures as validation cases")
    cli("incidents", "open", "--alert", alert_id[:8])
    incident = prodml.list_incidents(MODEL, "open")[0].id[:8]
    cli("incidents", "rollback", incident, "--why", "undo the last change while we look")
    cli("incidents", "add-failures", incident, "--valset", HOLDOUT, "--label-as", "late")
    say("21. A retrained challenger, judged on the grown validation set")
    retrain = f"{sys.executable} {Path(__file__).parent / 'retrain.py'}"
    cli("incidents", "retrain", incident, "--command", retrain)
    latest = prodml.get_model(MODEL).version
    cli("evaluate", "compare", MODEL, "champion", str(latest), may_fail=True)
    cli("incidents", "close", incident, "--why", "upstream fixed the unit; failures kept")
    cli("incidents", "show", incident)
    report = folder / "incident.html"
    cli("incidents", "report", incident, "--format", "html", "-o", str(report))
    cli("alerts", "ack", alert_id[:8], "--why", "real: upstream unit change")
    cli("alerts", "precision", MODEL)
    cli("changes", "--since", "10m", "--model", MODEL)
