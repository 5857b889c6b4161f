"""Models for the edge and isolation tests. They pickle by this module's name, so the
folder must be on ``sys.path`` (the ``helpers_importable`` fixture puts it there)."""

from __future__ import annotations

import threading
from typing import Any, ClassVar, NoReturn

import numpy as np
import pandas as pd


class Counting:
    """Answers 1 and counts the rows it was asked about, across every instance."""

    rows: ClassVar[list[int]] = []

    def predict(self, frame: Any) -> np.ndarray:
        Counting.rows.append(len(frame))
        return np.ones(len(frame), dtype=int)


class HangsOnce:
    """The first call blocks until ``release`` is set; later calls answer 5 at once."""

    release: ClassVar[threading.Event] = threading.Event()
    calls: ClassVar[list[int]] = []

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        HangsOnce.calls.append(len(frame))
        if len(HangsOnce.calls) == 1:
            HangsOnce.release.wait(30)
        return np.full(len(frame), 5)


class SlowSum:
    """Sums each tensor row after ``seconds``."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(rows, dtype=float).sum(axis=1)


def _refuse_to_load(message: str) -> NoReturn:
    raise ValueError(message)


class Unloadable:
    """Predicts fine when logged, but raises ValueError when unpickled."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(frame))

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return _refuse_to_load, ("this model was saved by a library that is gone",)
