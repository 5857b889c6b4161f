"""What a model said about each row of a validation set, next to the truth."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np


class Task(StrEnum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"


@dataclass(frozen=True)
class Outcomes:
    """Arrays over the rows of one validation set, for one model.

    Classification: ``truth`` and ``predicted`` are indices into ``classes`` (-1 where
    there is no answer) and ``score`` is the probability of ``classes[1]`` (binary) or
    the probability matrix (multiclass), None for a model without probabilities.
    Regression: ``truth`` and ``predicted`` are values. ``answered`` is False where the
    model raised or a guardrail abstained."""

    task: Task
    truth: np.ndarray
    predicted: np.ndarray
    answered: np.ndarray
    score: np.ndarray | None = None
    classes: tuple[Any, ...] = ()

    @property
    def rows(self) -> int:
        return len(self.truth)

    @property
    def binary(self) -> bool:
        return self.task is Task.CLASSIFICATION and len(self.classes) == 2

    def loss(self) -> np.ndarray:
        """A per-row error for finding the worst slices: log loss, 0/1 error or |error|."""
        if self.task is Task.REGRESSION:
            error = np.abs(self.predicted - self.truth)
        elif self.score is not None:
            error = -np.log(np.clip(self.truth_probability(), 1e-15, 1.0))
        else:
            error = (self.predicted != self.truth).astype(np.float64)
        return np.where(self.answered, error, np.nan)

    def truth_probability(self) -> np.ndarray:
        """The probability the model gave the true class; 0 for a label it does not know."""
        assert self.score is not None
        if self.score.ndim == 1:
            given = np.where(self.truth == 1, self.score, 1.0 - self.score)
        else:
            index = np.clip(self.truth, 0, self.score.shape[1] - 1)
            given = self.score[np.arange(len(index)), index]
        return np.asarray(np.where(self.truth < 0, 0.0, given), dtype=np.float64)
