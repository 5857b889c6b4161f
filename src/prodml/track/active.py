"""The run that work in this context is logged into: the latest run started here that
is still open (a run started inside another one, until it ends; then the outer one).
Threads and asyncio tasks each see the runs their own context started."""

from __future__ import annotations

from contextvars import ContextVar

from prodml.track.run import ActiveRun

_STARTED: ContextVar[tuple[ActiveRun, ...]] = ContextVar("prodml_started_runs", default=())


def started(run: ActiveRun) -> None:
    """``run`` is now the active run of this context (ended runs are forgotten)."""
    _STARTED.set((*(r for r in _STARTED.get() if r.is_open), run))


def current() -> ActiveRun | None:
    """The latest run started in this context that is still open, if any."""
    return next((run for run in reversed(_STARTED.get()) if run.is_open), None)
