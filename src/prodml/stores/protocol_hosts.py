"""The part of the metadata store that keeps processes and leases (``sql_hosts``)."""

from __future__ import annotations

from typing import Protocol

from prodml.domain.hosts import Heartbeat, Lease


class HostStore(Protocol):
    def beat(
        self,
        id: str,
        *,
        host: str,
        pid: int,
        role: str,
        address: str,
        models: list[str],
        routing_version: int | None,
        started_at: float,
    ) -> None:
        """Record that the process ``id`` is alive now, with what it serves; processes
        silent for a day are forgotten, and stale ones of the same host, role and
        address at once (the host was restarted)."""

    def leave(self, id: str) -> None:
        """The process ``id`` stopped: its heartbeat goes, and the leases it held end now."""

    def hosts(self, within: float = 86_400.0) -> list[Heartbeat]:
        """Every process heard from in the last ``within`` seconds, by id."""

    def take_lease(self, name: str, holder: str, seconds: float) -> int | None:
        """Take or renew the lease ``name`` for ``seconds``: its token when ``holder``
        has it now, None while another process holds it."""

    def release_lease(self, name: str, holder: str) -> None:
        """End ``holder``'s lease ``name`` now, so a standby takes it without waiting."""

    def lease(self, name: str) -> Lease | None: ...
