"""The processes of a deployment as the store sees them: each gateway and worker
beats a heartbeat with what it serves, and a lease names the one process that may
act for a role (the rollout controller, the monitor worker) with a fencing token.

A lease is held until ``expires_at`` by the database's clock, never a host's, so
hosts whose clocks differ agree on who leads. Each new holder gets a larger token;
a change made under a lease names its token, and the store refuses it once the
lease moved on, so a leader that paused past its lease (a long collection, a lost
network) cannot act on a decision its successor may also take."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

CONTROLLER = "rollout-controller"  # the lease of the process that judges rollouts
MONITOR = "monitor-worker"  # the lease of the process that runs the monitors
GATEWAY, WORKER = "gateway", "worker"  # roles of a process's heartbeat
SUPERVISOR = "supervisor"  # starts a gateway's workers (--workers N) and judges rollouts
STALE_AFTER = 10.0  # seconds without a heartbeat before a process is shown as stale


@dataclass(frozen=True, kw_only=True)
class Heartbeat:
    """One process's latest heartbeat."""

    id: str  # "<host>/<pid>-<8 hex>", one per process
    host: str
    pid: int
    role: str  # gateway, worker or supervisor
    address: str  # where it listens ("host:port"), or "" for a worker
    models: tuple[str, ...]  # what it serves or watches
    routing_version: int | None  # the routing stamp its table was built from
    leases: tuple[str, ...]  # the leases it holds
    started_at: datetime
    seen_at: datetime  # by the database's clock
    age: float  # seconds since ``seen_at``, by the database's clock when read

    @property
    def stale(self) -> bool:
        return self.age > STALE_AFTER


@dataclass(frozen=True, kw_only=True)
class Lease:
    name: str
    holder: str  # the heartbeat id of the process holding it
    token: int  # larger for every new holder
    acquired_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Fence:
    """A change made under a lease: refused unless the lease is still ``token``'s."""

    lease: str
    token: int
