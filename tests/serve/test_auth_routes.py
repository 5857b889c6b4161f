"""Tokens at the gateway: with the store's auth ``admin`` the rollback and rollout
routes need a deployer bearer token; with auth ``all`` predictions need a token too,
whatever the gateway's own environment says."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator

import httpx
import pytest
from serving_helpers import Constant, crown, gateway, log_versions, predict, row, talk

import prodml
from prodml.client import Client
from prodml.deploy import rollouts, tokens


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def guarded(client: Client, request: pytest.FixtureRequest) -> Iterator[Client]:
    """Model ``m`` with v2 champion after v1; the store's auth mode is the param, and
    the gateway's own ``auth`` setting says ``off`` (it cannot lower the store's)."""
    first, second = log_versions(client, Constant(0), Constant(1))
    crown(client, first)
    crown(client, second)
    tokens.REFUSALS.flush()
    prodml.enable_auth(request.param, client=client)
    made = Client(**{**dataclasses.asdict(client.settings), "auth": "off"})
    yield made
    made.close()
    tokens.REFUSALS.flush()


def _refused(client: Client) -> list[dict[str, object]]:
    tokens.REFUSALS.flush()
    return [e.details for e in client.metadata.list_events() if e.action == "auth.refused"]


@pytest.mark.parametrize("guarded", ["admin"], indirect=True)
def test_the_rollback_route_needs_a_deployer_token(guarded: Client) -> None:
    deployer = tokens.create(guarded, "ci", tokens.DEPLOYER)
    predictor = tokens.create(guarded, "app", tokens.PREDICTOR)

    async def scenario(http: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await predict(http, row()),  # predictions stay open under admin
            await http.post("/v1/models/m/rollback"),
            await http.post("/v1/models/m/rollback", headers=_bearer("pml_wrong")),
            await http.post("/v1/models/m/rollback", headers=_bearer(predictor)),
            await http.post(
                "/v1/models/m/rollback", json={"why": "bad"}, headers=_bearer(deployer)
            ),
            await predict(http, row()),
        ]

    before, bare, wrong, weak, done, after = talk(gateway(guarded), scenario)

    assert before.json()["version"] == 2
    assert [r.status_code for r in (bare, wrong, weak)] == [403, 403, 403]
    assert "no token given" in bare.json()["error"]
    assert "unknown token given" in wrong.json()["error"]
    assert "app given" in weak.json()["error"]
    assert bare.json()["kind"] == "AccessDeniedError"
    assert done.status_code == 200
    assert after.json()["version"] == 1
    refused = [e for e in guarded.metadata.list_events() if e.action == "auth.refused"]
    assert [(e.details["token"], e.details["count"]) for e in refused] == [
        ("no token", 1), ("unknown token", 1), ("app", 1)
    ]  # fmt: skip
    assert {(e.subject_kind, e.subject_id) for e in refused} == {("action", "rollback")}


@pytest.mark.parametrize("guarded", ["admin"], indirect=True)
def test_the_rollout_routes_need_a_deployer_token(guarded: Client) -> None:
    rollouts.start(guarded, "m", "1", {"stages": [{"stage": "shadow"}]})
    deployer = tokens.create(guarded, "ci", tokens.DEPLOYER)

    async def scenario(http: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await http.post("/v1/rollouts/m/pause"),
            await http.post("/v1/rollouts/m/pause", headers=_bearer(deployer)),
            await http.post("/v1/rollouts/m/promote", headers=_bearer(deployer)),
        ]

    bare, paused, unexplained = talk(gateway(guarded), scenario)

    assert bare.status_code == 403
    assert paused.status_code == 200 and paused.json()["state"] == "paused"
    assert unexplained.status_code == 422
    assert "give --why TEXT" in unexplained.json()["error"]


@pytest.mark.parametrize("guarded", ["all"], indirect=True)
def test_with_auth_all_predictions_need_a_token(guarded: Client) -> None:
    predictor = tokens.create(guarded, "app", tokens.PREDICTOR)
    deployer = tokens.create(guarded, "ci", tokens.DEPLOYER)
    infer = {"inputs": [{"name": "a", "data": [0.0]}, {"name": "b", "data": [0.0]}]}

    async def scenario(http: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await predict(http, row()),
            await http.post("/v2/models/m/infer", json=infer),
            await predict(http, row(), headers=_bearer(predictor)),
            await predict(http, row(), headers=_bearer(deployer)),
            await http.post("/v2/models/m/infer", json=infer, headers=_bearer(predictor)),
            await http.post("/v1/models/m/rollback", headers=_bearer(predictor)),
        ]

    bare, bare_infer, app, ci, app_infer, weak = talk(gateway(guarded), scenario)

    assert bare.status_code == 403 and bare_infer.status_code == 403
    assert "predict needs a token with the predictor role" in bare.json()["error"]
    assert (app.status_code, ci.status_code, app_infer.status_code) == (200, 200, 200)
    assert weak.status_code == 403
    assert "deployer role" in weak.json()["error"]


@pytest.mark.parametrize("guarded", ["admin"], indirect=True)
def test_a_flood_of_forged_bearer_tokens_costs_a_few_events(guarded: Client) -> None:
    forged = [_bearer(tokens.PREFIX + secrets.token_urlsafe(32)) for _ in range(200)]

    async def scenario(http: httpx.AsyncClient) -> list[httpx.Response]:
        return [await http.post("/v1/models/m/rollback", headers=one) for one in forged]

    answers = talk(gateway(guarded), scenario)

    assert {r.status_code for r in answers} == {403}
    refused = _refused(guarded)
    assert len(refused) <= 3
    assert sum(int(str(e["count"])) for e in refused) == 200
    assert guarded.metadata.alias_version("m", "champion") == 2
