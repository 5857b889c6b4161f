"""A rerun whose steps are all cached starts fast: it loads no table or array library
(``prodml run`` of a cached pipeline pays only for what it uses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pipeline_project import Project

PIPELINE = """
name: light
steps:
  - {name: load, function: steps:load, inputs: {table: numbers@latest}}
  - {name: total, function: steps:total, inputs: {table: load}}
"""

STEPS = """
import pyarrow as pa
import pyarrow.compute as pc


def load(table: pa.Table) -> pa.Table:
    return pa.table({"x": pc.multiply(table["x"], 2)})


def total(table: pa.Table) -> dict[str, float]:
    return {"total": float(pc.sum(table["x"]).as_py())}
"""

RUN = """
import json, sys
import prodml
if sys.argv[1] == "log":
    import pyarrow as pa
    prodml.log_dataset("numbers", pa.table({"x": [1, 2, 3]}))
result = prodml.run_pipeline("pipeline.yaml")
loaded = [name for name in ("pyarrow", "numpy", "pandas") if name in sys.modules]
print(json.dumps({"ran": result.ran, "metrics": result.metrics, "loaded": loaded}))
"""


def run_in_new_process(project: Project, home: Path, first: bool) -> dict[str, object]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    environment["PRODML_HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-c", RUN, "log" if first else "again"],
        cwd=project.folder,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    answer: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return answer


def test_a_cached_rerun_in_a_new_process_loads_neither_arrow_nor_numpy(
    project: Project, tmp_path: Path
) -> None:
    project.write("pipeline.yaml", PIPELINE)
    project.write("steps.py", STEPS)
    home = tmp_path / "home"

    first = run_in_new_process(project, home, first=True)
    again = run_in_new_process(project, home, first=False)

    assert first["ran"] == ["load", "total"]
    assert again["ran"] == []
    assert again["metrics"] == first["metrics"] == {"total": 12.0}
    assert again["loaded"] == []
