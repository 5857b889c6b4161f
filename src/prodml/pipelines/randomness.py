"""Whether a step's random numbers can change from one run to the next, which its
cache entry would hide: it drew from the global generators (Python's and NumPy's)
while its config sets no seed, or it made a generator seeded from the operating
system's entropy (``numpy.random.default_rng()`` or ``RandomState()`` with no
seed), which no config seed reaches. (Python's ``random.Random()`` is not watched:
the standard library makes unseeded ones for its own use, e.g. ``tempfile``.)

What a library does while it is imported is not the step drawing: SciPy makes
generators for its documentation's examples and Rich draws from Python's generator
when their modules load, whichever step imports them first."""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from types import FrameType
from typing import Any

_lock = threading.Lock()


@dataclass
class Draws:
    """What a watched step did with randomness (known once its ``with`` block ends)."""

    global_draw: bool = False  # drew from random's or NumPy's global generator
    entropy: int = 0  # NumPy generators seeded from the operating system's entropy
    python_calls: int = 0  # calls of the random module's functions by the step
    python_at_import: int = 0  # ... and by modules being imported
    outside: set[int] = field(default_factory=set, repr=False)  # the watch's callers

    def importing(self, frame: FrameType | None) -> bool:
        """Whether a module's body runs between ``frame`` and the watch's caller."""
        while frame is not None and id(frame) not in self.outside:
            if frame.f_code.co_name == "<module>":
                return True
            frame = frame.f_back
        return False


@contextmanager
def watch() -> Iterator[Draws]:
    """Watch the block for draws from the global generators and for generators made
    without a seed. One watch at a time in a process (a step runs alone in it)."""
    draws = Draws(outside=_stack(sys._getframe()))  # alive all the watch long
    with _lock:
        restore = [_spy_numpy(draws), *_spy_python(draws)]  # NumPy imported first
        before = state()
        try:
            yield draws
        finally:
            for undo in restore:
                undo()
            draws.global_draw = _numpy_drew(before[1]) or _python_drew(before[0], draws)


def _stack(frame: FrameType | None) -> set[int]:
    frames = set()
    while frame is not None:
        frames.add(id(frame))
        frame = frame.f_back
    return frames


def _spy_numpy(draws: Draws) -> Callable[[], None]:
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
        if not draws.importing(sys._getframe(1)):
            draws.entropy += 1
        return int(original(bits))

    setattr(bit_generator, "randbits", randbits)  # noqa: B010 (not in NumPy's stubs)
    return lambda: setattr(bit_generator, "randbits", original)


def _spy_python(draws: Draws) -> list[Callable[[], None]]:
    """Tell the random module's functions called by the step from those called while a
    module is imported (``random.random`` and the rest are its global generator's)."""
    undo: list[Callable[[], None]] = []
    for name in random.__all__:
        original = getattr(random, name, None)
        if name == "getstate":  # reads, does not draw
            continue
        if getattr(original, "__self__", None) is not random._inst:
            continue

        def spy(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            if draws.importing(sys._getframe(1)):
                draws.python_at_import += 1
            else:
                draws.python_calls += 1
            return _original(*args, **kwargs)

        setattr(random, name, spy)
        undo.append(partial(setattr, random, name, original))
    return undo


def _python_drew(before: Any, draws: Draws) -> bool:
    """Python's generator moved because of the step: a call seen from the step, or a
    move with no call seen at all (the step holds a function it took before)."""
    moved = bool(random.getstate() != before)
    return draws.python_calls > 0 or (moved and draws.python_at_import == 0)


def state() -> tuple[Any, Any]:
    numpy = sys.modules.get("numpy")
    return random.getstate(), numpy.random.get_state() if numpy is not None else None


def _numpy_drew(before: Any) -> bool:
    numpy = sys.modules.get("numpy")
    after = numpy.random.get_state() if numpy is not None else None
    if before is None or after is None:  # NumPy is not installed
        return False
    return bool(before[2] != after[2] or (before[1] != after[1]).any())
