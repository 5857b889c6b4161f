"""The serving half of the demo: the gateway on simulated June traffic, the
challenger taken through shadow, canary steps and full by the controller (labels
arriving on the way), a second rollout that fails and rolls back by itself, and a
one-command rollback of the champion."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import yaml
from evaluation_demo import cli, say
from route_lookup import RouteLookupModel

import prodml

MODEL = "late-arrivals"
FEATURES = ["month", "day", "dep_delay", "sched_dep_time", "sched_arr_time", "distance", "hour"]
CLI = [sys.executable, "-m", "prodml.cli.main"]  # the gateway runs as its own process
PLAN = {
    "routing_key": {"field": "tailnum"},
    "criteria": {
        "max_error_rate": 0.02,
        "max_p99_ms": 500,
        "min_agreement": 0.75,
        "max_distance": 0.25,
        "metric": "accuracy",
        "max_metric_drop": 0.03,
        "min_labels": 300,
    },
    "stages": [
        {"stage": "shadow", "min_duration": "3s", "min_requests": 1200, "max_duration": "2m"},
        {"stage": "canary", "steps": [25, 50], "min_duration": "3s", "min_requests": 1600,
         "max_duration": "2m"},
        {"stage": "full", "min_duration": "3s", "min_requests": 800, "max_duration": "2m"},
    ],
}  # fmt: skip
BROKEN_PLAN = {
    "routing_key": {"field": "tailnum"},
    "criteria": {"max_error_rate": 0.02},
    "stages": [{"stage": "canary", "steps": [10], "min_duration": "30s", "min_requests": 2000}],
}


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Traffic:
    """Requests drawn from real flights, sent with a few in flight at once; keeps the
    request ids and true labels so that labels can "arrive" later."""

    def __init__(self, url: str, flights: pd.DataFrame) -> None:
        self.url = url
        columns = [*FEATURES, "tailnum", "dest"]
        self.rows = flights[columns].fillna({"tailnum": "unknown"}).to_dict("records")
        self.late = flights["late"].tolist()
        self.sent = 0
        self.answered: list[tuple[str, int]] = []  # (request id, true label)
        self.variants: dict[str, int] = {}

    async def send(self, count: int, concurrency: int = 16) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            queue = list(range(self.sent, self.sent + count))
            self.sent += count

            async def worker() -> None:
                while queue:
                    index = queue.pop() % len(self.rows)
                    response = await http.post(f"/v1/models/{MODEL}/predict", json=self.rows[index])
                    body = response.json()
                    key = (body.get("fallback") and "fallback") or body.get("variant", "error")
                    self.variants[key] = self.variants.get(key, 0) + 1
                    if response.status_code == 200:
                        self.answered.append((body["request_id"], self.late[index]))

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    def labels(self, path: Path) -> Path:
        pd.DataFrame(self.answered, columns=["request_id", "late"]).to_csv(path, index=False)
        self.answered = []
        return path


def _state(name: str) -> tuple[str, str]:
    rollout = prodml.rollout_status(name)[0][0]
    return rollout.state, rollout.current.label


def _drive(traffic: Traffic, folder: Path, batch: int, deadline: float) -> str:
    """Send traffic until the rollout ends; labels arrive after every batch."""
    seen = ""
    while time.time() < deadline:
        asyncio.run(traffic.send(batch))
        time.sleep(1.5)  # the log's flush window, then let labels "arrive"
        cli("labels", "ingest", str(traffic.labels(folder / "labels.csv")), "--label", "late")
        time.sleep(1.2)  # one controller tick
        state, step = _state(MODEL)
        if (state, step) != seen:
            print(f"-> rollout {state}, at {step}; answers so far: {traffic.variants}")
            seen = (state, step)  # type: ignore[assignment]
        if state not in ("running", "paused"):
            return state
    raise SystemExit("The rollout did not finish in time; see: prodml rollout status")


def _broken_candidate(flights: pd.DataFrame) -> prodml.ModelVersion:
    train = flights[(flights["month"] <= 2) & flights["dest"].isin(_busiest(flights, 40))]
    with prodml.start_run(
        MODEL, config={"feature": "route lateness rate"},
        hypothesis="A per-destination lateness rate improves the logistic model.",
    ) as run:  # fmt: skip
        model = RouteLookupModel(FEATURES).fit(train, train["late"])
        version = run.log_model(model, MODEL, example=train[[*FEATURES, "dest"]].head(5))
    print(f"run {run.id[:12]} -> model {version.ref} (trained on the 40 busiest routes only)")
    return version


def _busiest(flights: pd.DataFrame, count: int) -> list[str]:
    return flights["dest"].value_counts().head(count).index.tolist()


def run(folder: Path, flights: pd.DataFrame, crowned: float) -> None:
    june = flights[flights["month"] == 6].sample(frac=1.0, random_state=0)
    port = _port()
    url = f"http://127.0.0.1:{port}"
    say("13. The gateway: the champion served, every request logged, metrics for Prometheus")
    log = (folder / "gateway.log").open("w")
    server = subprocess.Popen(
        [*CLI, "serve", MODEL, "--port", str(port), "--tick", "1", "--fallback-default", "0"],
        stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PRODML_LOG_FLUSH_INTERVAL": "0.5"},
    )  # fmt: skip
    try:
        _ready(url)
        _show(url, june.iloc[0])
        _hostile(url, june.iloc[0])
        traffic = Traffic(url, june)
        _roll_out(traffic, folder, url)
        _fail_and_roll_back(traffic, folder, flights)
        _rollback(traffic, url, crowned)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    cli("predictions", "query",
        "SELECT variant, version, shadow_version, status, fallback, count(*) AS requests, "
        "round(quantile_cont(latency_ms, 0.99), 2) AS p99_ms FROM predictions "
        "GROUP BY ALL ORDER BY requests DESC")  # fmt: skip


def _watch(url: str, row: dict[str, Any], before: dict[str, Any], seen: list[float]) -> None:
    """Ask every 20 ms until a different version answers; note when."""
    deadline = time.time() + 10
    with httpx.Client(base_url=url) as http:
        while time.time() < deadline:
            if (
                http.post(f"/v1/models/{MODEL}/predict", json=row).json()["version"]
                != before["version"]
            ):
                seen.append(time.time())
                return
            time.sleep(0.02)


def _ready(url: str) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("The gateway did not start; see gateway.log")


def _show(url: str, flight: pd.Series) -> None:
    record = {k: (v.item() if hasattr(v, "item") else v) for k, v in flight[FEATURES].items()}
    print(f"POST {url}/v1/models/{MODEL}/predict {json.dumps(record)}")
    print(httpx.post(f"{url}/v1/models/{MODEL}/predict", json=record).text)
    missing = {k: v for k, v in record.items() if k != "distance"}
    answer = httpx.post(f"{url}/v1/models/{MODEL}/predict", json=missing)
    print(f"without distance: {answer.status_code} {answer.text}")
    metrics = httpx.get(f"{url}/metrics").text.splitlines()
    print("\n".join(line for line in metrics if line.startswith("prodml_requests_total")))


def _hostile(url: str, flight: pd.Series) -> None:
    """What an attacker or a buggy client sends is refused alone, naming the field,
    while the requests beside it are answered and logged."""
    record = {k: (v.item() if hasattr(v, "item") else v) for k, v in flight[FEATURES].items()}
    tries = {
        "an integer past 64 bits": {**record, "distance": 18446744073709551615},
        "true for a number": {**record, "dep_delay": True},
        "an object in a field": {**record, "hour": {"$gt": 1}},
    }
    endpoint = f"{url}/v1/models/{MODEL}/predict"
    with httpx.Client(timeout=30) as http:
        for what, body in tries.items():
            answer = http.post(endpoint, json=body)
            print(f"{what}: {answer.status_code} field={answer.json().get('field')}")
        answer = http.post(endpoint, json=record, headers={"x-request-id": "x" * 6000})
        print(f"a 6,000-character request id: {answer.status_code} {answer.json()['field']}")
        big = b'{"records": [' + b"0," * (1 << 20) + b"0]}"
        answer = http.post(endpoint, content=big, headers={"content-type": "application/json"})
        print(f"a 2 MiB body: {answer.status_code} {answer.json()['error']}")
        ok = sum(http.post(endpoint, json=record).status_code == 200 for _ in range(20))
        print(f"good requests beside them: {ok} of 20 answered")
        time.sleep(1.0)  # the log writes a segment every 0.5 s here
        health = http.get(f"{url}/healthz").json()
        print(f"/healthz: {json.dumps(health['log'])}")
        for host in health["hosts"]:  # every gateway and worker on this store
            print(
                f"host {host['id']} ({host['role']}, {host['address'] or 'no address'}): "
                f"routing v{host['routing_version']}, heartbeat {host['seen_s_ago']} s ago, "
                f"leases {host['leases'] or 'none'}"
            )


def _roll_out(traffic: Traffic, folder: Path, url: str) -> None:
    say("14. The challenger passed offline; now shadow, canary 25% and 50%, then full")
    plan = folder / "rollout.yaml"
    plan.write_text(yaml.safe_dump(PLAN, sort_keys=False))
    print(plan.read_text())
    cli("rollout", "start", MODEL, "2", "--plan", str(plan), "--why", "passed the offline gate")
    state = _drive(traffic, folder, 1200, time.time() + 300)
    print(f"rollout ended: {state}")
    cli("events", "--action", "rollout")
    say("15. What shadow and canary saw: agreement and accuracy per slice, on labelled requests")
    cli("rollout", "compare", MODEL)
    cli("rollout", "status", MODEL)


def _fail_and_roll_back(traffic: Traffic, folder: Path, flights: pd.DataFrame) -> None:
    say("16. A second candidate breaks on routes it never saw: canary, errors, rolled back")
    version = _broken_candidate(flights)
    plan = folder / "broken.yaml"
    plan.write_text(yaml.safe_dump(BROKEN_PLAN, sort_keys=False))
    cli("rollout", "start", MODEL, str(version.version), "--plan", str(plan), may_fail=True)
    cli(
        "rollout", "start", MODEL, str(version.version), "--plan", str(plan), "--force",
        "--why", "a new feature: judge it on a 10% canary",
    )  # fmt: skip
    state = _drive(traffic, folder, 1500, time.time() + 120)
    print(f"rollout ended: {state}; every request was still answered: {traffic.variants}")
    cli("rollout", "status", MODEL)


def _rollback(traffic: Traffic, url: str, crowned: float) -> None:
    say("17. One command rolls the champion back; every gateway follows within a second")
    before = httpx.post(f"{url}/v1/models/{MODEL}/predict", json=traffic.rows[0]).json()
    switched: list[float] = []
    watcher = threading.Thread(target=_watch, args=(url, traffic.rows[0], before, switched))
    watcher.start()
    cli("rollback", MODEL, "--why", "demo: back to the logistic model")
    watcher.join(timeout=10)
    moved = prodml.model_history(MODEL).moves[-1]
    answer = httpx.post(f"{url}/v1/models/{MODEL}/predict", json=traffic.rows[0]).json()
    lag = switched[0] - moved.at.timestamp() if switched else float("nan")
    print(
        f"served by v{before['version']} before, v{answer['version']} now: the gateway "
        f"answered with v{answer['version']} {lag:.2f} s after champion moved"
    )
    cli("models", "history", MODEL)
    moment = datetime.fromtimestamp(crowned).astimezone().isoformat()
    cli("models", "history", MODEL, "--as-of", moment)
