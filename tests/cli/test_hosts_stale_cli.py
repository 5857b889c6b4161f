"""``prodml hosts``: a process that stopped beating is stale, not behind (it serves
nothing), in the table and in the JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path

import sqlalchemy as sa
from cli_process import run_prodml

from prodml.client import Client
from prodml.domain.hosts import STALE_AFTER
from prodml.stores import counters


def test_a_stale_gateway_is_not_marked_behind(tmp_path: Path) -> None:
    home = tmp_path / ".prodml"
    client = Client(home=str(home), user="dana")
    try:
        client.metadata.beat(
            "gw-dead/7", host="gw-dead", pid=7, role="gateway", address="gw-dead:8000",
            models=["fraud"], routing_version=0, started_at=time.time(),
        )  # fmt: skip
        with client.metadata.engine.begin() as connection:  # type: ignore[attr-defined]
            counters.bump(connection, counters.ROUTING)
            connection.execute(
                sa.text("UPDATE hosts SET seen_at = seen_at - :s"), {"s": STALE_AFTER + 30}
            )
    finally:
        client.close()

    listed = run_prodml(home, "hosts", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)["hosts"]
    assert row["stale"] and not row["behind"] and row["routing_version"] == 0
    table = run_prodml(home, "hosts")
    (line,) = [line for line in table.stdout.splitlines() if "gw-dead" in line]
    assert "stale" in line and "behind" not in line
