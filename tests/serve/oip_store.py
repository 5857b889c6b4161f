"""A store and a real gateway (``prodml serve`` on uvicorn) shared by the tests of the
Open Inference Protocol and KServe clients: model ``m`` with v2 (a logistic
regression on a and b, integer classes, with probabilities) the champion after v1
(a constant 7, no classes), and model ``t`` taking a number and a text column and
answering text labels."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from running_gateways import FOREIGN, uvicorn_gateway
from serving_helpers import Constant, classifier, crown, frame, log_versions
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

import prodml
from prodml.client import Client

HERE = Path(__file__).resolve().parent
CITIES = ["oslo", "lima", "kyiv"]


def rows(count: int = 5) -> np.ndarray:
    """``count`` rows of a and b as an [N, 2] float64 array."""
    data: np.ndarray = frame().head(count)[["a", "b"]].to_numpy()
    return data


def texts() -> pd.DataFrame:
    generator = np.random.default_rng(1)
    return pd.DataFrame(
        {"x": generator.normal(size=60), "city": [CITIES[i % 3] for i in range(60)]}
    )


def text_model() -> Pipeline:
    data = texts()
    cities = OneHotEncoder(handle_unknown="ignore")
    encode = ColumnTransformer([("city", cities, ["city"])], remainder="passthrough")
    labels = np.where((data["x"] > 0) | (data["city"] == "oslo"), "yes", "no")
    return Pipeline([("encode", encode), ("fit", LogisticRegression())]).fit(data, labels)


def build(home: Path) -> None:
    client = Client(home=str(home), user="tester", flush_interval=0.05)
    try:
        first, second = log_versions(client, Constant(7), classifier())
        crown(client, first)
        crown(client, second)
        with prodml.start_run("fit text", client=client) as run:
            text = run.log_model(text_model(), "t", example=texts().head())
        crown(client, text)
    finally:
        client.close()


@contextlib.contextmanager
def served(folder: Path) -> Iterator[str]:
    """The gateway's URL, serving ``m`` and ``t`` from a fresh store at
    ``folder / "home"``."""
    with pytest.MonkeyPatch.context() as patch:
        for name in FOREIGN:
            patch.delenv(name, raising=False)
        patch.chdir(folder)  # runs are started outside any git checkout
        patch.syspath_prepend(str(HERE))
        build(folder / "home")
        with uvicorn_gateway(folder / "home", "m", "t") as url:
            yield url
