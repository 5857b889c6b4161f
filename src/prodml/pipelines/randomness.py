"""Whether a step's random numbers can change from one run to the next, which its
cache entry would hide: it drew from the global generators (Python's and NumPy's)
while its config sets no seed, or it made a generator seeded from the operating
system's entropy (``numpy.random.default_rng()`` or ``RandomState()`` with no
seed), which no config seed reaches. (Python's ``random.Random()`` is not watched:
the standard library makes unseeded ones for its own use, e.g. ``tempfile``.)"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_lock = threading.Lock()


@dataclass
class Draws:
    """What a watched step did with randomness (known once its ``with`` block ends)."""

    global_draw: bool = False  # drew from random's or NumPy's global generator
    entropy: int = 0  # NumPy generators seeded from the operating system's entropy


@contextmanager
def watch() -> Iterator[Draws]:
    """Watch the block for draws from the global generators and for generators made
    without a seed. One watch at a time in a process (a step runs alone in it)."""
    draws = Draws()
    with _lock:
        before = state()
        restore = _spy_numpy(draws)
        try:
            yield draws
        finally:
            restore()
            draws.global_draw = drew(before)


def _spy_numpy(draws: Draws) -> Any:
    """Count NumPy's seed sequences drawn from entropy: every unseeded bit generator
    (``default_rng()``, ``RandomState()``, ``PCG64()``) asks for one."""
    try:  # imported here even if the step has not yet: it may import NumPy itself
        from numpy.random import bit_generator
    except ImportError:
        return lambda: None

    original = getattr(bit_generator, "randbits", None)
    if original is None:  # a NumPy that seeds otherwise: only global draws are seen
        return lambda: None

    def randbits(bits: int) -> int:
        draws.entropy += 1
        return int(original(bits))

    setattr(bit_generator, "randbits", randbits)  # noqa: B010 (not in NumPy's stubs)
    return lambda: setattr(bit_generator, "randbits", original)


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
