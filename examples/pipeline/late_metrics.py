"""A metric added after the models were trained: of the flights scored riskiest (the
top tenth), the share that did arrive late. ``prodml backfill`` computes it for every
stored version, without retraining."""

from __future__ import annotations

import numpy as np


def late_in_top_tenth(y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray) -> float:
    if y_score is None or len(y_score) == 0:
        return float("nan")
    cut = np.quantile(y_score, 0.9)
    riskiest = y_score >= cut
    return float(np.mean(np.asarray(y_true)[riskiest] == 1))
