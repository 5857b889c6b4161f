"""Built-in metrics, each written as per-row sums and a function of their totals, so
that slices and bootstrap resamples are sums over buckets, never a loop over rows.

A metric gives ``columns(outcomes)``: an (n, k) array of per-row terms (zero for rows
without an answer), and ``value(totals)``: the metric from (..., k) sums. AUC keeps a
histogram of scores per class instead and has an exact point estimate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from prodml.errors import InvalidInputError
from prodml.evaluate.outcomes import Outcomes, Task

AUC_BINS = 128


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool
    columns: Callable[[Outcomes], np.ndarray]
    value: Callable[[np.ndarray], np.ndarray]
    needs_score: bool = False
    binary_only: bool = False


def ratio(totals: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(
            np.where(totals[..., 1] > 0, totals[..., 0] / totals[..., 1], np.nan), dtype=np.float64
        )


def _stack(*parts: np.ndarray) -> np.ndarray:
    return np.column_stack([part.astype(np.float64) for part in parts])


def _hit(o: Outcomes) -> np.ndarray:
    return np.asarray(o.answered & (o.predicted == o.truth), dtype=bool)


def _accuracy(o: Outcomes) -> np.ndarray:
    return _stack(_hit(o), o.answered)


def _positives(o: Outcomes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    said = o.answered & (o.predicted == 1)
    true = o.answered & (o.truth == 1)
    return said & true, said & ~true, ~said & true & o.answered


def _precision(o: Outcomes) -> np.ndarray:
    tp, fp, _ = _positives(o)
    return _stack(tp, tp | fp)


def _recall(o: Outcomes) -> np.ndarray:
    tp, _, fn = _positives(o)
    return _stack(tp, tp | fn)


def _f1(o: Outcomes) -> np.ndarray:
    tp, fp, fn = _positives(o)
    return _stack(2 * tp, 2 * tp + fp + fn)


def _macro_f1_columns(o: Outcomes) -> np.ndarray:
    parts = []
    for index in range(len(o.classes)):
        said = o.answered & (o.predicted == index)
        true = o.answered & (o.truth == index)
        parts += [said & true, said & ~true, ~said & true]
    return _stack(*parts)


def _macro_f1_value(totals: np.ndarray) -> np.ndarray:
    tp, fp, fn = totals[..., 0::3], totals[..., 1::3], totals[..., 2::3]
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
        present = np.isfinite(per_class)
        count = present.sum(axis=-1)
        return np.where(count > 0, np.where(present, per_class, 0).sum(axis=-1) / count, np.nan)


def _log_loss(o: Outcomes) -> np.ndarray:
    loss = -np.log(np.clip(o.truth_probability(), 1e-15, 1.0))
    return _stack(np.where(o.answered, loss, 0.0), o.answered)


def _brier(o: Outcomes) -> np.ndarray:
    assert o.score is not None
    error = np.where(o.truth < 0, 1.0, (o.score - o.truth) ** 2)  # an unknown label: worst
    return _stack(np.where(o.answered, error, 0.0), o.answered)


def _error(o: Outcomes) -> np.ndarray:
    return np.where(o.answered, o.predicted - o.truth, 0.0)


def _mae(o: Outcomes) -> np.ndarray:
    return _stack(np.abs(_error(o)), o.answered)


def _mse(o: Outcomes) -> np.ndarray:
    return _stack(_error(o) ** 2, o.answered)


def _rmse_value(totals: np.ndarray) -> np.ndarray:
    return np.asarray(np.sqrt(ratio(totals)), dtype=np.float64)


def _r2(o: Outcomes) -> np.ndarray:
    truth = np.where(o.answered, o.truth, 0.0)
    return _stack(_error(o) ** 2, truth, truth**2, o.answered)


def _r2_value(totals: np.ndarray) -> np.ndarray:
    sse, sy, syy, n = (totals[..., i] for i in range(4))
    with np.errstate(divide="ignore", invalid="ignore"):
        sst = syy - np.where(n > 0, sy**2 / n, np.nan)
        fitted = np.where(sst > 1e-12 * np.maximum(syy, 1.0), 1.0 - sse / sst, np.nan)
        return np.asarray(fitted, dtype=np.float64)


def _coverage(o: Outcomes) -> np.ndarray:
    return _stack(o.answered, np.ones(o.rows))


def auc_value(totals: np.ndarray) -> np.ndarray:
    """AUC from per-class score histograms (..., 2 * AUC_BINS): negatives, then positives."""
    negatives, positives = totals[..., :AUC_BINS], totals[..., AUC_BINS:]
    below = np.cumsum(negatives, axis=-1) - negatives
    wins = (positives * (below + 0.5 * negatives)).sum(axis=-1)
    pairs = negatives.sum(axis=-1) * positives.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pairs > 0, wins / pairs, np.nan)


def exact_auc(score: np.ndarray, truth: np.ndarray) -> float:
    """The Mann-Whitney AUC with ties counted half."""
    order = np.argsort(score)  # ties are grouped by value, so their order is free
    return sorted_auc(score[order], truth[order])


def slice_aucs(
    score: np.ndarray,
    truth: np.ndarray,
    slices: dict[str, np.ndarray],
    buckets: np.ndarray,
    size: int,
) -> dict[str, tuple[float, np.ndarray]]:
    """Per slice, ``exact_auc`` and its (size, 2 * AUC_BINS) per-bucket score histograms
    (negatives, then positives) on the slice's own quantile bins, so a slice whose
    scores span a narrow range still gets every bin.

    One sort serves all: rows are put in score order once, slice memberships travel
    as bits (32 slices a word, one reordering per word) and each slice is then a
    sequential pass."""
    order = np.argsort(score)  # ties are grouped by value, so their order is free
    ordered_score = score[order]
    # bucket and label ride along with the 32 membership bits: one reordering per word
    extra = (buckets.astype(np.uint64) << np.uint64(33)) | (
        np.clip(truth, 0, 1).astype(np.uint64) << np.uint64(32)
    )
    names = list(slices)
    width = 2 * AUC_BINS
    found: dict[str, tuple[float, np.ndarray]] = {}
    for start in range(0, len(names), 32):
        group = names[start : start + 32]
        member = extra.copy()
        for bit, name in enumerate(group):
            member[slices[name]] |= np.uint64(1 << bit)
        ordered = member[order]
        ordered_truth = ((ordered >> np.uint64(32)) & np.uint64(1)).astype(np.int64)
        ordered_bucket = (ordered >> np.uint64(33)).astype(np.int64)
        for bit, name in enumerate(group):
            inside = (ordered & np.uint64(1 << bit)).astype(bool)
            scores, labels = ordered_score[inside], ordered_truth[inside]
            cuts = (np.arange(1, AUC_BINS) * len(scores)) // AUC_BINS
            edges = np.unique(scores[cuts]) if len(scores) else np.empty(0)
            bins = np.searchsorted(edges, scores, side="right")
            flat = ordered_bucket[inside] * width + labels * AUC_BINS + bins
            counts = np.bincount(flat, minlength=size * width).reshape(size, width)
            found[name] = (sorted_auc(scores, labels), counts.astype(np.float64))
    return found


def sorted_auc(score: np.ndarray, truth: np.ndarray) -> float:
    """``exact_auc`` of rows already in ascending score order, in linear time."""
    positive = truth == 1
    positives = int(positive.sum())
    negatives = len(truth) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    starts = np.flatnonzero(np.r_[True, score[1:] != score[:-1]])  # groups of tied scores
    pos = np.add.reduceat(positive.astype(np.float64), starts)
    neg = np.add.reduceat((~positive).astype(np.float64), starts)
    below = np.cumsum(neg) - neg
    return float((pos * (below + 0.5 * neg)).sum() / (positives * negatives))


def _no_columns(o: Outcomes) -> np.ndarray:
    raise AssertionError("AUC is summed by histogram")  # pragma: no cover


AUC = Metric("auc", True, _no_columns, auc_value, needs_score=True, binary_only=True)
COVERAGE = Metric("coverage", True, _coverage, ratio)

BUILT_IN = {
    metric.name: metric
    for metric in (
        Metric("accuracy", True, _accuracy, ratio),
        AUC,
        Metric("log_loss", False, _log_loss, ratio, needs_score=True),
        Metric("brier", False, _brier, ratio, needs_score=True, binary_only=True),
        Metric("precision", True, _precision, ratio, binary_only=True),
        Metric("recall", True, _recall, ratio, binary_only=True),
        Metric("f1", True, _f1, ratio, binary_only=True),
        Metric("macro_f1", True, _macro_f1_columns, _macro_f1_value),
        Metric("mae", False, _mae, ratio),
        Metric("mse", False, _mse, ratio),
        Metric("rmse", False, _mse, _rmse_value),
        Metric("r2", True, _r2, _r2_value),
        COVERAGE,
    )
}
FOR_TASK = {
    Task.CLASSIFICATION: (
        "accuracy",
        "auc",
        "log_loss",
        "brier",
        "precision",
        "recall",
        "f1",
        "macro_f1",
        "coverage",
    ),
    Task.REGRESSION: ("mae", "mse", "rmse", "r2", "coverage"),
}
DEFAULTS = {
    Task.CLASSIFICATION: ("auc", "accuracy", "log_loss", "recall"),
    Task.REGRESSION: ("mae", "rmse", "r2"),
}


def built_in(name: str, task: Task) -> Metric:
    if name not in FOR_TASK[task]:
        known = ", ".join(FOR_TASK[task])
        raise InvalidInputError(
            f"Suite field 'metrics': {name!r} is not a built-in {task} metric ({known}). "
            "Add your own under 'custom_metrics' with a 'function: module:name'."
        )
    return BUILT_IN[name]


def applicable(metric: Metric, outcomes: Outcomes) -> str | None:
    """Why ``metric`` cannot be computed on these outcomes, or None."""
    if metric.needs_score and outcomes.score is None:
        return f"{metric.name} needs probabilities and the model has no predict_proba"
    if metric.binary_only and not outcomes.binary:
        return f"{metric.name} is defined for two classes; this set has {len(outcomes.classes)}"
    return None
