"""A shadow model for the prediction log's kill test, in a module of its own so the
``prodml serve`` subprocess can unpickle it (the folder goes on its PYTHONPATH)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np


class SleepsPerBatch:
    """Answers like the model it wraps, after ``seconds`` of sleep per call."""

    def __init__(self, inner: Any, seconds: float) -> None:
        self.inner = inner
        self.seconds = seconds

    def predict(self, frame: Any) -> np.ndarray:
        time.sleep(self.seconds)
        return np.asarray(self.inner.predict(frame))
