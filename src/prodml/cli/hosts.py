"""``prodml hosts``: the gateways and workers heard from in the last hour and the
leases of the rollout controller and the monitor worker."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

import prodml
from prodml.cli.output import console, emit_json, plain
from prodml.domain.hosts import STALE_AFTER, Heartbeat, Lease
from prodml.times import glance

JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def register(app: typer.Typer) -> None:
    app.command("hosts")(hosts)


def hosts(
    within: Annotated[
        float, typer.Option(help="Seconds: list processes heard from this recently.", min=0)
    ] = 3600.0,
    json: JSON = False,
) -> None:
    """Every gateway and worker heard from lately: what it serves, its routing version
    (behind when it differs from the store's), its last heartbeat (stale once it
    stops beating) and its leases; then who holds each lease."""
    seen = prodml.hosts(within)
    current = prodml.routing_version()
    held = prodml.leases()
    now = datetime.now(UTC)
    if json:
        emit_json(
            {
                "routing_version": current,
                "stale_after": STALE_AFTER,
                "hosts": [_host_json(h, current) for h in seen],
                "leases": [_lease_json(lease, now) for lease in held],
            }
        )
        return
    if not seen:
        console.print(
            "No gateway or worker has reported to this store in the last "
            f"{'hour' if within == 3600 else glance(within)}. Start one: prodml serve MODEL "
            "(a gateway) or prodml monitor serve (the monitor worker)."
        )
    else:
        table = Table("host", "pid", "role", "address", "models", "routing", "last heartbeat",
                      "state", "leases")  # fmt: skip
        for h in seen:
            table.add_row(
                h.host, str(h.pid), h.role, h.address or "-", ", ".join(h.models) or "-",
                _routing(h, current), f"{glance(h.age)} ago",
                Text("stale", "red") if h.stale else Text("live", "green"),
                ", ".join(h.leases) or "-",
            )  # fmt: skip
        console.print(table)
        console.print(f"Routing version of the store: {current}.")
    if held:
        leases = Table("lease", "holder", "token", "expires")
        for lease in held:
            left = (lease.expires_at - now).total_seconds()
            shown = f"in {glance(left)}" if left > 0 else f"expired {glance(-left)} ago"
            expires = Text(shown, "red" if left <= 0 else "")
            leases.add_row(lease.name, lease.holder, str(lease.token), expires)
        console.print(leases)


def _behind(heartbeat: Heartbeat, current: int) -> bool:
    """A live gateway serving an older routing table; a stale one serves nothing."""
    version = heartbeat.routing_version
    return version is not None and version != current and not heartbeat.stale


def _routing(heartbeat: Heartbeat, current: int) -> Text:
    if heartbeat.routing_version is None:
        return Text("-")
    if _behind(heartbeat, current):
        return Text(f"{heartbeat.routing_version} (behind)", "yellow")
    return Text(str(heartbeat.routing_version))


def _host_json(heartbeat: Heartbeat, current: int) -> dict[str, Any]:
    shown: dict[str, Any] = plain(heartbeat)
    return {**shown, "stale": heartbeat.stale, "behind": _behind(heartbeat, current)}


def _lease_json(lease: Lease, now: datetime) -> dict[str, Any]:
    shown: dict[str, Any] = plain(lease)
    return {**shown, "expires_in": round((lease.expires_at - now).total_seconds(), 3)}
