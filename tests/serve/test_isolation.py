"""One request, one model or one broken version never takes others down: batches are
capped and shed expired requests, a hung model's thread is replaced, and the routing
thread survives what it cannot load."""

from __future__ import annotations

import asyncio
import contextlib
import time

import edge_models
import httpx
from serving_helpers import Constant, crown, frame, gateway, log_versions, predict, row, talk

import prodml
from prodml.client import Client
from prodml.deploy import rollouts
from prodml.serve import served

SHADOW_PLAN = {"stages": [{"stage": "shadow", "min_duration": "1h", "min_requests": 1}]}


def test_requests_that_timed_out_leave_the_queue_before_the_model_sees_them(
    sqlite_client: Client,
) -> None:
    log_versions(sqlite_client, edge_models.HangsOnce())
    edge_models.HangsOnce.calls.clear()
    edge_models.HangsOnce.release.clear()
    version = served.Served(prodml.load_predictor("m@1", client=sqlite_client), timeout=0.2)
    version._abandon = lambda *args: None  # type: ignore[method-assign]  # keep the hung thread

    async def scenario() -> list[object]:
        first = asyncio.ensure_future(version.predict([row()]))
        await asyncio.sleep(0.05)  # the first call is now stuck in the model
        queued = await asyncio.gather(
            *(version.predict([row()]) for _ in range(30)), return_exceptions=True
        )
        edge_models.HangsOnce.release.set()
        with contextlib.suppress(TimeoutError):
            await first
        await asyncio.sleep(0.2)
        return [*queued, await version.predict([row()])]

    try:
        outcomes = asyncio.run(scenario())
    finally:
        edge_models.HangsOnce.release.set()
        version.close()
    assert all(isinstance(outcome, TimeoutError) for outcome in outcomes[:-1])
    assert outcomes[-1] == served.Outcome([5], None)
    assert edge_models.HangsOnce.calls == [1, 1]  # the 30 expired requests were never predicted


def test_a_hung_model_thread_is_replaced_so_later_requests_are_answered_by_the_model(
    sqlite_client: Client,
) -> None:
    (hangs,) = log_versions(sqlite_client, edge_models.HangsOnce())
    crown(sqlite_client, hangs)
    edge_models.HangsOnce.calls.clear()
    edge_models.HangsOnce.release.clear()

    async def scenario(http: httpx.AsyncClient) -> list[httpx.Response]:
        stuck = await predict(http, row())  # the model never returns: the default answers
        await asyncio.sleep(0.1)
        later = await predict(http, row())  # while the first call is still stuck
        edge_models.HangsOnce.release.set()
        return [stuck, later]

    stuck, later = talk(gateway(sqlite_client, timeout=0.3, default=0), scenario)
    assert stuck.json()["fallback"] == "default"
    assert later.status_code == 200
    assert later.json()["fallback"] is None and later.json()["predictions"] == [5]


def test_batches_are_capped_in_rows(sqlite_client: Client, monkeypatch: object) -> None:
    (counting,) = log_versions(sqlite_client, edge_models.Counting())
    crown(sqlite_client, counting)
    edge_models.Counting.rows.clear()

    async def scenario(http: httpx.AsyncClient) -> list[httpx.Response]:
        body = {"records": [row()] * 3_000}
        return list(await asyncio.gather(*(predict(http, body) for _ in range(4))))

    answers = talk(gateway(sqlite_client), scenario)
    assert all(a.status_code == 200 for a in answers)
    assert sum(edge_models.Counting.rows) == 12_000
    assert max(edge_models.Counting.rows) <= served.MAX_BATCH_ROWS


def test_a_request_whose_guardrails_cannot_be_applied_fails_alone(
    sqlite_client: Client, tmp_path: object
) -> None:
    with prodml.start_run("fit", client=sqlite_client) as run:
        version = run.log_model(Constant(1), "u")
    crown(sqlite_client, version)
    prodml.attach_guardrails(
        "u@1", {"rules": [{"name": "cap", "when": "a > 100", "set": 0}]}, client=sqlite_client
    )

    async def scenario(http: httpx.AsyncClient) -> list[httpx.Response]:
        good = [predict(http, {"a": i}, name="u") for i in range(60)]
        odd = [predict(http, {"a": f"text {i}"}, name="u") for i in range(5)]
        return list(await asyncio.gather(*good[:30], *odd, *good[30:]))

    answers = talk(gateway(sqlite_client, ("u",), allow_unsigned=True), scenario)
    numeric = answers[:30] + answers[35:]
    assert all(a.status_code == 200 for a in numeric)
    assert all(a.json()["fallback"] is None for a in numeric)  # the model answered them all


