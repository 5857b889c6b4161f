"""Profiles of freshly logged table versions made in a background thread while the
caller goes on (a pipeline's next step), and stored when the caller finishes.

Every table version still gets its profile: ``finish`` waits for each one and stores
it, and a pipeline run calls it before it ends, so the profiles of its outputs are
there when ``run_pipeline`` returns. Only their making is off the critical path: the
sketches' update loops hold the GIL, but a step that trains or computes spends most
of its time in code that releases it.

The store is written only from the caller's thread; the background thread only reads
the table in memory. It profiles without worker processes (forking a process that runs
other threads can deadlock the child). A profile that cannot be made is reported by
``finish`` and loses nothing: the version was stored before, and like any version
without a profile it gets one on first use (``prodml profile NAME@V``)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prodml.client import Client
from prodml.domain.dataset import DatasetVersion

if TYPE_CHECKING:
    import pyarrow as pa

    from prodml.data.profile import TableProfile
    from prodml.data.sketches import ColumnProfile


@dataclass(frozen=True)
class ProfileFailure:
    """A version whose profile could not be made, and why."""

    version: DatasetVersion
    error: str

    @property
    def message(self) -> str:
        ref = self.version.ref
        return (
            f"The profile of {ref} could not be made ({self.error}). The version is "
            f"stored; its profile is made when first needed, or now with: prodml profile {ref}"
        )


class PendingProfiles:
    """Profiles being made one after another in one background thread."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._pool: ThreadPoolExecutor | None = None
        self._waiting: list[tuple[DatasetVersion, Future[TableProfile]]] = []

    def add(
        self,
        version: DatasetVersion,
        table: pa.Table,
        carried: DatasetVersion | None = None,
        made: Mapping[str, ColumnProfile] | None = None,
    ) -> None:
        """Profile ``table``, the content of ``version``, in the background; columns
        carried from the version ``carried`` or profiled in ``made`` are not profiled
        again (as ``store_profile`` does)."""
        from prodml.data.stored_profiles import known_columns

        if self._client.metadata.profile_blob(version.id) is not None:
            return
        known = known_columns(self._client, carried, made)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="prodml-profiles")
        self._waiting.append((version, self._pool.submit(_profile, table, known, version.ref)))

    def finish(self) -> list[ProfileFailure]:
        """Wait for every profile, store each one made, and return those that failed."""
        from prodml.data.stored_profiles import store_made_profile

        failures = []
        waiting, self._waiting = self._waiting, []
        try:
            for version, future in waiting:
                try:
                    profile = future.result()
                except Exception as error:
                    failures.append(ProfileFailure(version, f"{type(error).__name__}: {error}"))
                else:
                    store_made_profile(self._client, version, profile)
        finally:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
                self._pool = None
        return failures


def _profile(table: pa.Table, known: Mapping[str, ColumnProfile], label: str) -> TableProfile:
    from prodml.data.stored_profiles import extended

    return extended(known, table, label)
