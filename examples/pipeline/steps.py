"""The steps of examples/pipeline/pipeline.yaml: will a flight arrive more than 15
minutes late? Each step is a plain function of tables and config values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from features_lib import FEATURES, hour_of_day, top_carriers
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, roc_auc_score


def load(flights: pa.Table, months: list[int]) -> pa.Table:
    """The flights of the chosen months."""
    return flights.filter(pc.is_in(flights["month"], pa.array(months, flights["month"].type)))


def clean(table: pd.DataFrame, max_delay: float) -> pd.DataFrame:
    """Flights that flew, with delays no longer than ``max_delay`` minutes."""
    flown = table.dropna(subset=["dep_time", "arr_delay"])
    return flown[flown["arr_delay"].abs() <= max_delay].reset_index(drop=True)


def features(table: pd.DataFrame, carriers: int, valid_from: str) -> dict[str, pd.DataFrame]:
    """Model inputs and the label; the flights from ``valid_from`` on are held out."""
    when = pd.to_datetime(table["time_hour"])
    frame = pd.DataFrame(
        {
            "rownames": table["rownames"],
            "time_hour": when,
            "hour": hour_of_day(table["dep_time"]),
            "month": table["month"].astype("int64"),
            "weekday": when.dt.weekday.astype("int64"),
            "distance": table["distance"].astype("float64"),
            "dep_delay": table["dep_delay"].astype("float64"),
            "carrier": top_carriers(table["carrier"], carriers),
            "origin": table["origin"].map({"EWR": 0, "JFK": 1, "LGA": 2}).astype("int64"),
            "late": (table["arr_delay"] > 15).astype("int64"),
        }
    )
    held_out = (frame["time_hour"] >= pd.Timestamp(valid_from, tz="UTC")).to_numpy()
    return {
        "train": frame[~held_out].reset_index(drop=True),
        "valid": frame[held_out].reset_index(drop=True),
    }


def train(
    table: pd.DataFrame,
    valid: pd.DataFrame,
    max_depth: int,
    learning_rate: float,
    seed: int,
    run: Any,
    l2_regularization: float = 0.0,
    max_iter: int = 100,
    early_stopping: bool | str = "auto",
) -> HistGradientBoostingClassifier:
    """A gradient-boosted classifier of up to ``max_iter`` trees (by default it stops
    early on a tenth of ``table`` held aside, as scikit-learn does past 10,000 rows);
    its validation AUC is logged per 20 trees."""
    model = HistGradientBoostingClassifier(
        max_depth=max_depth,
        learning_rate=learning_rate,
        l2_regularization=l2_regularization,
        max_iter=max_iter,
        early_stopping=early_stopping,
        random_state=seed,
    )
    model.fit(table[FEATURES], table["late"])
    for trees, scores in enumerate(model.staged_predict_proba(valid[FEATURES]), start=1):
        if trees % 20 == 0:
            run.log_metric("valid_auc", roc_auc_score(valid["late"], scores[:, 1]), step=trees)
    return model


def evaluate(model: HistGradientBoostingClassifier, table: pd.DataFrame) -> dict[str, float]:
    """AUC and accuracy on the held-out days."""
    scores = model.predict_proba(table[FEATURES])[:, 1]
    return {
        "auc": float(roc_auc_score(table["late"], scores)),
        "accuracy": float(accuracy_score(table["late"], scores >= 0.5)),
        "late_share": float(np.mean(table["late"])),
    }
