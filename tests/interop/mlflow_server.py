"""A real MLflow tracking server (``mlflow server``) for the import tests, from a venv of
its own holding the full ``mlflow`` of the dev venv's ``mlflow-skinny`` series.

The dev venv has only MLflow's client (``mlflow-skinny``, the ``mlflow`` extra); the
server needs Flask, alembic and the rest of the full package, so it is installed once
into ``<cache>/mlflow-server-<series>`` (see ``throwaway_venv.py``; about 2 minutes) and
reused afterwards. The server stores runs in SQLite and serves artifacts itself
(``--artifacts-destination``), as a team's server usually does: clients upload and
download them over HTTP (``mlflow-artifacts:/`` URIs). Each server starts on a copy of
an empty database made once in the venv's folder, not on a new file MLflow would take
through its whole chain of schema migrations (about 10 s) at every start."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

from throwaway_venv import ThrowawayVenv, clean_environment, script_of

SKINNY = importlib.metadata.version("mlflow-skinny")
_MAJOR, _MINOR = (int(part) for part in SKINNY.split(".")[:2])
SERIES = f"{_MAJOR}.{_MINOR}"


def _series(minor: int) -> tuple[str, ...]:
    return (f"mlflow>={_MAJOR}.{minor},<{_MAJOR}.{minor + 1}",)


# The client's series; where the index lacks part of it (a new release's mlflow-tracing
# comes a little later), the one before.
VENV = ThrowawayVenv(
    name=f"mlflow-server-{SERIES}",
    requirements=_series(_MINOR),
    distribution="mlflow",
    fallbacks=(_series(_MINOR - 1),) if _MINOR > 0 else (),
)
START_TIMEOUT = 90.0  # seconds for the server to answer /health


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def empty_database() -> Path:
    """A SQLite database holding MLflow's tables at the venv's schema and no rows, made
    by the venv's MLflow on first use (a second worker making it too only replaces it
    with the same)."""
    template = VENV.folder / "empty-mlflow.db"
    if not template.is_file():
        VENV.ensure()
        making = template.with_name(f"{uuid.uuid4().hex}.db")
        code = (
            "import sys; from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore; "
            "SqlAlchemyStore('sqlite:///' + sys.argv[1], sys.argv[2])"
        )
        arguments = [str(making), str(VENV.folder / "unused-artifacts")]
        made = subprocess.run(
            [str(VENV.python), "-c", code, *arguments],
            env=clean_environment(),
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if made.returncode != 0:
            raise RuntimeError(f"MLflow could not make its tables:\n{made.stderr[-3000:]}")
        os.replace(making, template)
    return template


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def running_server(folder: Path) -> Iterator[str]:
    """``mlflow server`` on a free local port, its store and artifacts under ``folder``;
    its URL while it runs. Stopped (and its log shown on a failed start) at the end."""
    shutil.copyfile(empty_database(), folder / "mlflow.db")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "server.log"
    command = [
        str(script_of(VENV.folder, "mlflow")),
        "server",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
        "--serve-artifacts",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    # no job runner: its seven consumer processes double the start, and nothing here needs it
    environment = {**clean_environment(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with log.open("wb") as output:
        server = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=folder,
            start_new_session=True,  # its own process group: uvicorn's worker stops with it
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"mlflow server did not answer {url}/health "
                    f"(exit code {server.poll()}):\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.2)
        yield url
    finally:
        _stop(server)


def _stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group; SIGKILL to whatever of it is left once the
    server has exited, or after 15 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=15)
