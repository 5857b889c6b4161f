"""The experimentation part of the demo: a pipeline from its config file, rerun with an
override that reuses the cached steps, a guided sweep, and a metric backfilled over
every stored version of the pipeline's model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent / "pipeline"
PIPELINE, SPACE = str(HERE / "pipeline.yaml"), str(HERE / "space.yaml")
CLI = [sys.executable, "-m", "prodml.cli.main"]


def say(text: str) -> None:
    print(f"\n=== {text}")


def cli(*args: str) -> None:
    print(f"$ prodml {' '.join(args)}", flush=True)
    path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    subprocess.run([*CLI, *args], check=True, env={**os.environ, "PYTHONPATH": path})


def run() -> None:
    say("6g. A pipeline from its config: load, clean, features, train, evaluate as child runs")
    cli("run", PIPELINE)
    say("6h. The same pipeline with one override: only train and evaluate run again")
    cli("run", PIPELINE, "-s", "train.max_depth=8")
    say("6i. A guided sweep (Optuna TPE, median pruning) over the training config, 2 at once")
    cli("sweep", PIPELINE, "--space", SPACE, "--trials", "6", "--parallel", "2",
        "--name", "flights-late-sweep")  # fmt: skip
    cli("sweep", "best", "flights-late-sweep")
    say("6j. A metric nobody logged, backfilled over every stored version of the model")
    cli("backfill", "late_metrics:late_in_top_tenth", "--models", "flights-late",
        "--valset", "flights-late-features-valid@latest", "--label", "late",
        "--task", "classification")  # fmt: skip
