"""Handing a run to a worker: a forked or spawned process, or a Ray task.

The process that started a run owns it; a forked child that merely inherited the
run object is refused (:mod:`prodml.track.run`). To let a worker log into the run,
the owner hands it over explicitly::

    with prodml.start_run("sweep") as run:
        handle = run.handle()                 # picklable: send it to the worker
        ...                                   # in the worker:
        with prodml.attach_run(handle) as worker_run:
            worker_run.log_metric("fold_auc", 0.91, step=fold)

In the worker the run logs through the worker's own client: its own connections
and its own background writer, on the store the handle names (the worker's
default client when that is the same store). Leaving the ``with`` block stores
what the worker logged and leaves the run running: only its owner ends it. A
multiprocessing worker exits without running exit handlers, so what a worker
logged outside a ``with`` block is also stored when its multiprocessing process
ends normally; a worker that is killed loses at most one flush interval.

Params stay write-once across processes: the store's unique key on (run, key)
decides, and the second process to set a param to another value gets
``ParamConflictError`` at its next durability point (``flush()``, leaving the
block). Metric steps are counted per process: a worker that logs a metric its
owner also logs should give ``step=`` explicitly.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from prodml.client import Client, default_client
from prodml.domain.run import RunStatus
from prodml.errors import InvalidInputError, RunStateError
from prodml.track import active
from prodml.track.run import ActiveRun, RunHandle

if TYPE_CHECKING:
    from collections.abc import Callable


def attach_run(run: RunHandle | str, client: Client | None = None) -> ActiveRun:
    """The run ``run`` (a handle, or a run id on ``client``'s store) as an object this
    process logs into; it must still be running."""
    if isinstance(run, RunHandle):
        chosen, run_id = client or _client_for(run), run.run_id
    elif isinstance(run, str):
        chosen, run_id = client or default_client(), run
    else:
        raise InvalidInputError(
            f"attach_run takes run.handle() or a run id, not {type(run).__name__}."
        )
    stored = chosen.metadata.get_run(run_id)
    if stored.status is not RunStatus.RUNNING:
        raise RunStateError(
            f"Run {stored.id[:12]} is {stored.status.value}; a worker can log only into a "
            "running run. Start a new run with prodml.start_run(...)."
        )
    attached = ActiveRun(chosen, stored.id, stored.experiment, owned=False)
    attached._params.update(stored.params)  # a conflict with what is stored shows at once
    _leave_at_worker_exit(attached.end)
    active.started(attached)
    return attached


_clients: dict[tuple[str, str], Client] = {}
_clients_lock = threading.Lock()


def _client_for(handle: RunHandle) -> Client:
    """The default client when it opens the handle's store, else one client per store
    for this process (kept across fork: a client opens new connections in a child)."""
    store = (handle.metadata_url, handle.artifact_url)
    default = default_client()
    if (default.settings.metadata_url, default.settings.artifact_url) == store:
        return default
    with _clients_lock:
        if store not in _clients:
            _clients[store] = Client(metadata_url=store[0], artifact_url=store[1])
        return _clients[store]


def _leave_at_worker_exit(leave: Callable[[], None]) -> None:
    """A multiprocessing worker ends with os._exit, after its own exit functions but
    without the interpreter's: leave the run in those too."""
    import multiprocessing.util

    multiprocessing.util.Finalize(None, leave, exitpriority=10)
