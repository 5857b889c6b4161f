"""Models and a harness for gateway tests. Models of the classes here pickle by this
module's name, so the folder must be on ``sys.path`` (the ``helpers_importable``
fixture puts it there)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from functools import cache
from typing import Any

import httpx
import numpy as np
import pandas as pd
import uvicorn
from sklearn.linear_model import LogisticRegression
from starlette.applications import Starlette

import prodml
from prodml.client import Client
from prodml.domain.artifact import ModelVersion
from prodml.domain.registry import CHAMPION
from prodml.serve.app import create_app
from prodml.serve.gateway import Options

FEATURES = ["a", "b"]


@cache
def frame(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    generator = np.random.default_rng(seed)
    return pd.DataFrame({"a": generator.normal(size=rows), "b": generator.normal(size=rows)})


@cache
def classifier(c: float = 1.0) -> LogisticRegression:
    data = frame()
    return LogisticRegression(C=c).fit(data, (data["a"] + data["b"] > 0).astype(int))


class Constant:
    """Answers ``value`` for every row: tells which version answered at a glance."""

    def __init__(self, value: int) -> None:
        self.value = value

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        return np.full(len(rows), self.value)


class Flaky:
    """Answers 1, but raises on any row whose ``a`` is above 2."""

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        if (rows["a"] > 2).any():
            raise ValueError("a is above 2")
        return np.ones(len(rows), dtype=int)


class Broken:
    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        raise RuntimeError("this model always fails")


class Sleepy:
    """Answers 7 after ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        time.sleep(self.seconds)
        return np.full(len(rows), 7)


def log_versions(client: Client, *models: Any, name: str = "m") -> list[ModelVersion]:
    """Each model as the next version of ``name``, signed with columns a and b."""
    with prodml.start_run("fit", client=client) as run:
        return [run.log_model(model, name, example=frame().head()) for model in models]


def crown(client: Client, version: ModelVersion) -> None:
    client.metadata.move_alias(version.name, CHAMPION, version.version, version.id, "test")


def gateway(client: Client, names: tuple[str, ...] = ("m",), **options: Any) -> Starlette:
    return create_app(client, list(names), Options(**{"poll": 0.05, **options}))


@contextlib.contextmanager
def served(app: Starlette) -> Iterator[int]:
    """``app`` on a real uvicorn server on loopback, in a thread: its port."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.started, "the gateway did not start"
    try:
        yield running.servers[0].sockets[0].getsockname()[1]
    finally:
        running.should_exit = True
        thread.join(10)


Scenario = Callable[[httpx.AsyncClient], Awaitable[Any]]


def talk(app: Starlette, scenario: Scenario) -> Any:
    """Run ``scenario`` against the app in this process, from lifespan start to end
    (the end flushes the prediction log)."""

    async def main() -> Any:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
                return await scenario(http)

    return asyncio.run(main())


async def predict(http: httpx.AsyncClient, body: Any, name: str = "m", **kw: Any) -> Any:
    return await http.post(f"/v1/models/{name}/predict", json=body, **kw)


def row(a: float = 0.5, b: float = -0.5, **extra: Any) -> dict[str, Any]:
    return {"a": a, "b": b, **extra}


def logged(client: Client, sql: str) -> list[dict[str, Any]]:
    return list(prodml.query_predictions(sql, client=client).to_pylist())
