"""``prodml run`` says which step's table could not be profiled (known only once the
tables made in the background are profiled, after the step's line), and succeeds."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from cli_process import run_prodml

import prodml
from prodml.client import Client

PIPELINE = """\
name: wide
steps:
  - {name: load, function: steps:load, inputs: {table: numbers@latest}}
  - {name: total, function: steps:total, inputs: {table: load}}
"""

# DuckDB, which hashes the rows for the duplicate count, has no decimals of more than
# 38 digits: the profile of a table with one cannot be made.
STEPS = """\
import decimal

import pyarrow as pa


def load(table: pa.Table) -> pa.Table:
    wide = pa.array([decimal.Decimal(v) for v in table["x"].to_pylist()], pa.decimal256(40, 2))
    return table.append_column("wide", wide)


def total(table: pa.Table) -> dict[str, float]:
    return {"rows": float(table.num_rows)}
"""


def test_a_table_that_cannot_be_profiled_is_a_warning_of_its_step(tmp_path: Path) -> None:
    home = tmp_path / ".prodml"
    client = Client(home=str(home), user="dana", flush_interval=0.05)
    prodml.log_dataset("numbers", pa.table({"x": [1, 2, 3]}), client=client)
    client.close()
    project = tmp_path / "project"
    project.mkdir()
    (project / "pipeline.yaml").write_text(PIPELINE)
    (project / "steps.py").write_text(STEPS)

    done = run_prodml(home, "run", "project/pipeline.yaml")

    assert done.returncode == 0, done.stderr
    warning = "warning: Step 'load': The profile of wide-load@1 could not be made"
    assert done.stderr.count(warning) == 1, done.stderr
    assert "prodml profile wide-load@1" in done.stderr
    assert "2 of 2 steps ran" in done.stdout
