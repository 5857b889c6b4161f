"""A store with a table version and a classifier to score it with, shared by the
scoring tests in one process and on Ray."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client

FEATURES = ["x1", "x2"]


@cache
def customers(rows: int = 3000, seed: int = 11) -> pd.DataFrame:
    """An id, two features, a region (text, not a feature) and what happened."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "x1": rng.normal(size=rows),
            "x2": rng.normal(size=rows),
            "region": rng.choice(["north", "south", "east"], rows),
        }
    )
    noise = rng.normal(scale=0.5, size=rows)
    frame["outcome"] = np.where(frame["x1"] - frame["x2"] + noise > 0, "leave", "stay")
    return frame


@cache
def classifier() -> LogisticRegression:
    frame = customers()
    return LogisticRegression().fit(frame[FEATURES], frame["outcome"])


def logged(client: Client, rows: pd.DataFrame | None = None) -> LogisticRegression:
    """``customers@1`` (the rows given, else all) and the classifier as ``churn@1``."""
    model = classifier()
    prodml.log_dataset("customers", customers() if rows is None else rows, client=client)
    with prodml.start_run("fit", client=client) as run:
        run.log_model(model, "churn", example=customers()[FEATURES].head())
    return model


def dataset_names(client: Client) -> set[str]:
    return {version.ref for version in prodml.list_datasets(client=client)}
