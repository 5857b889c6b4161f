"""Routing follows the store: a promotion or a rollback reaches every gateway within
a second without a restart, a canary is sticky per routing key, and a shadow
candidate is logged beside the champion's answer without ever being returned."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import httpx
import pytest
from serving_helpers import Constant, crown, gateway, log_versions, logged, predict, row, talk

import prodml
from prodml.client import Client
from prodml.deploy import rollouts
from prodml.domain.rollout import Rollout
from prodml.serve.routing import BUCKETS, bucket

SECOND = 1.0


@pytest.fixture
def two(client: Client) -> Client:
    """Model ``m``: v1 answers 0 and is champion, v2 answers 1."""
    first, _ = log_versions(client, Constant(0), Constant(1))
    crown(client, first)
    return client


async def _answered_by(http: httpx.AsyncClient, version: int, started: float) -> float:
    """Seconds from ``started`` until the gateway answers with ``version``; fails past 1 s."""
    while True:
        payload = (await predict(http, row())).json()
        if payload["version"] == version:
            assert payload["predictions"] == [version - 1]
            return time.monotonic() - started
        assert time.monotonic() - started < SECOND, f"still answering with v{payload['version']}"
        await asyncio.sleep(0.01)


def test_a_champion_move_and_a_rollback_reach_the_gateway_within_a_second(two: Client) -> None:
    second = two.metadata.get_model_version("m", "2")

    async def scenario(http: httpx.AsyncClient) -> tuple[float, float]:
        assert (await predict(http, row())).json()["version"] == 1
        started = time.monotonic()
        await asyncio.to_thread(two.metadata.move_alias, "m", "champion", 2, second.id, "t")
        promoted = await _answered_by(http, 2, started)
        started = time.monotonic()
        await asyncio.to_thread(prodml.rollback, "m", "v2 is worse", two)
        rolled_back = await _answered_by(http, 1, started)
        return promoted, rolled_back

    promoted, rolled_back = talk(gateway(two), scenario)

    assert promoted < SECOND and rolled_back < SECOND


def test_a_second_gateway_on_the_same_store_agrees(two: Client) -> None:
    other = Client(**dataclasses.asdict(two.settings))
    apps = [gateway(two), gateway(other)]
    second = two.metadata.get_model_version("m", "2")

    async def main() -> list[float]:
        async with (
            apps[0].router.lifespan_context(apps[0]),
            apps[1].router.lifespan_context(apps[1]),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=apps[0]), base_url="http://g"
            ) as one,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=apps[1]), base_url="http://g"
            ) as two_,
        ):
            for http in (one, two_):
                assert (await predict(http, row())).json()["version"] == 1
            started = time.monotonic()
            await asyncio.to_thread(two.metadata.move_alias, "m", "champion", 2, second.id)
            return [await _answered_by(http, 2, started) for http in (one, two_)]

    try:
        waits = asyncio.run(main())
    finally:
        other.close()
    assert max(waits) < SECOND


def _canary(client: Client, key: dict[str, str], share: int = 50) -> Rollout:
    plan = {"routing_key": key, "stages": [{"stage": "canary", "steps": [share]}]}
    return rollouts.start(client, "m", "2", plan)


def test_a_sticky_canary_gives_each_user_one_variant_and_about_its_share(two: Client) -> None:
    rollout = _canary(two, {"field": "user"})
    users = [f"user-{i}" for i in range(400)]

    async def scenario(http: httpx.AsyncClient) -> list[list[Any]]:
        rounds = []
        for _ in range(2):
            answers = await asyncio.gather(*(predict(http, row(user=u)) for u in users))
            rounds.append([a.json() for a in answers])
        return rounds

    rounds = talk(gateway(two), scenario)

    seen: dict[str, set[tuple[str, int, Any]]] = {u: set() for u in users}
    for answers in rounds:
        for user, payload in zip(users, answers, strict=True):
            assert payload["fallback"] is None
            seen[user].add((payload["variant"], payload["version"], payload["predictions"][0]))
    assert all(len(variants) == 1 for variants in seen.values())
    candidates = [u for u, v in seen.items() if v == {("candidate", 2, 1)}]
    champions = [u for u, v in seen.items() if v == {("champion", 1, 0)}]
    assert len(candidates) + len(champions) == 400
    assert 150 <= len(candidates) <= 250  # 50% of 400 users, +-5 standard deviations
    expected = {u for u in users if bucket(rollout.id, u) < 0.5 * BUCKETS}
    assert set(candidates) == expected


def test_a_header_routing_key_is_sticky_too(two: Client) -> None:
    _canary(two, {"header": "X-User-Id"})

    async def scenario(http: httpx.AsyncClient) -> dict[str, set[str]]:
        seen: dict[str, set[str]] = {}
        for i in range(40):
            for _ in range(3):
                answer = await predict(http, row(), headers={"x-user-id": f"u{i}"})
                seen.setdefault(f"u{i}", set()).add(answer.json()["variant"])
        return seen

    seen = talk(gateway(two), scenario)

    assert all(len(variants) == 1 for variants in seen.values())
    assert {next(iter(v)) for v in seen.values()} == {"candidate", "champion"}


def test_a_field_routing_key_is_sticky_in_a_records_body(sqlite_client: Client) -> None:
    first, _ = log_versions(sqlite_client, Constant(0), Constant(1))
    crown(sqlite_client, first)
    two = sqlite_client
    _canary(two, {"field": "user"})

    async def scenario(http: httpx.AsyncClient) -> set[str]:
        answers = [await predict(http, {"records": [row(user="same")]}) for _ in range(30)]
        return {a.json()["variant"] for a in answers}

    assert len(talk(gateway(two), scenario)) == 1


def test_buckets_are_stable_and_spread() -> None:
    assert bucket("rollout-1", "user-7") == bucket("rollout-1", "user-7") == 1303
    assert all(0 <= bucket("r", str(i)) < BUCKETS for i in range(1000))
    assert len({bucket("r", str(i)) for i in range(1000)}) > 900
    keys = [str(i) for i in range(200)]
    assert [bucket("a", k) for k in keys] != [bucket("b", k) for k in keys]  # salted per rollout


def test_a_shadow_candidate_is_logged_beside_the_champions_answer(two: Client) -> None:
    rollout = rollouts.start(two, "m", "2", {"stages": [{"stage": "shadow"}]})
    sql = "SELECT * FROM predictions ORDER BY request_id"

    async def scenario(http: httpx.AsyncClient) -> tuple[list[Any], list[dict[str, Any]]]:
        answers = [(await predict(http, row())).json() for _ in range(20)]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the recorder flushes while serving
            found = await asyncio.to_thread(logged, two, sql)
            if len(found) == 20:
                return answers, found
            await asyncio.sleep(0.05)
        raise AssertionError("the prediction log did not reach 20 rows within 5 s")

    answers, found = talk(gateway(two), scenario)

    assert {(a["version"], a["variant"], a["predictions"][0]) for a in answers} == {
        (1, "champion", 0)
    }
    assert [r["request_id"] for r in found] == sorted(a["request_id"] for a in answers)
    for logged_row in found:
        assert (logged_row["version"], logged_row["assigned"], logged_row["output"]) == (1, 1, 0)
        assert (logged_row["shadow_version"], logged_row["shadow_output"]) == (2, 1.0)
        assert logged_row["shadow_error"] is None and logged_row["status"] == "ok"
        assert (logged_row["rollout_id"], logged_row["step"]) == (rollout.id, 0)
        assert logged_row["inputs"] == row()


def test_a_failing_shadow_never_touches_the_response(client: Client) -> None:
    from serving_helpers import Broken

    first, _ = log_versions(client, Constant(0), Broken())
    crown(client, first)
    rollouts.start(client, "m", "2", {"stages": [{"stage": "shadow"}]})

    async def scenario(http: httpx.AsyncClient) -> list[httpx.Response]:
        return [await predict(http, row()) for _ in range(5)]

    answers = talk(gateway(client), scenario)

    assert {(a.status_code, a.json()["predictions"][0], a.json()["fallback"]) for a in answers} == {
        (200, 0, None)
    }
    found = logged(client, "SELECT shadow_version, shadow_output, shadow_error FROM predictions")
    assert len(found) == 5
    for logged_row in found:
        assert logged_row["shadow_version"] == 2 and logged_row["shadow_output"] is None
        assert "this model always fails" in logged_row["shadow_error"]


def test_the_rollout_routes_pause_and_abort_and_the_gateway_follows(two: Client) -> None:
    rollouts.start(two, "m", "2", {"stages": [{"stage": "full"}]})

    async def scenario(http: httpx.AsyncClient) -> list[Any]:
        seen = [(await predict(http, row())).json()["version"]]
        seen.append((await http.post("/v1/rollouts/m/pause", json={"why": "hold"})).json())
        seen.append((await predict(http, row())).json()["version"])
        seen.append((await http.get("/v1/models")).json()["m"]["rollout"]["state"])
        seen.append((await http.post("/v1/rollouts/m/abort")).json())
        seen.append((await predict(http, row())).json()["version"])
        seen.append((await http.post("/v1/rollouts/m/jump")).status_code)
        return seen

    seen = talk(gateway(two), scenario)

    assert seen[0] == 2 and seen[2] == 2  # a paused rollout keeps its traffic
    assert seen[1]["state"] == "paused" and seen[1]["step"] == "full"
    assert seen[3] == "paused"
    assert seen[4]["state"] == "aborted"
    assert seen[5] == 1
    assert seen[6] == 404


def test_a_broken_routing_keeps_the_last_good_table_and_says_so(two: Client) -> None:
    first = two.metadata.get_model_version("m", "1")

    async def scenario(http: httpx.AsyncClient) -> tuple[Any, Any]:
        await asyncio.to_thread(two.metadata.move_alias, "m", "champion", None, first.id)
        deadline = time.monotonic() + 2
        while (await http.get("/healthz")).json()["error"] is None:
            assert time.monotonic() < deadline, "the routing error was not reported"
            await asyncio.sleep(0.02)
        return (await predict(http, row())).json(), (await http.get("/healthz")).json()

    answer, health = talk(gateway(two), scenario)

    assert (answer["version"], answer["predictions"]) == (1, [0])
    assert "'m' has no champion to serve" in health["error"]
