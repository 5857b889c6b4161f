"""A step's key: the content of its inputs (not the version number a table was logged
under) and the versions of the packages it names."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pipeline_project import Project, log_numbers

import prodml
from prodml.client import Client

PIPELINE = """
name: keyed
steps:
  - {name: load, function: steps:load, inputs: {table: numbers@latest}}
  - {name: double, function: steps:double, inputs: {table: load}, packages: [PACKAGES]}
  - {name: total, function: steps:total, inputs: {table: double}}
"""

STEPS = """
import pyarrow as pa
import pyarrow.compute as pc


def load(table: pa.Table) -> pa.Table:
    return table


def double(table: pa.Table) -> pa.Table:
    return pa.table({"x": pc.multiply(table["x"], 2)})


def total(table: pa.Table) -> dict[str, float]:
    return {"total": float(pc.sum(table["x"]).as_py())}
"""


def _write(project: Project, packages: str = "pyarrow") -> None:
    project.write("pipeline.yaml", PIPELINE.replace("PACKAGES", packages))
    project.write("steps.py", STEPS)


def test_an_input_logged_again_with_the_same_content_reruns_nothing(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    _write(project)
    project.run(sqlite_client)

    again = prodml.log_dataset("numbers", pd.DataFrame({"x": [1, 2, 3]}), client=sqlite_client)
    copied = log_numbers(sqlite_client, [1, 2, 3], name="copied")
    project.edit("pipeline.yaml", "numbers@latest", "copied@latest")

    assert (again.ref, copied.id) == ("numbers@1", again.id)
    rerun = project.run(sqlite_client)
    assert rerun.ran == [] and rerun.metrics == {"total": 12.0}


def test_an_input_with_new_content_reruns_its_step_and_every_step_after_it(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    _write(project)
    first = project.run(sqlite_client)

    log_numbers(sqlite_client, [1, 2, 3, 4])
    changed = project.run(sqlite_client)

    assert changed.ran == ["load", "double", "total"] and changed.metrics == {"total": 20.0}
    newest = prodml.get_dataset("numbers@latest", client=sqlite_client)
    assert prodml.get_run(changed.run_id, client=sqlite_client).inputs == (newest.id,)
    assert changed.steps[0].key != first.steps[0].key


def test_a_pinned_input_version_ignores_newer_versions(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    project.write("pipeline.yaml", PIPELINE.replace("@latest", "@1").replace("PACKAGES", ""))
    project.write("steps.py", STEPS)
    project.run(sqlite_client)

    log_numbers(sqlite_client, [5, 6])

    assert project.run(sqlite_client).ran == []


def test_the_packages_a_step_names_are_part_of_its_key(
    sqlite_client: Client, project: Project
) -> None:
    log_numbers(sqlite_client, [1, 2, 3])
    _write(project, "pyarrow")
    project.run(sqlite_client)

    _write(project, "pyarrow, pyyaml")

    assert project.run(sqlite_client).ran == ["double"]
    _write(project, "pyarrow")
    assert project.run(sqlite_client).ran == []


def _distribution(site: Path, version: str) -> None:
    """An installed distribution ``tinylib`` at ``version``, as pip leaves one."""
    for old in site.glob("tinylib-*.dist-info"):
        (old / "METADATA").unlink()
        old.rmdir()
    info = site / f"tinylib-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: tinylib\nVersion: {version}\n")


def test_a_named_package_upgraded_reruns_the_step_and_downgraded_reuses_the_first_run(
    sqlite_client: Client, project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    _distribution(site, "1.0")
    monkeypatch.syspath_prepend(str(site))
    log_numbers(sqlite_client, [1, 2, 3])
    _write(project, "tinylib")
    first = project.run(sqlite_client)

    _distribution(site, "1.1")
    upgraded = project.run(sqlite_client)
    _distribution(site, "1.0")
    downgraded = project.run(sqlite_client)

    assert upgraded.ran == ["double"]
    assert downgraded.ran == [] and downgraded.steps[1].reused_from == first.steps[1].run_id
