"""Leakage checks with what a suite declares: its ``leakage`` section, its label and its
features (each declaration given here replaces the suite's)."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from prodml.data.leakage import check_leakage
from prodml.domain.leakage import LeakageDeclarations, LeakageResult
from prodml.evaluate.suite import Suite


def suite_declarations(
    suite: Suite,
    keys: Sequence[str] | None = None,
    time_column: str | None = None,
    known_after_label: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    max_overlap: float | None = None,
) -> LeakageDeclarations:
    """The suite's declarations, with those given here in their place."""
    return suite.leakage.overridden(
        keys=None if keys is None else tuple(keys),
        time_column=time_column,
        known_after_label=None if known_after_label is None else tuple(known_after_label),
        features=None if features is None else tuple(features),
        max_overlap=max_overlap,
    )


def check_suite_leakage(
    train: pa.Table,
    valid: pa.Table,
    suite: Suite,
    train_label: str = "the training set",
    valid_label: str = "the validation set",
) -> LeakageResult:
    """Every leakage finding between ``train`` and ``valid`` that the suite declares."""
    return check_leakage(train, valid, suite.leakage, train_label, valid_label)
