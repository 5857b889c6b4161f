"""A model loaded from its library's own format, answering as a scikit-learn estimator
does: ``predict`` on a batch, and for a classifier ``predict_proba`` with ``classes_``.

A batch is a 2-D numpy array (columns in the signature's order), a DataFrame or a
table; an all-numeric DataFrame is turned into an array once, so the model runs on
numpy without pandas in its way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Scores = Callable[[Any], np.ndarray]  # batch -> values (n,) or probabilities (n, classes)


def numeric(batch: Any) -> Any:
    """An all-numeric DataFrame or Arrow table as a 2-D array; anything else as it is."""
    if hasattr(batch, "dtypes") and hasattr(batch, "to_numpy"):
        if all(kind.kind in "biuf" for kind in np.asarray(batch.dtypes, dtype=object)):
            return batch.to_numpy()
        return batch
    if hasattr(batch, "schema") and hasattr(batch, "columns"):  # a pyarrow table
        return np.column_stack([c.to_numpy(zero_copy_only=False) for c in batch.columns])
    if isinstance(batch, list):
        return np.asarray(batch)
    return batch


def two_columns(scores: np.ndarray) -> np.ndarray:
    """Probabilities of a binary model given as P(class 1) per row, as (n, 2)."""
    if scores.ndim == 1:
        return np.column_stack([1.0 - scores, scores])
    return scores


class NativeModel:
    """A regressor (or any model whose output is taken as it is)."""

    takes_array = True  # the predictor hands it a numpy batch when the columns are numeric

    def __init__(self, model_format: str, scores: Scores, library: Any = None) -> None:
        self.format = model_format
        self._scores = scores
        self.library_model = library  # the library's own object, for what else it offers

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.format}>"

    def predict(self, batch: Any) -> np.ndarray:
        outputs = np.asarray(self._scores(numeric(batch)))
        return outputs.ravel() if outputs.ndim == 2 and outputs.shape[1] == 1 else outputs


class NativeClassifier(NativeModel):
    """A classifier: ``scores`` gives class probabilities (or P(class 1) of two classes)
    in the order of ``classes``; ``labels``, when given, gives the model's own answers
    (a format that stores them, as skl2onnx's ``label`` output does)."""

    def __init__(
        self,
        model_format: str,
        scores: Scores,
        classes: Sequence[Any],
        labels: Scores | None = None,
        library: Any = None,
    ) -> None:
        super().__init__(model_format, scores, library)
        self.classes_ = np.asarray(classes)
        self._labels = labels

    def predict_proba(self, batch: Any) -> np.ndarray:
        return two_columns(np.asarray(self._scores(numeric(batch)), dtype=np.float64))

    def predict(self, batch: Any) -> np.ndarray:
        if self._labels is not None:
            return np.asarray(self._labels(numeric(batch))).ravel()
        return np.asarray(self.classes_[np.argmax(self.predict_proba(batch), axis=1)])


class Saved:
    """A model as stored: its format, its bytes, what its loader needs beside them
    (``details``: classes, input type...) and the libraries whose versions to record."""

    def __init__(
        self,
        model_format: str,
        payload: bytes,
        details: dict[str, Any] | None = None,
        packages: Sequence[str] = (),
    ) -> None:
        self.format = model_format
        self.payload = payload
        self.details = details or {}
        self.packages = tuple(packages)


def instance_of(model: object, module: str, *names: str) -> bool:
    """``isinstance(model, module.name)`` for any name, without importing ``module``: a
    library nobody imported made no object of its classes."""
    import sys

    loaded = sys.modules.get(module)
    if loaded is None:
        return False
    kinds = tuple(getattr(loaded, name) for name in names if hasattr(loaded, name))
    return bool(kinds) and isinstance(model, kinds)


def classes_of(model: object) -> list[Any] | None:
    """The classes of a classifier in the order of its probabilities; None otherwise (a
    regressor may have an empty ``classes_``, as CatBoost's does)."""
    classes = getattr(model, "classes_", None)
    listed = None if classes is None else np.asarray(classes).tolist()
    return listed or None
