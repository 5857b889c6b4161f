"""A store with one of each link of the loop's first half, in well under a second: a
dataset version, a run that read it, the model version the run logged with an alias,
and the times between them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client

DATASET = "arrivals"
MODEL = "late-arrivals"


@dataclass(frozen=True)
class Built:
    dataset: prodml.DatasetVersion
    run_id: str
    model: prodml.ModelVersion
    before_run: datetime  # the dataset existed, the run and model did not yet


def build(client: Client) -> Built:
    rng = np.random.default_rng(7)
    rows = pd.DataFrame({"id": np.arange(200), "delay": rng.normal(size=200)})
    rows["late"] = (rows["delay"] > 0).astype("int64")
    dataset = prodml.log_dataset(DATASET, rows, key="id", client=client)
    time.sleep(0.05)
    before_run = datetime.now(UTC)
    time.sleep(0.05)
    with prodml.start_run(MODEL, config={"C": 1.0}, inputs=[dataset], client=client) as run:
        fitted = LogisticRegression().fit(rows[["delay"]], rows["late"])
        model = run.log_model(fitted, MODEL, example=rows[["delay"]].head())
    prodml.promote(MODEL, 1, force=True, why="the first model", client=client)
    return Built(dataset, run.id, model, before_run)