def test_an_unloadable_candidate_leaves_the_routing_thread_alive(sqlite_client: Client) -> None:
    one, broken, three = log_versions(
        sqlite_client, Constant(1), edge_models.Unloadable(), Constant(3)
    )
    crown(sqlite_client, one)

    async def scenario(http: httpx.AsyncClient) -> tuple[httpx.Response, ...]:
        rollouts.start(sqlite_client, "m", str(broken.version), SHADOW_PLAN, "try it")
        await asyncio.sleep(0.5)
        during = await predict(http, row())
        health = await http.get("/healthz")
        rollouts.abort(sqlite_client, "m", "it cannot load")
        crown(sqlite_client, three)
        deadline = time.monotonic() + 10
        after = await predict(http, row())
        while after.json()["predictions"] != [3] and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            after = await predict(http, row())
        return during, health, after, await http.get("/healthz")

    during, health, after, healed = talk(gateway(sqlite_client), scenario)
    assert during.json()["predictions"] == [1]
    assert "cannot be loaded" in health.json()["error"]
    assert health.json()["status"] == "degraded"
    assert after.json()["predictions"] == [3]  # later promotions are still followed
    assert healed.json()["error"] is None and healed.json()["status"] == "ok"


def test_an_unloadable_previous_champion_does_not_stop_the_champion_serving(
    sqlite_client: Client,
) -> None:
    broken, two = log_versions(sqlite_client, edge_models.Unloadable(), Constant(2))
    crown(sqlite_client, broken)
    crown(sqlite_client, two)  # the previous champion is the one that cannot load

    async def scenario(http: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        return await predict(http, row()), await http.get("/healthz")

    answer, health = talk(gateway(sqlite_client), scenario)
    assert answer.json()["predictions"] == [2]
    assert "previous champion v1" in health.json()["error"]


def test_versions_no_route_uses_are_unloaded(sqlite_client: Client) -> None:
    versions = log_versions(sqlite_client, *(Constant(i) for i in range(5)))
    crown(sqlite_client, versions[0])
    app = gateway(sqlite_client, timeout=0.1)

    async def scenario(http: httpx.AsyncClient) -> int:
        for version in versions[1:]:
            crown(sqlite_client, version)
            await asyncio.sleep(0.2)
            await predict(http, row())
        await asyncio.sleep(1.6)  # retired versions close once requests on them are done
        return int(app.state.gateway.router.loaded)

    assert talk(app, scenario) == 2  # the champion and the previous one


def test_a_shadow_that_hangs_does_not_block_the_shadows_after_it(sqlite_client: Client) -> None:
    log_versions(sqlite_client, edge_models.HangsOnce())
    edge_models.HangsOnce.calls.clear()
    edge_models.HangsOnce.release.clear()
    shadow = served.Served(prodml.load_predictor("m@1", client=sqlite_client), timeout=0.05)
    patience = 0.05 * served.SHADOW_PATIENCE  # a shadow batch may take this long
    try:
        rows = frame().head(3).to_dict("records")
        started = time.monotonic()
        first = shadow.shadow(rows)
        second = shadow.shadow(rows)
        elapsed = time.monotonic() - started
    finally:
        edge_models.HangsOnce.release.set()
        shadow.close()
    assert first[2] is not None and "timed out" in first[2]
    assert second[0] == [5, 5, 5]
    assert elapsed < patience + 1.0


def test_the_logs_counts_are_in_health_and_metrics(sqlite_client: Client) -> None:
    crown(sqlite_client, log_versions(sqlite_client, Constant(1))[0])

    async def scenario(http: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        for _ in range(5):
            await predict(http, row())
        await asyncio.sleep(0.6)  # the recorder and the writer have run
        return await http.get("/healthz"), await http.get("/metrics")

    health, metrics = talk(gateway(sqlite_client), scenario)
    log = health.json()["log"]
    assert log["written"] == 5 and log["alive"] is True and log["dropped"] == 0
    assert health.json()["status"] == "ok"
    assert 'prodml_log_rows{state="written"} 5.0' in metrics.text
    assert "prodml_routing_failures 0.0" in metrics.text
