"""A search space read, and turned into Optuna's samplers, pruners and suggestions.
Optuna is imported here only: ``pip install 'prodml[sweeps]'``."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path
from typing import Any

from prodml import documents, yaml_text
from prodml.errors import InvalidInputError
from prodml.pipelines.space_document import ParameterDocument, SpaceDocument

MAX_GRID = 100_000  # points a grid may have


def read(source: str | Path | dict[str, Any]) -> SpaceDocument:
    if isinstance(source, dict):
        return documents.check(SpaceDocument, source, "Search space")
    path = Path(source)
    if not path.is_file():
        raise InvalidInputError(f"No search space file at {path}. Check the path.")
    return documents.check(SpaceDocument, yaml_text.read(path, "space file"), f"Space file {path}")


def optuna() -> Any:
    try:
        import optuna as library
    except ImportError:
        raise InvalidInputError(
            "Sweeps use Optuna, which is not installed: pip install 'prodml[sweeps]'."
        ) from None
    library.logging.set_verbosity(library.logging.WARNING)
    return library


def sampler(space: SpaceDocument) -> Any:
    """Optuna's sampler; a grid's points are queued by :func:`grid_points` instead (its
    GridSampler stops a study in ways only ``study.optimize`` allows)."""
    library = optuna()
    if space.sampler in ("grid", "random"):
        return library.samplers.RandomSampler(seed=space.seed)
    return library.samplers.TPESampler(seed=space.seed, n_startup_trials=5)


def pruner(kind: str) -> Any:
    """Optuna's pruner called ``kind`` (none, median, hyperband)."""
    library = optuna()
    if kind == "median":
        return library.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    if kind == "hyperband":
        return library.pruners.HyperbandPruner()
    return library.pruners.NopPruner()


def suggest(trial: Any, space: SpaceDocument) -> dict[str, Any]:
    """The trial's value for each parameter, by its config key."""
    chosen: dict[str, Any] = {}
    for key, parameter in space.parameters.items():
        if parameter.choice is not None:
            chosen[key] = trial.suggest_categorical(key, parameter.choice)
        elif parameter.whole is not None:
            first, last = parameter.whole
            every = int(parameter.step or 1)
            last = first + (last - first) // every * every  # the last value the step reaches
            chosen[key] = trial.suggest_int(key, first, last, step=every, log=parameter.log)
        else:
            assert parameter.number is not None
            lowest, highest = parameter.number
            if parameter.step is not None:  # the last value the step reaches, as in a grid
                highest = _values(key, parameter)[-1]
            chosen[key] = trial.suggest_float(
                key, lowest, highest, step=parameter.step, log=parameter.log
            )
    return chosen


def grid(space: SpaceDocument) -> dict[str, list[Any]]:
    """Every value of each parameter, for the grid sampler."""
    counted = math.prod(_count(key, p) for key, p in space.parameters.items())
    if counted > MAX_GRID:  # counted first: a fine step would list billions of values
        raise InvalidInputError(
            f"The grid has more than {MAX_GRID:,} points ({counted:,}); narrow the ranges, "
            "widen the steps or use sampler: random or tpe."
        )
    return {key: _values(key, p) for key, p in space.parameters.items()}


def grid_size(space: SpaceDocument) -> int:
    return math.prod(len(v) for v in grid(space).values())


def grid_points(space: SpaceDocument) -> list[dict[str, Any]]:
    """Every point of the grid, in an order shuffled by the space's seed."""
    values = grid(space)
    points = [
        dict(zip(values, chosen, strict=True)) for chosen in itertools.product(*values.values())
    ]
    random.Random(space.seed).shuffle(points)
    return points


def _count(key: str, parameter: ParameterDocument) -> int:
    if parameter.choice is not None:
        return len(parameter.choice)
    if parameter.whole is not None:
        return len(range(parameter.whole[0], parameter.whole[1] + 1, int(parameter.step or 1)))
    low, high = _float_range(key, parameter)
    return math.floor((high - low) / (parameter.step or 1) + 1e-9) + 1


def _float_range(key: str, parameter: ParameterDocument) -> tuple[float, float]:
    if parameter.step is None:
        raise InvalidInputError(
            f"parameters.{key}: a grid over a float range needs step: (the spacing), or "
            "give choice: [...] values."
        )
    assert parameter.number is not None
    return parameter.number[0], parameter.number[1]


def _values(key: str, parameter: ParameterDocument) -> list[Any]:
    if parameter.choice is not None:
        return list(parameter.choice)
    if parameter.whole is not None:
        every = int(parameter.step or 1)
        return list(range(parameter.whole[0], parameter.whole[1] + 1, every))
    low = _float_range(key, parameter)[0]
    spacing = parameter.step or 1.0
    return [round(low + i * spacing, 12) for i in range(_count(key, parameter))]
