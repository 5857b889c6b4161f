"""The hosts page: a process that stopped beating is stale, not behind: it serves
nothing, so its last routing version is not counted among the hosts behind."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from prodml.client import Client
from prodml.domain.hosts import STALE_AFTER
from prodml.stores import counters
from prodml.ui.app import create_app


@pytest.fixture
def pages(client: Client) -> Iterator[TestClient]:
    with TestClient(create_app(client), base_url="http://ui.test") as made:
        yield made


def _beat(client: Client, host: str, version: int) -> str:
    ident = f"{host}/1"
    client.metadata.beat(
        ident, host=host, pid=1, role="gateway", address=f"{host}:8000", models=["fraud"],
        routing_version=version, started_at=time.time(),
    )  # fmt: skip
    return ident


def test_a_stale_gateway_is_not_shown_or_counted_as_behind(
    client: Client, pages: TestClient
) -> None:
    dead = _beat(client, "gw-dead", 0)
    with client.metadata.engine.begin() as connection:  # type: ignore[attr-defined]
        counters.bump(connection, counters.ROUTING)
        connection.execute(
            sa.text("UPDATE hosts SET seen_at = seen_at - :s WHERE id = :id"),
            {"s": STALE_AFTER + 30, "id": dead},
        )
    live = _beat(client, "gw-live", 1)
    page = pages.get("/hosts").text
    row = re.search(rf'<tr data-id="{re.escape(dead)}"[^>]*>(.*?)</tr>', page, re.S)
    assert row and ">stale</span>" in row.group(1)
    assert "behind" not in row.group(1)
    assert f'data-id="{live}"' in page
    assert "1 stale" in page and "behind</span>" not in page
