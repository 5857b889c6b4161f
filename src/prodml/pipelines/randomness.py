"""Whether a step's random numbers can change from one run to the next, which its
cache entry would hide: it drew from the global generators (Python's and NumPy's)
while its config sets no seed, or it made a generator seeded from the operating
system's entropy (``numpy.random.default_rng()`` with no seed), which no config
seed reaches. (``RandomState()`` and Python's ``random.Random()`` are not watched:
``RandomState(7)`` draws from entropy before it seeds itself, and the standard library
makes unseeded ``Random`` instances for its own use, e.g. ``tempfile``.)

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
    entropy: int = 0  # default_rng() calls with no seed
    python_calls: int = 0  # calls of the random module's functions by the step
    python_at_import: int = 0  # ... and by modules being imported
    # The watch's callers, held so that their ids stay theirs: one that returns (the
    # context manager's __enter__) would otherwise free its id for a new frame.
    callers: list[FrameType] = field(default_factory=list, repr=False)
    outside: set[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.outside = {id(frame) for frame in self.callers}

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
    draws = Draws(callers=_stack(sys._getframe()))
    with _lock:
        restore = [_spy_numpy(draws), *_spy_python(draws)]  # NumPy imported first
        before = state()
        try:
            yield draws
        finally:
            for undo in restore:
                undo()
            draws.callers.clear()
            draws.global_draw = _numpy_drew(before[1]) or _python_drew(before[0], draws)


def _stack(frame: FrameType | None) -> list[FrameType]:
    frames = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames


def _spy_numpy(draws: Draws) -> Callable[[], None]:
    """Count ``numpy.random.default_rng()`` calls with no seed (seeded from entropy).
    Seed sequences themselves are not watched: ``RandomState(7)`` draws one from
    entropy before it seeds itself with 7."""
    try:  # imported here even if the step has not yet: it may import NumPy itself
        import numpy.random
    except ImportError:
        return lambda: None
    original = numpy.random.default_rng

    def default_rng(seed: Any = None) -> Any:
        if seed is None and not draws.importing(sys._getframe(1)):
            draws.entropy += 1
        return original(seed)

    setattr(numpy.random, "default_rng", default_rng)  # noqa: B010
    return lambda: setattr(numpy.random, "default_rng", original)


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
            if draws.python_calls:  # known to draw: a loop of draws walks no more frames
                pass
            elif draws.importing(sys._getframe(1)):
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
