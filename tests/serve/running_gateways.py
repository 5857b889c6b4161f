"""Gateways kept running across many requests from plain (synchronous) test code,
as property-based tests need: the ASGI app in this process on an event loop of its
own, or ``prodml serve`` on uvicorn in a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

HERE = Path(__file__).resolve().parent
STARTUP_TIMEOUT = 90.0  # a cold start imports sklearn, pandas, duckdb... on a slow box
# Settings the developer's shell may hold that would point a gateway elsewhere.
FOREIGN = (
    "PRODML_METADATA_URL",
    "PRODML_ARTIFACT_URL",
    "PRODML_LOG_URL",
    "PRODML_AUTH",
    "PRODML_TOKEN",
    "PROMETHEUS_MULTIPROC_DIR",
)
Send = Callable[..., httpx.Response]  # (method, path, **httpx request options)


@contextlib.contextmanager
def serving(app: Starlette) -> Iterator[Send]:
    """The app from lifespan start to end on a loop of its own thread; requests go
    through httpx.ASGITransport, and a crash comes back as the 500 a client gets."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="gateway-loop", daemon=True)
    thread.start()
    stack = contextlib.AsyncExitStack()

    def run(work: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(work, loop).result(60)

    async def start() -> httpx.AsyncClient:
        await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        http = httpx.AsyncClient(transport=transport, base_url="http://gateway")
        return await stack.enter_async_context(http)

    http = run(start())
    try:
        yield lambda method, path, **options: run(http.request(method, path, **options))
    finally:
        run(stack.aclose())  # ends the lifespan: the prediction log is flushed
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ready(process: subprocess.Popen[bytes], url: str) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            if httpx.get(f"{url}/v2/health/ready", timeout=2.0).json().get("ready"):
                return True
        time.sleep(0.2)
    return False


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the gateway's whole process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)


@contextlib.contextmanager
def uvicorn_gateway(home: Path, *args: str) -> Iterator[str]:
    """``prodml serve ARGS`` on the store at ``home``, on a free port: its URL."""
    with gateway_process(home, *args) as (url, _):
        yield url


@contextlib.contextmanager
def gateway_process(
    home: Path, *args: str, settings: dict[str, str] | None = None, log_name: str = "gateway"
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``prodml serve ARGS`` on the store at ``home`` (and any other ``settings``, e.g.
    PRODML_METADATA_URL, PRODML_HOST), on a free port: its URL and process."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    env.update(PRODML_HOME=str(home), PRODML_USER="gateway", PYTHONPATH=path, **(settings or {}))
    log = home.parent / f"{log_name}.log"
    for _ in range(3):  # another process may take the free port before us
        port = _free_port()
        command = [sys.executable, "-m", "prodml.cli.main", "serve", *args, "--port", str(port)]
        with log.open("wb") as sink:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=home.parent,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if _ready(process, f"http://127.0.0.1:{port}"):
            break
        kill(process)
        if "address already in use" not in log.read_text(errors="replace").lower():
            break
    else:
        pytest.fail(f"The gateway found no free port:\n{log.read_text(errors='replace')}")
    if process.poll() is not None:
        pytest.fail(f"The gateway did not become ready:\n{log.read_text(errors='replace')}")
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        kill(process)
