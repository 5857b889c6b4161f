"""The gateway (``prodml serve`` on uvicorn) serves an ONNX model and a booster beside
a pickled model, each answering as the model it was logged from; with
``allow_pickle`` false it refuses to start on the pickled one, naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

import prodml
from prodml.client import Client

sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))  # its helper to run a gateway
from running_gateways import FOREIGN, uvicorn_gateway  # type: ignore[import-not-found]

COLUMNS = ["a", "b", "c"]
NAMES = ("onnx-m", "xgb-m", "pickle-m")


@dataclass
class Served:
    home: Path
    rows: pd.DataFrame
    expected: dict[str, list[Any]]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    import xgboost
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    home = tmp_path_factory.mktemp("gateway") / ".prodml"
    rng = np.random.default_rng(3)
    rows = pd.DataFrame(rng.normal(size=(80, 3)), columns=COLUMNS)
    labels = (rows["a"] - rows["b"] > 0).astype(int).to_numpy()
    models = {
        "onnx-m": (LogisticRegression().fit(rows, labels), "onnx"),
        "xgb-m": (xgboost.XGBClassifier(n_estimators=6, max_depth=2).fit(rows, labels), None),
        "pickle-m": (DecisionTreeClassifier(max_depth=3).fit(rows, labels), "pickle"),
    }
    client = Client(home=str(home), user="tester")
    with prodml.start_run("gateway-formats", client=client) as run:
        for name, (model, model_format) in models.items():
            version = run.log_model(model, name, example=rows.head(5), format=model_format)
            prodml.promote(name, version.version, force=True, why="test", client=client)
    client.close()
    expected = {name: model.predict(rows.head(10)).tolist() for name, (model, _) in models.items()}
    yield Served(home, rows, expected)


def _predict(url: str, name: str, rows: pd.DataFrame) -> httpx.Response:
    body = {"records": rows.head(10).to_dict("records")}
    return httpx.post(f"{url}/v1/models/{name}/predict", json=body, timeout=30)


def test_the_gateway_serves_onnx_and_a_booster_beside_a_pickled_model(store: Served) -> None:
    with uvicorn_gateway(store.home, *NAMES, "--no-controller") as url:
        answers = {name: _predict(url, name, store.rows) for name in NAMES}

    for name, response in answers.items():
        assert response.status_code == 200, response.text
        assert response.json()["predictions"] == store.expected[name], name


def test_without_allow_pickle_the_gateway_refuses_to_start_on_a_pickled_model(
    store: Served,
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    env.update(PRODML_HOME=str(store.home), PRODML_ALLOW_PICKLE="false")
    command = ["serve", "onnx-m", "pickle-m", "--no-controller", "--port", "0"]
    started = subprocess.run(
        [sys.executable, "-m", "prodml.cli.main", *command],
        env=env,
        cwd=store.home.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert started.returncode != 0
    assert "pickle-m@1 is stored as pickle" in started.stderr + started.stdout
    assert "allow_pickle is false" in started.stderr + started.stdout
