"""Executors by name: ``local`` (parts in turn, in this process) or ``ray`` (a task per
part on a Ray cluster, ``pip install 'prodml[ray]'``). Ray is imported here, above the
core, which only sees the :class:`~prodml.data.executors.Executor` protocol.

Without an address a local Ray is started on first use with every CPU of the machine,
quietly (errors only, no dashboard, no usage report unless ``RAY_USAGE_STATS_ENABLED``
says otherwise), and kept for the rest of the process; ``auto`` joins the cluster
started on this machine with ``ray start``, ``HOST:6379`` or ``ray://HOST:10001`` one
elsewhere (its workers must reach the same store: a database server and a bucket, not
a local folder). ``RAY_ADDRESS``, when set, names the cluster as Ray reads it."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from prodml.data.executors import Executor, LocalExecutor, Progress
from prodml.errors import InvalidInputError, ProdmlError

P = TypeVar("P")
R = TypeVar("R")
KINDS = ("local", "ray")
CONNECT_SECONDS = 10.0  # to open a connection to a cluster's address
# Through Ray Client a sweep's Tune runs on the cluster: no per-trial CSV, JSON or
# TensorBoard files there either (the sweep's runs hold what each trial did)
CLIENT_ENV = {"TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}


def executor_for(kind: str, address: str | None = None) -> Executor:
    """The executor called ``kind``; ``address`` (Ray's) applies to ``ray`` only."""
    if kind == "local":
        if address:
            raise InvalidInputError(
                f"An address ({address}) applies to the ray executor; add --executor ray "
                "or leave the address out."
            )
        return LocalExecutor()
    if kind == "ray":
        _ray()  # refused now, not after the model and table are read
        if address:
            _reachable(address)
        return RayExecutor(address)
    raise InvalidInputError(f"No executor {kind!r}; choose one of: {', '.join(KINDS)}.")


class RayExecutor:
    """A Ray task per part; connects (or starts a local Ray) on first use."""

    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        self.address = address

    @property
    def workers(self) -> int:
        ray = self._connected()
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def map(
        self, function: Callable[[P], R], parts: Sequence[P], progress: Progress | None = None
    ) -> list[R]:
        ray = self._connected()
        remote = ray.remote(_apply)
        shared = ray.put(function)  # sent once, not once per part
        futures = [remote.remote(shared, part) for part in parts]
        pending = list(futures)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                if progress is not None:
                    progress(len(futures) - len(pending), len(futures))
                ray.get(ready)  # the first failure stops the wait
            return list(ray.get(futures))
        except ray.exceptions.RayError as error:
            for future in pending:
                ray.cancel(future)
            cause = getattr(error, "cause", None)
            if isinstance(cause, ProdmlError):
                raise cause from None
            reason = f"{type(cause).__name__}: {cause}" if cause else _first_line(error)
            raise InvalidInputError(f"A Ray task failed: {reason}") from None

    def _connected(self) -> Any:
        ray = _ray()
        if not ray.is_initialized():
            _connect(ray, self.address)
        return ray


def _apply(function: Callable[[P], R], part: P) -> R:
    _fit_threads()
    return function(part)


def _fit_threads() -> None:
    """Arrow's thread pool as wide as the CPUs Ray gave the task (one by default), as Ray
    sets OMP_NUM_THREADS for BLAS: left at every core of the machine, two parts on two
    cores ran four decoding threads and each part took twice as long (scoring 2M rows of
    4M: 2.2-2.5 s against 1.15-1.4 s with one thread each)."""
    import pyarrow as pa

    assigned = _ray().get_runtime_context().get_assigned_resources().get("CPU", 1)
    wanted = max(1, int(assigned))
    if pa.cpu_count() != wanted:
        pa.set_cpu_count(wanted)


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InvalidInputError(
            "The ray executor needs Ray, which is not installed: pip install 'prodml[ray]'. "
            "Or run it in this process: --executor local."
        ) from None
    return ray


def _connect(ray: Any, address: str | None) -> None:
    quiet: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    with _own_sigterm():
        _init(ray, address, quiet)


@contextlib.contextmanager
def _own_sigterm() -> Iterator[None]:
    """Keep the process's own SIGTERM handler through ``ray.init``, which puts Ray's in
    its place (in its native core the process then exits with status 1 at once), so that
    a command stopped by SIGTERM still ends its runs as failed."""
    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if callable(before):
            signal.signal(signal.SIGTERM, before)


def _init(ray: Any, address: str | None, quiet: dict[str, Any]) -> None:
    try:
        if address and address.startswith("ray://"):  # what runs on the cluster for us
            ray.init(address=address, runtime_env={"env_vars": dict(CLIENT_ENV)}, **quiet)
        elif address:
            ray.init(address=address, **quiet)
        elif os.environ.get("RAY_ADDRESS"):  # Ray's own way of naming the cluster
            ray.init(**quiet)
        else:
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, **quiet)
    except (OSError, TimeoutError, RuntimeError, ValueError) as error:
        if address:
            raise _unreachable(address, error) from None
        raise InvalidInputError(
            f"Could not start a local Ray: {_first_line(error)}. Start one with "
            "ray start --head and pass --address auto, or score with --executor local."
        ) from None


def _unreachable(address: str, error: BaseException) -> InvalidInputError:
    return InvalidInputError(
        f"Cannot reach a Ray cluster at {address}: {_first_line(error)}. Check that it "
        "runs (ray status on its head node) and give its address (auto, HOST:6379 or "
        "ray://HOST:10001), or leave --address out to start a local Ray."
    )


def _reachable(address: str) -> None:
    """Refuse at once an address nothing listens on (Ray itself retries for minutes)."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not (port.isascii() and port.isdigit()):
        raise InvalidInputError(
            f"Ray address {address!r} is not one of: auto, HOST:PORT (the head's GCS, "
            "6379 by default) or ray://HOST:PORT (Ray Client, 10001 by default)."
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS):
            pass
    except OSError as error:
        raise _unreachable(address, error) from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
