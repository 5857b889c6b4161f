"""Whether a step drew random numbers from the global generators (Python's and
NumPy's) while it ran: a step that does so without a seed in its config gives other
outputs on every run, which its cache entry would hide."""

from __future__ import annotations

import random
import sys
from typing import Any


def state() -> tuple[Any, Any]:
    numpy = sys.modules.get("numpy")
    return random.getstate(), numpy.random.get_state() if numpy is not None else None


def drew(before: tuple[Any, Any]) -> bool:
    after = state()
    if before[0] != after[0]:
        return True
    if before[1] is None or after[1] is None:
        return before[1] is not after[1] and after[1] is not None and _moved(after[1])
    return bool(before[1][2] != after[1][2] or (before[1][1] != after[1][1]).any())


def _moved(numpy_state: Any) -> bool:
    return bool(numpy_state[2] != 624)  # NumPy was imported by the step and drew
