"""A batch scoring: a table version scored by a model version, kept as a new version."""

from __future__ import annotations

from dataclasses import dataclass

from prodml.domain.dataset import DatasetVersion


@dataclass(frozen=True, kw_only=True)
class ScoredDataset:
    """``output`` holds the input's columns and the ``added`` ones (``prediction``, and
    ``proba_<class>`` for a classifier). ``failed`` rows are those the model raised on
    (``first_error`` says why) and ``abstained`` those a guardrail withheld; both have
    a null prediction."""

    output: DatasetVersion
    input: DatasetVersion
    model: str  # NAME@VERSION
    model_id: str
    rows: int
    added: tuple[str, ...]
    failed: int
    abstained: int
    first_error: str | None
    executor: str
    partitions: int
