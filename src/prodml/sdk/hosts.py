"""Hosts: the gateways and workers that beat a heartbeat into the store, the leases
that name which process acts for the rollout controller and the monitor worker, and
the routing version a gateway that is up to date serves."""

from __future__ import annotations

from prodml.client import Client, default_client
from prodml.domain.hosts import CONTROLLER, MONITOR, Heartbeat, Lease
from prodml.errors import InvalidInputError

LEASES = (CONTROLLER, MONITOR)  # the leases a deployment's processes take


def hosts(within: float = 3600.0, *, client: Client | None = None) -> list[Heartbeat]:
    """Every gateway and worker heard from in the last ``within`` seconds, by id: what
    it serves, the routing version its table was built from, the leases it holds and
    how long ago it beat (``stale`` past ``prodml.domain.hosts.STALE_AFTER`` s)."""
    if isinstance(within, bool) or not isinstance(within, int | float) or not within >= 0:
        raise InvalidInputError(
            f"within (--within) is {within!r}; give seconds, 0 or more (3600 for the last hour)."
        )
    client = client or default_client()
    return client.metadata.hosts(within=within)


def leases(*, client: Client | None = None) -> list[Lease]:
    """The rollout controller's and the monitor worker's leases, those ever taken: who
    holds each, its fencing token and when it expires (by the store's clock)."""
    client = client or default_client()
    found = (client.metadata.lease(name) for name in LEASES)
    return [lease for lease in found if lease is not None]


def routing_version(*, client: Client | None = None) -> int:
    """The store's routing version now: a gateway whose heartbeat names a smaller one
    has not yet followed the latest alias move or rollout change."""
    client = client or default_client()
    return client.metadata.routing_stamp()[0]
