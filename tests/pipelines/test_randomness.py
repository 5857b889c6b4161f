"""A step that draws from NumPy's or Python's global random generator while its
config slice sets no seed is warned about: its cache entry would hide that its
outputs change from run to run."""

from __future__ import annotations

import pytest
from pipeline_project import Project

import prodml
from prodml.client import Client

PIPELINE = """
name: draws
config:
  seeded: {seed: 3}
steps:
  - {name: numpy_draw, function: steps:numpy_draw}
  - {name: python_draw, function: steps:python_draw}
  - {name: seeded, function: steps:seeded}
  - {name: own_generator, function: steps:own_generator}
  - {name: no_draw, function: steps:no_draw}
"""

STEPS = """
import random

import numpy as np


def numpy_draw() -> list[float]:
    return np.random.rand(2).tolist()


def python_draw() -> float:
    return random.random()


def seeded(seed: int) -> list[float]:
    np.random.seed(seed)
    return np.random.rand(2).tolist()


def own_generator() -> list[float]:
    return np.random.default_rng(7).random(2).tolist()


def no_draw() -> int:
    return 4
"""


@pytest.fixture
def drawn(sqlite_client: Client, project: Project) -> dict[str, tuple[str, ...]]:
    project.write("pipeline.yaml", PIPELINE)
    project.write("steps.py", STEPS)
    result = project.run(sqlite_client)
    tags = {
        s.name: prodml.get_run(s.run_id, client=sqlite_client).tags.get("prodml.step.unseeded")
        for s in result.steps
    }
    assert tags == {
        "numpy_draw": "true",
        "python_draw": "true",
        "seeded": None,
        "own_generator": None,
        "no_draw": None,
    }
    return {s.name: s.warnings for s in result.steps}


def test_a_step_drawing_from_a_global_generator_without_a_seed_is_warned_about(
    drawn: dict[str, tuple[str, ...]],
) -> None:
    for name in ("numpy_draw", "python_draw"):
        (warning,) = drawn[name]
        assert f"Step {name!r} drew random numbers" in warning
        assert "sets no seed" in warning and "Add seed: N to its config" in warning


def test_a_seeded_step_or_one_with_its_own_generator_is_not_warned_about(
    drawn: dict[str, tuple[str, ...]],
) -> None:
    assert drawn["seeded"] == drawn["own_generator"] == drawn["no_draw"] == ()


ENTROPY_PIPELINE = """
name: entropy
config:
  unseeded: {seed: 3}
  legacy: {seed: 5}
steps:
  - {name: unseeded, function: steps:unseeded}
  - {name: legacy, function: steps:legacy}
  - {name: passes_seed, function: steps:passes_seed}
"""

ENTROPY_STEPS = """
import numpy as np


def unseeded(seed: int) -> list[float]:
    return np.random.default_rng().random(2).tolist()


def legacy(seed: int) -> list[float]:
    from sklearn.utils import check_random_state

    return check_random_state(seed).rand(2).tolist()  # RandomState(seed)


def passes_seed() -> list[float]:
    return np.random.default_rng(11).random(2).tolist()
"""


def test_a_generator_seeded_from_entropy_is_warned_about_even_with_a_config_seed(
    sqlite_client: Client, project: Project
) -> None:
    project.write("pipeline.yaml", ENTROPY_PIPELINE)
    project.write("steps.py", ENTROPY_STEPS)
    result = project.run(sqlite_client)
    steps = {s.name: s for s in result.steps}
    for name in ("unseeded",):
        (warning,) = steps[name].warnings
        assert f"Step {name!r} made a NumPy random generator without a seed" in warning
        assert "default_rng(seed)" in warning
        run = prodml.get_run(steps[name].run_id, client=sqlite_client)
        assert run.tags.get("prodml.step.unseeded") == "true"
    assert steps["passes_seed"].warnings == steps["legacy"].warnings == ()


def test_a_library_making_a_generator_while_it_is_imported_is_not_the_step_drawing(
    sqlite_client: Client, project: Project
) -> None:
    project.write("pipeline.yaml", "name: imports\nsteps:\n  - {name: one, function: steps:one}\n")
    project.write("steps.py", "def one() -> int:\n    import noisy_library\n\n    return 1\n")
    project.write(
        "noisy_library.py",
        "import random\n\nimport numpy as np\n\n"
        "EXAMPLE = np.random.default_rng().random(3)\nSALT = random.randint(0, 99)\n",
    )
    result = project.run(sqlite_client)
    assert result.steps[0].warnings == ()
