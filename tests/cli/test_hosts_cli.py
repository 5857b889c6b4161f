"""``prodml hosts``, run as a user runs it: the processes that beat into a real store,
stale and behind ones marked, and the leases, as a table and as JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path

import sqlalchemy as sa
from cli_process import run_prodml

from prodml.client import Client
from prodml.domain.hosts import CONTROLLER, STALE_AFTER
from prodml.stores import counters


def _beat(client: Client, host: str, pid: int, version: int | None, role: str = "gateway") -> str:
    ident = f"{host}/{pid}"
    client.metadata.beat(
        ident, host=host, pid=pid, role=role, address=f"{host}:8000" if role == "gateway" else "",
        models=["fraud"], routing_version=version, started_at=time.time(),
    )  # fmt: skip
    return ident


def test_no_process_yet_says_how_to_start_one(tmp_path: Path) -> None:
    home = tmp_path / ".prodml"
    shown = run_prodml(home, "hosts")
    assert shown.returncode == 0, shown.stderr
    assert "No gateway or worker has reported" in shown.stdout
    assert "prodml serve MODEL" in shown.stdout and "prodml monitor serve" in shown.stdout
    listed = json.loads(run_prodml(home, "hosts", "--json").stdout)
    assert listed == {"routing_version": 0, "stale_after": STALE_AFTER, "hosts": [], "leases": []}


def test_hosts_lists_each_process_marks_stale_and_behind_and_the_leases(tmp_path: Path) -> None:
    home = tmp_path / ".prodml"
    client = Client(home=str(home), user="dana")
    try:
        with client.metadata.engine.begin() as connection:  # type: ignore[attr-defined]
            counters.bump(connection, counters.ROUTING)
        old = _beat(client, "gw-old", 11, version=0)
        new = _beat(client, "gw-new", 12, version=1)
        worker = _beat(client, "wk", 13, version=None, role="worker")
        assert client.metadata.take_lease(CONTROLLER, worker, 60.0) == 1
        with client.metadata.engine.begin() as connection:  # type: ignore[attr-defined]
            connection.execute(
                sa.text("UPDATE hosts SET seen_at = seen_at - :s WHERE id = :id"),
                {"s": STALE_AFTER + 30, "id": old},
            )
    finally:
        client.close()

    listed = run_prodml(home, "hosts", "--json")
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    assert found["routing_version"] == 1
    rows = {row["id"]: row for row in found["hosts"]}
    assert list(rows) == [new, old, worker]  # by id
    assert rows[old]["stale"] and not rows[old]["behind"] and rows[old]["age"] > STALE_AFTER
    assert not rows[new]["stale"] and not rows[new]["behind"]
    assert rows[new]["address"] == "gw-new:8000" and rows[new]["models"] == ["fraud"]
    assert rows[worker]["routing_version"] is None and not rows[worker]["behind"]
    assert rows[worker]["leases"] == [CONTROLLER]
    (lease,) = found["leases"]
    assert lease["name"] == CONTROLLER and lease["holder"] == worker and lease["token"] == 1
    assert 0 < lease["expires_in"] <= 60

    table = run_prodml(home, "hosts")
    assert table.returncode == 0, table.stderr
    lines = {line.split()[1]: line for line in table.stdout.splitlines() if "│" in line[:2]}
    assert "stale" in lines["gw-old"] and "behind" not in lines["gw-old"]  # serves nothing
    assert "live" in lines["gw-new"] and "behind" not in lines["gw-new"]
    assert "rollout-controller" in lines["wk"]
    assert "Routing version of the store: 1." in table.stdout
    assert f"{CONTROLLER} │ {worker}" in table.stdout
