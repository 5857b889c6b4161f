"""``/healthz`` on a gateway cut off from the store: the hosts it last heard from
age with the time since (its own heartbeat too), and turn stale, rather than
showing the last view read as if it were fresh."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from serving_helpers import classifier, crown, gateway, log_versions, talk

import prodml.serve.handlers
from prodml.client import Client
from prodml.errors import StoreError


def _unreachable(*args: Any, **kwargs: Any) -> None:
    raise StoreError("Metadata store postgresql://db:5432/prodml failed: connection refused")


def test_hosts_age_and_turn_stale_while_the_store_cannot_be_reached(
    sqlite_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    crown(sqlite_client, log_versions(sqlite_client, classifier())[0])
    app = gateway(sqlite_client)

    async def scenario(http: httpx.AsyncClient) -> tuple[Any, Any, Any]:
        before = (await http.get("/healthz")).json()
        monkeypatch.setattr(sqlite_client.metadata, "beat", _unreachable)
        await asyncio.sleep(2.5)  # two heartbeats fail
        during = (await http.get("/healthz")).json()
        monkeypatch.setattr(prodml.serve.handlers, "STALE_AFTER", 2.0)
        later = (await http.get("/healthz")).json()
        return before, during, later

    before, during, later = talk(app, scenario)

    (mine,) = before["hosts"]
    assert mine["id"] == before["process"] and mine["seen_s_ago"] < 1.5 and not mine["stale"]
    assert during["heartbeat_error"] and "connection refused" in during["heartbeat_error"]
    (cut_off,) = during["hosts"]
    assert cut_off["seen_s_ago"] >= 2.0, cut_off  # its last heartbeat is that old by now
    (marked,) = later["hosts"]
    assert marked["stale"], marked
