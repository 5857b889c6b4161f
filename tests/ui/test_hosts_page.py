"""The hosts page: every gateway and worker heard from in the last hour, stale and
behind ones marked, the leases and who holds them; and the SDK functions it reads."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

import prodml
from prodml.client import Client
from prodml.domain.hosts import CONTROLLER, MONITOR, STALE_AFTER
from prodml.stores import counters
from prodml.times import glance as span
from prodml.ui.app import create_app


@pytest.fixture
def pages(client: Client) -> Iterator[TestClient]:
    """The dashboard on a fresh store, SQLite and PostgreSQL (each times by its clock)."""
    with TestClient(create_app(client), base_url="http://ui.test") as made:
        yield made


def _beat(
    client: Client, host: str, pid: int, role: str = "gateway", version: int | None = 0
) -> str:
    ident = f"{host}/{pid}"
    client.metadata.beat(
        ident,
        host=host,
        pid=pid,
        role=role,
        address=f"{host}:8000" if role == "gateway" else "",
        models=["fraud", "churn"] if role == "gateway" else [],
        routing_version=version,
        started_at=time.time(),
    )
    return ident


def _row(page: str, ident: str) -> str:
    found = re.search(rf'<tr data-id="{re.escape(ident)}"[^>]*>(.*?)</tr>', page, re.S)
    assert found, f"no row for {ident}"
    return found.group(0)


def _silence(client: Client, ident: str, seconds: float) -> None:
    """Move ``ident``'s last heartbeat ``seconds`` into the past."""
    with client.metadata.engine.begin() as connection:  # type: ignore[attr-defined]
        connection.execute(
            sa.text("UPDATE hosts SET seen_at = seen_at - :seconds WHERE id = :id"),
            {"seconds": seconds, "id": ident},
        )


def _bump_routing(client: Client) -> None:
    with client.metadata.engine.begin() as connection:  # type: ignore[attr-defined]
        counters.bump(connection, counters.ROUTING)


def test_with_no_process_the_page_says_how_to_start_one(pages: TestClient) -> None:
    page = pages.get("/hosts")
    assert page.status_code == 200
    assert "No gateway or worker has reported" in page.text
    assert "<code>prodml serve MODEL</code>" in page.text
    assert "<code>prodml monitor serve</code>" in page.text
    assert 'id="hosts"' not in page.text and 'id="no-leases"' in page.text
    nav = page.text[page.text.index("<nav>") : page.text.index("</nav>")]
    assert '<a href="/hosts" class="here">Hosts</a>' in nav


def test_each_process_is_a_row_with_what_it_serves_and_the_leases_it_holds(
    client: Client, pages: TestClient
) -> None:
    gateway = _beat(client, "gw-a", 101)
    worker = _beat(client, "wk-b", 202, role="worker", version=None)
    assert client.metadata.take_lease(CONTROLLER, worker, 30.0) == 1
    page = pages.get("/hosts").text
    row = _row(page, gateway)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[0:3] == ["gw-a", "101", "gateway"]
    assert "<code>gw-a:8000</code>" in cells[3]
    assert '<a href="/models/fraud">fraud</a>, <a href="/models/churn">churn</a>' in cells[4]
    assert cells[5].strip() == "0" and "behind" not in row
    assert re.fullmatch(r"\d\.\d s ago", cells[6]), cells[6]
    assert '<span class="badge ok">live</span>' in cells[7] and "stale" not in row
    worker_row = _row(page, worker)
    assert "rollout-controller</td>" in worker_row and "n/a" in worker_row
    assert "2 processes heard from in the last hour" in page
    leases = page[page.index('id="leases"') :]
    lease_row = re.search(r'<tr data-name="rollout-controller">(.*?)</tr>', leases, re.S)
    assert lease_row, leases
    assert f"<code>{worker}</code>" in lease_row.group(1)
    assert '<td class="num">1</td>' in lease_row.group(1)
    assert re.search(r">in (2\d|30) s</td>", lease_row.group(1)), lease_row.group(1)
    assert MONITOR not in leases  # never taken: not listed


def test_a_process_silent_past_stale_after_is_marked_stale(
    client: Client, pages: TestClient
) -> None:
    quiet, lively = _beat(client, "gw-quiet", 1), _beat(client, "gw-live", 2)
    _silence(client, quiet, STALE_AFTER + 20)
    page = pages.get("/hosts").text
    row = _row(page, quiet)
    assert 'class="stale"' in row and '<span class="badge bad"' in row and ">stale</span>" in row
    assert re.search(r">3\d s ago</td>", row), row
    assert "stale" not in _row(page, lively)
    assert '<span class="badge bad">1 stale</span>' in page


def test_a_process_not_heard_from_within_the_hour_is_not_listed(
    client: Client, pages: TestClient
) -> None:
    gone, here = _beat(client, "gw-gone", 1), _beat(client, "gw-here", 2)
    _silence(client, gone, 2 * 3600)
    page = pages.get("/hosts").text
    assert f'data-id="{gone}"' not in page and f'data-id="{here}"' in page
    assert [h.id for h in prodml.hosts(within=3 * 3600, client=client)] == [gone, here]


def test_a_gateway_on_an_older_routing_version_is_marked_behind(
    client: Client, pages: TestClient
) -> None:
    _bump_routing(client)
    current = prodml.routing_version(client=client)
    assert current == 1
    old = _beat(client, "gw-old", 1, version=current - 1)
    new = _beat(client, "gw-new", 2, version=current)
    worker = _beat(client, "wk", 3, role="worker", version=None)
    page = pages.get("/hosts").text
    assert ">behind</span>" in _row(page, old) and "routing version is 1" in _row(page, old)
    assert "behind" not in _row(page, new) and "behind" not in _row(page, worker)
    assert '<span class="badge warn">1 behind</span>' in page


def test_the_live_part_redraws_the_same_tables(client: Client, pages: TestClient) -> None:
    ident = _beat(client, "gw-a", 1)
    part = pages.get("/hosts/live", headers={"hx-request": "true"})
    assert part.status_code == 200 and "<html" not in part.text
    assert part.text.startswith('<div id="hosts-live" hx-get="/hosts/live"')
    assert f'data-id="{ident}"' in part.text


def test_the_sdk_lists_hosts_leases_and_the_routing_version(client: Client) -> None:
    assert prodml.hosts(client=client) == [] and prodml.leases(client=client) == []
    assert prodml.routing_version(client=client) == 0
    worker = _beat(client, "wk", 9, role="worker", version=None)
    assert client.metadata.take_lease(MONITOR, worker, 10.0) == 1
    assert client.metadata.take_lease(CONTROLLER, worker, 10.0) == 1
    (seen,) = prodml.hosts(client=client)
    assert seen.id == worker and seen.leases == tuple(sorted((MONITOR, CONTROLLER)))
    assert [lease.name for lease in prodml.leases(client=client)] == [CONTROLLER, MONITOR]
    assert all(lease.holder == worker for lease in prodml.leases(client=client))


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.04, "0.0 s"),
        (0.4, "0.4 s"),
        (12.2, "12 s"),
        (185, "3 min"),
        (5400, "1.5 h"),
        (-1, "0.0 s"),
    ],
)
def test_durations_read_at_a_glance(seconds: float, shown: str) -> None:
    assert span(seconds) == shown
