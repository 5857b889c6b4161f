"""A date written in a search space (choice: [2013-03-01, 2014-01-01], unquoted, as in
the pipeline's config) is its ISO text, as it is in the config and in -s overrides;
the space file was refused ("choice[0] is datetime.date(2013, 3, 1)")."""

from __future__ import annotations

from pathlib import Path

from pipeline_project import Project, log_numbers

import prodml
from prodml.client import Client
from prodml.pipelines import space

PIPELINE = """
name: dated
config:
  cut: {since: 2013-01-01}
steps:
  - {name: cut, function: steps:cut, inputs: {numbers: numbers@latest}}
"""
STEPS = """
import pyarrow as pa


def cut(numbers: pa.Table, since: str) -> dict:
    assert isinstance(since, str), repr(since)
    return {"year": float(since[:4])}
"""


def test_dates_in_a_space_file_are_their_iso_text(tmp_path: Path) -> None:
    file = tmp_path / "space.yaml"
    file.write_text(
        "objective: year\nparameters:\n  cut.since: {choice: [2013-03-01, 2014-01-01]}\n"
    )

    read = space.read(file)

    assert read.parameters["cut.since"].choice == ["2013-03-01", "2014-01-01"]


def test_a_sweep_over_dates_hands_each_trial_its_date(
    project: Project, sqlite_client: Client, tmp_path: Path
) -> None:
    log_numbers(sqlite_client, [1])
    project.write("steps.py", STEPS)
    project.write("pipeline.yaml", PIPELINE)
    file = tmp_path / "space.yaml"
    file.write_text(
        "objective: year\nsampler: grid\n"
        "parameters:\n  cut.since: {choice: [2013-03-01, 2014-01-01]}\n"
    )

    result = prodml.sweep(project.pipeline, file, trials=2, client=sqlite_client)

    assert sorted(t.outcome.value or 0 for t in result.trials) == [2013.0, 2014.0]
