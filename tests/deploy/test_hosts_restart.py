"""A host restarted under the same name after a crash is listed once: its new
process's heartbeat takes the place of the dead one's, while a live process of the
same name and any other host's stale heartbeat stay listed."""

from __future__ import annotations

import time

import sqlalchemy as sa

from prodml.client import Client
from prodml.domain.hosts import STALE_AFTER


def _beat(client: Client, host: str, pid: int, address: str = "", role: str = "gateway") -> None:
    client.metadata.beat(
        f"{host}/{pid}", host=host, pid=pid, role=role, address=address, models=["m"],
        routing_version=1, started_at=time.time(),
    )  # fmt: skip


def _silence(client: Client, ident: str) -> None:
    with client.metadata.engine.begin() as connection:  # type: ignore[attr-defined]
        connection.execute(
            sa.text("UPDATE hosts SET seen_at = seen_at - :s WHERE id = :id"),
            {"s": STALE_AFTER + 30, "id": ident},
        )


def test_a_host_restarted_under_its_name_replaces_its_dead_process(client: Client) -> None:
    _beat(client, "gw1", 100, "10.0.0.1:8000")
    _beat(client, "gw2", 200, "10.0.0.2:8000")
    _beat(client, "mon", 300, role="worker")
    for ident in ("gw1/100", "gw2/200", "mon/300"):
        _silence(client, ident)  # all three killed

    _beat(client, "gw1", 101, "10.0.0.1:8000")  # gw1 and the worker come back
    _beat(client, "mon", 301, role="worker")
    _beat(client, "gw1", 102, "10.0.0.1:8000")  # a second live process of gw1

    shown = {h.id: h.stale for h in client.metadata.hosts()}
    assert shown == {"gw1/101": False, "gw1/102": False, "gw2/200": True, "mon/301": False}
