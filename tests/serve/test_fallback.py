"""A model that raises or passes its timeout does not fail the request: the champion
answers for a failing candidate, the previous champion or a declared default for a
failing champion; with nothing left the gateway says so with a 503."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import pytest
from serving_helpers import (
    Broken,
    Constant,
    Flaky,
    Sleepy,
    crown,
    gateway,
    log_versions,
    logged,
    predict,
    row,
    talk,
)

from prodml.client import Client
from prodml.deploy import rollouts
from prodml.deploy.registry import attach_guardrails

FULL = {"stages": [{"stage": "full"}]}


def _metric(text: str, name: str, *labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(label in line for label in labels):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_failing_candidate_is_answered_by_the_champion(sqlite_client: Client) -> None:
    client = sqlite_client
    first, _ = log_versions(client, Constant(0), Flaky())
    crown(client, first)
    rollouts.start(client, "m", "2", FULL)

    async def scenario(http: httpx.AsyncClient) -> tuple[list[httpx.Response], str]:
        answers = [
            await predict(http, row(a=0.0)),
            await predict(http, row(a=3.0)),
            await predict(http, [row(a=0.0), row(a=3.0)]),
        ]
        return answers, (await http.get("/metrics")).text

    (fine, failing, mixed), metrics = talk(gateway(client), scenario)

    assert fine.status_code == 200
    assert (fine.json()["version"], fine.json()["predictions"], fine.json()["fallback"]) == (
        2,
        [1],
        None,
    )
    for response, answers in ((failing, [0]), (mixed, [0, 0])):
        payload = response.json()
        assert response.status_code == 200
        assert (payload["variant"], payload["version"], payload["fallback"]) == (
            "candidate",
            1,
            "m@1",
        )
        assert payload["predictions"] == answers
    assert _metric(metrics, "prodml_fallbacks_total", 'version="2"', 'answered_by="m@1"') == 2
    assert _metric(metrics, "prodml_model_errors_total", 'version="2"') == 2
    found = logged(client, "SELECT * FROM predictions WHERE status = 'error' ORDER BY request_id")
    assert len(found) == 3  # the failing request and both rows of the mixed one
    for logged_row in found:
        assert (logged_row["assigned"], logged_row["version"], logged_row["fallback"]) == (
            2,
            1,
            "m@1",
        )
        assert "a is above 2" in logged_row["error"]


def test_a_failing_champion_falls_back_to_the_previous_one(sqlite_client: Client) -> None:
    client = sqlite_client
    first, second = log_versions(client, Constant(0), Broken())
    crown(client, first)
    crown(client, second)

    async def scenario(http: httpx.AsyncClient) -> Any:
        return (await predict(http, row())).json()

    payload = talk(gateway(client), scenario)

    assert (payload["version"], payload["predictions"], payload["fallback"]) == (1, [0], "m@1")


def test_a_failing_champion_is_answered_by_the_declared_default(sqlite_client: Client) -> None:
    client = sqlite_client
    (only,) = log_versions(client, Broken())
    crown(client, only)

    async def scenario(http: httpx.AsyncClient) -> httpx.Response:
        return await predict(http, [row(), row()])

    response = talk(gateway(client, default=0), scenario)

    payload = response.json()
    assert response.status_code == 200
    assert (payload["version"], payload["predictions"], payload["fallback"]) == (
        None,
        [0, 0],
        "default",
    )
    found = logged(client, "SELECT version, output, fallback, status FROM predictions")
    assert found == [{"version": None, "output": 0.0, "fallback": "default", "status": "error"}] * 2


def test_a_failing_champion_is_answered_by_its_guardrail_rules_then_the_default(
    sqlite_client: Client,
) -> None:
    client = sqlite_client
    (only,) = log_versions(client, Broken())
    crown(client, only)
    attach_guardrails(client, "m@1", {"rules": [{"name": "big", "when": "a > 2", "set": 1}]})

    async def scenario(http: httpx.AsyncClient) -> list[httpx.Response]:
        return [await predict(http, [row(a=3.0), row(a=0.0)]), await predict(http, row(a=0.0))]

    covered, uncovered = talk(gateway(client), scenario)
    with_default, by_default = talk(gateway(client, default=0), scenario)

    assert covered.status_code == 503  # the second row has no rule and no default
    assert uncovered.status_code == 503
    assert (with_default.json()["predictions"], with_default.json()["fallback"]) == (
        [1, 0],
        "rules",
    )
    assert (by_default.json()["predictions"], by_default.json()["fallback"]) == ([0], "default")


def test_without_any_fallback_the_gateway_answers_503_saying_why(sqlite_client: Client) -> None:
    client = sqlite_client
    (only,) = log_versions(client, Broken())
    crown(client, only)

    async def scenario(http: httpx.AsyncClient) -> httpx.Response:
        return await predict(http, row())

    response = talk(gateway(client), scenario)

    assert response.status_code == 503
    payload = response.json()
    assert payload["kind"] == "UnansweredError"
    assert "m@1 failed (RuntimeError: this model always fails)" in payload["error"]
    assert "no fallback could answer" in payload["error"]
    assert "--fallback-default" in payload["error"]
    assert logged(client, "SELECT count(*) AS n FROM predictions") == [{"n": 1}]


def test_a_model_past_its_timeout_is_answered_by_the_fallback(sqlite_client: Client) -> None:
    client = sqlite_client
    first, _ = log_versions(client, Constant(0), Sleepy(0.3))
    crown(client, first)
    rollouts.start(client, "m", "2", FULL)

    async def scenario(http: httpx.AsyncClient) -> Any:
        payload = (await predict(http, row())).json()
        await asyncio.sleep(0.4)  # let the sleeper finish before the gateway stops
        return payload

    payload = talk(gateway(client, timeout=0.05), scenario)

    assert (payload["version"], payload["predictions"], payload["fallback"]) == (1, [0], "m@1")
    (logged_row,) = logged(client, "SELECT error, latency_ms FROM predictions")
    assert logged_row["error"] == "timed out after 50 ms"
    assert logged_row["latency_ms"] < 250


def test_stopping_while_a_model_still_predicts_logs_no_error(
    sqlite_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    client = sqlite_client
    (only,) = log_versions(client, Sleepy(0.2))
    crown(client, only)

    async def scenario(http: httpx.AsyncClient) -> int:
        return (await predict(http, row())).status_code

    with caplog.at_level(logging.WARNING):
        assert talk(gateway(client, timeout=0.05, default=0), scenario) == 200
        time.sleep(0.4)  # the model finishes after the loop has closed

    assert not [r for r in caplog.records if "exception calling callback" in r.getMessage()]


def test_refused_and_unanswered_requests_are_counted_by_status(sqlite_client: Client) -> None:
    (only,) = log_versions(sqlite_client, Broken())
    crown(sqlite_client, only)

    async def scenario(http: httpx.AsyncClient) -> str:
        assert (await predict(http, row())).status_code == 503
        assert (await predict(http, {"a": 1.0})).status_code == 422
        return (await http.get("/metrics")).text

    metrics = talk(gateway(sqlite_client), scenario)

    assert _metric(metrics, "prodml_requests_total", 'model="m"', 'status="503"') == 1
    assert _metric(metrics, "prodml_requests_total", 'model="m"', 'status="422"') == 1
