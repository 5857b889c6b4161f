"""``prodml serve``: the gateway on uvicorn, with the rollout controller beside it.

With several workers, uvicorn starts each from :func:`from_environment`; the
settings travel in environment variables. The controller runs once, in the
process that starts the workers, so the workers only serve."""

from __future__ import annotations

import gc
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from prodml.client import Client, default_client
from prodml.deploy import controller
from prodml.deploy.heartbeats import Heartbeats
from prodml.deploy.leases import Leadership
from prodml.domain.hosts import CONTROLLER, SUPERVISOR
from prodml.errors import InvalidInputError
from prodml.serve.app import create_app
from prodml.serve.gateway import NO_DEFAULT, Options
from prodml.serve.routing import champion_of
from prodml.serve.telemetry import forget_dead_workers
from prodml.settings import host_name

ENVIRONMENT = "PRODML_SERVE_OPTIONS"


def from_environment() -> Any:
    """The app for one uvicorn worker, from the options ``run`` left in the environment."""
    _tune_collector()
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        forget_dead_workers(folder)
    spec = json.loads(os.environ[ENVIRONMENT])
    default = spec["default"][0] if spec["default"] else NO_DEFAULT
    options = Options(
        timeout=spec["timeout"], default=default, max_body=spec["max_body"],
        allow_unsigned=spec["allow_unsigned"], address=spec.get("address", ""),
    )  # fmt: skip
    return create_app(default_client(), spec["names"], options)


def _tune_collector() -> None:
    """Requests waiting on a batch keep many small objects alive; a larger first
    generation keeps the collector from running once per batch under load."""
    gc.set_threshold(20_000, 10, 10)


def check(names: list[str], client: Client | None = None, allow_unsigned: bool = False) -> None:
    """Refuse, before anything starts, a model that is unknown, has no champion, or
    whose champion has no input signature (unless that was chosen)."""
    client = client or default_client()
    for name in names:
        number = champion_of(client, name)
        version = client.metadata.get_model_version(name, str(number))
        if not version.signature and not allow_unsigned:
            raise InvalidInputError(
                f"The champion of {name!r} (v{number}) has no input signature, so the gateway "
                "could not check its inputs. Log the model with example=..., or serve it with "
                "--allow-unsigned (its records then need plain field names and scalar values)."
            )


def _metrics_folder() -> str | None:
    """Workers share metrics through files in one folder, emptied at each start; the
    folder made here (None when the environment named one)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        made = tempfile.mkdtemp(prefix="prodml-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
        return made
    Path(folder).mkdir(parents=True, exist_ok=True)
    for stale in Path(folder).glob("*.db"):
        stale.unlink()
    return None


def check_address(host: str, port: int) -> None:
    """Refuse an address this process cannot listen on (a port in use, an address not
    of this machine) before saying it serves there."""
    import socket

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind((host, port))
    except (OSError, OverflowError) as error:
        reason = (getattr(error, "strerror", None) or str(error)).rstrip(".")
        raise InvalidInputError(
            f"Cannot listen on {host}:{port}: {reason}. Give another address (--port N, "
            "--host ADDRESS), or stop what listens there."
        ) from None


def run(
    names: list[str],
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    timeout: float = 2.0,
    default: Any = NO_DEFAULT,
    max_body: int = 1 << 20,
    control: float | None = 2.0,
    client: Client | None = None,
    allow_unsigned: bool = False,
) -> None:
    import uvicorn

    client = client or default_client()
    _tune_collector()
    check(names, client, allow_unsigned)
    stop = threading.Event()
    leadership = None
    if control:  # every gateway process may judge; the one holding the lease does
        leadership = Leadership(client, CONTROLLER, term=control)
        leadership.start()
        thread = threading.Thread(
            target=controller.watch, args=(client, control, stop, None, leadership),
            daemon=True, name="prodml-controller",
        )  # fmt: skip
        thread.start()
    address = f"{host_name() if host in ('0.0.0.0', '::') else host}:{port}"
    settings: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "access_log": False,
    }
    made: str | None = None
    beats: Heartbeats | None = None
    try:
        if workers <= 1:
            options = Options(
                timeout=timeout, default=default, max_body=max_body,
                allow_unsigned=allow_unsigned, address=address,
            )  # fmt: skip
            uvicorn.run(create_app(client, names, options), **settings)
            return
        # this process serves nothing but holds the controller's lease: it beats too,
        # so that every view can name the host judging rollouts
        beats = Heartbeats(client, SUPERVISOR, names, address)  # the lease's holder id
        beats.start()
        made = _metrics_folder()
        os.environ[ENVIRONMENT] = json.dumps(
            {
                "names": names, "timeout": timeout, "max_body": max_body,
                "default": [] if default is NO_DEFAULT else [default],
                "allow_unsigned": allow_unsigned, "address": address,
            }
        )  # fmt: skip
        uvicorn.run(
            "prodml.serve.server:from_environment", factory=True, workers=workers, **settings
        )
    finally:
        stop.set()
        if leadership is not None:
            leadership.close()
        if beats is not None:
            beats.close()
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
