"""Heartbeats and leases in the SQL store, timed by the database's clock.

A lease is taken by one statement that succeeds only for its holder or once it
expired, so two processes asking at once cannot both get it: PostgreSQL locks the
row and checks the condition again for the second; SQLite has one writer at a time.
A change made under a lease checks, in its own transaction and with the lease's row
locked, that the token is still the lease's (:meth:`HostQueries.fenced`)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from prodml.domain.hosts import STALE_AFTER, Fence, Heartbeat, Lease
from prodml.domain.ids import from_epoch
from prodml.errors import RunStateError
from prodml.stores import driver
from prodml.stores.sql_base import SqlBase

FORGET_AFTER = 86_400.0  # seconds after its last heartbeat a process is no longer shown
_CLOCK = {
    "postgresql": "SELECT EXTRACT(EPOCH FROM clock_timestamp())::double precision",
    "sqlite": "SELECT (julianday('now') - 2440587.5) * 86400.0",
}
_BEAT = (
    "INSERT INTO hosts (id, host, pid, role, address, models, routing_version, started_at,"
    " seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
    " address = excluded.address, models = excluded.models,"
    " routing_version = excluded.routing_version, seen_at = excluded.seen_at"
)
# A host restarted under its name after a crash: its new process takes the place of
# the dead ones of the same host, role and address (live ones stay).
_REPLACED = (
    "DELETE FROM hosts WHERE host = ? AND role = ? AND address = ? AND id <> ? AND seen_at < ?"
)
_TAKE = (
    "UPDATE leases SET token = CASE WHEN holder = ? THEN token ELSE token + 1 END,"
    " acquired_at = CASE WHEN holder = ? THEN acquired_at ELSE ? END,"
    " holder = ?, expires_at = ? WHERE name = ? AND (holder = ? OR expires_at <= ?)"
)


def clock(connection: sa.Connection) -> float:
    """The database's time in epoch seconds: the one clock every host agrees on."""
    return float(driver.execute(connection, _CLOCK[connection.dialect.name])[0][0])


class HostQueries(SqlBase):
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
        with self.write() as connection:
            now = clock(connection)
            driver.execute(
                connection,
                _BEAT,
                (
                    id, host, pid, role, address, json.dumps(models), routing_version,
                    started_at, now,
                ),
            )  # fmt: skip
            driver.execute(connection, "DELETE FROM hosts WHERE seen_at < ?", (now - FORGET_AFTER,))
            driver.execute(connection, _REPLACED, (host, role, address, id, now - STALE_AFTER))

    def leave(self, id: str) -> None:
        """The process ``id`` stopped: its heartbeat goes, and the leases it held end now."""
        with self.write() as connection:
            now = clock(connection)
            driver.execute(connection, "DELETE FROM hosts WHERE id = ?", (id,))
            driver.execute(
                connection,
                "UPDATE leases SET expires_at = ? WHERE holder = ? AND expires_at > ?",
                (now, id, now),
            )

    def hosts(self, within: float = FORGET_AFTER) -> list[Heartbeat]:
        """Every process heard from in the last ``within`` seconds, by id."""
        with self.read() as connection:
            now = clock(connection)
            rows = driver.execute(
                connection,
                "SELECT id, host, pid, role, address, models, routing_version, started_at,"
                " seen_at FROM hosts WHERE seen_at >= ? ORDER BY id",
                (now - within,),
            )
            held = driver.execute(
                connection, "SELECT holder, name FROM leases WHERE expires_at >= ?", (now,)
            )
        leases: dict[str, list[str]] = {}
        for holder, name in held:
            leases.setdefault(holder, []).append(name)
        return [_heartbeat(row, sorted(leases.get(row[0], [])), now) for row in rows]

    def take_lease(self, name: str, holder: str, seconds: float) -> int | None:
        """Take or renew the lease ``name`` for ``seconds``: its token when ``holder``
        has it now, None while another process holds it."""
        with self.write() as connection:
            now = clock(connection)
            if connection.dialect.name == "postgresql":
                self.serialise(connection, f"lease:{name}")  # the first insert, too
            found = driver.execute(connection, "SELECT 1 FROM leases WHERE name = ?", (name,))
            if not found:
                driver.execute(
                    connection,
                    "INSERT INTO leases (name, holder, token, acquired_at, expires_at)"
                    " VALUES (?, ?, 1, ?, ?)",
                    (name, holder, now, now + seconds),
                )
                return 1
            until = now + seconds
            driver.execute(
                connection, _TAKE, (holder, holder, now, holder, until, name, holder, now)
            )
            row = driver.execute(
                connection, "SELECT holder, token FROM leases WHERE name = ?", (name,)
            )
        return int(row[0][1]) if row and row[0][0] == holder else None

    def release_lease(self, name: str, holder: str) -> None:
        """End ``holder``'s lease ``name`` now, so a standby takes it without waiting."""
        with self.write() as connection:
            now = clock(connection)
            driver.execute(
                connection,
                "UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ? AND expires_at > ?",
                (now, name, holder, now),
            )

    def lease(self, name: str) -> Lease | None:
        with self.read() as connection:
            rows = driver.execute(
                connection,
                "SELECT name, holder, token, acquired_at, expires_at FROM leases WHERE name = ?",
                (name,),
            )
        if not rows:
            return None
        name, holder, token, acquired, expires = rows[0]
        return Lease(
            name=name, holder=holder, token=int(token), acquired_at=from_epoch(acquired),
            expires_at=from_epoch(expires),
        )  # fmt: skip


def fenced(connection: sa.Connection, fence: Fence | None) -> None:
    """Refuse the change being made in ``connection`` unless ``fence``'s token is
    still its lease's; the lease's row stays locked until the change commits, so no
    one takes the lease in between."""
    if fence is None:
        return
    lock = " FOR UPDATE" if connection.dialect.name == "postgresql" else ""
    rows = driver.execute(
        connection, f"SELECT token FROM leases WHERE name = ?{lock}", (fence.lease,)
    )
    if not rows or int(rows[0][0]) != fence.token:
        raise RunStateError(
            f"The lease {fence.lease!r} moved on from token {fence.token} to another "
            "process, which acts from now on; this change was not made."
        )


def _heartbeat(row: Any, leases: list[str], now: float) -> Heartbeat:
    id, host, pid, role, address, models, version, started, seen = row
    return Heartbeat(
        id=id, host=host, pid=int(pid), role=role, address=address,
        models=tuple(json.loads(models)),
        routing_version=None if version is None else int(version),
        leases=tuple(leases), started_at=from_epoch(started), seen_at=from_epoch(seen),
        age=max(0.0, now - seen),
    )  # fmt: skip
