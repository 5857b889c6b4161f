"""A project folder in tmp_path where a pipeline test writes a pipeline file and its
step modules as files, a small table logged as a dataset, and a three-step pipeline
with its steps (imported by the tests here as ``pipeline_project``, a name no other
test folder uses, and from other folders as ``pipelines.pipeline_project``)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pyarrow as pa

import prodml
from prodml.client import Client
from prodml.domain.dataset import DatasetVersion
from prodml.pipelines.runner import PipelineResult

# A chain of three steps over dataset ``numbers``: load, scale (config: factor 3), total.
CHAIN = """
name: demo
config:
  scale: {factor: 3}
steps:
  - {name: load, function: steps:load, inputs: {table: numbers@latest}}
  - {name: scale, function: steps:scale, inputs: {table: load}}
  - {name: total, function: steps:total, inputs: {table: scale}}
"""

# ``steps.py`` for CHAIN: of [1, 2, 3], total 18.0.
CHAIN_STEPS = """
import pyarrow as pa
import pyarrow.compute as pc


def load(table: pa.Table) -> pa.Table:
    return pa.table({"x": pc.cast(table["x"], pa.float64())})


def scale(table: pa.Table, factor: int) -> pa.Table:
    return pa.table({"x": pc.multiply(table["x"], factor)})


def total(table: pa.Table) -> dict[str, float]:
    return {"total": float(pc.sum(table["x"]).as_py())}
"""


class Project:
    """A folder holding ``pipeline.yaml`` and the modules its steps name."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.edits = 0

    @property
    def pipeline(self) -> Path:
        return self.folder / "pipeline.yaml"

    def write(self, name: str, text: str) -> Path:
        """Write a file (dedented); each write gets a later modification time, as an
        edit by hand would (two writes in one clock tick would look unchanged)."""
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
        self.edits += 1
        moment = path.stat().st_mtime_ns + self.edits * 1_000_000
        os.utime(path, ns=(moment, moment))
        return path

    def edit(self, name: str, old: str, new: str) -> Path:
        path = self.folder / name
        text = path.read_text()
        assert old in text, f"{old!r} is not in {name}"
        return self.write(name, text.replace(old, new))

    def run(self, client: Client, *overrides: str, force: tuple[str, ...] = ()) -> PipelineResult:
        return prodml.run_pipeline(self.pipeline, list(overrides), list(force), client=client)


def log_numbers(client: Client, values: list[int], name: str = "numbers") -> DatasetVersion:
    """A one-column table ``x`` logged as dataset ``name``."""
    return prodml.log_dataset(name, pa.table({"x": values}), client=client)


def one_training_step(project: Project, client: Client, name: str, steps: str, config: str) -> None:
    """Dataset ``numbers``, the module ``steps`` and pipeline ``name`` of one step,
    ``steps:train`` reading ``numbers@latest``, with ``config`` as its slice."""
    log_numbers(client, [1])
    project.write("steps.py", steps)
    project.write(
        "pipeline.yaml",
        f"name: {name}\nconfig:\n  train: {config}\nsteps:\n"
        '  - {name: train, function: "steps:train", inputs: {numbers: numbers@latest}}\n',
    )


def alpha_grid(*choices: float) -> dict[str, object]:
    """A grid space over ``train.alpha`` maximising the metric ``score``."""
    return {
        "objective": "score",
        "sampler": "grid",
        "parameters": {"train.alpha": {"choice": list(choices)}},
    }
