"""Leakage between a training set and its validation set, checked before training."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prodml.client import Client, default_client
from prodml.domain.dataset import DatasetVersion
from prodml.domain.leakage import LeakageDeclarations, LeakageResult

if TYPE_CHECKING:
    from prodml.evaluate.suite import Suite

SUITE_FILES = (".yaml", ".yml", ".json")


def check_leakage(
    train: Any,
    valid: Any,
    keys: str | Sequence[str] | None = None,
    time_column: str | None = None,
    known_after_label: str | Sequence[str] | None = None,
    features: str | Sequence[str] | None = None,
    suite: Suite | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    *,
    label: str | None = None,
    max_overlap: float | None = None,
    force: str | None = None,
    block: bool = False,
    run_id: str | None = None,
    client: Client | None = None,
) -> LeakageResult:
    """Leakage between ``train`` and ``valid`` (each ``"NAME@V"``, a DatasetVersion, a
    table file, or a table: Arrow, pandas, polars):

    - validation rows whose ``keys`` (one column or several) also appear in training
      (hard; ``max_overlap`` allows a share of validation rows, then soft);
    - with ``time_column``, validation rows earlier than training's latest time (hard);
    - columns ``known_after_label`` (or the ``label``) among the training ``features``
      (default: every training column but the label) (hard).

    ``suite`` (a registered model's name, a suite file or document) gives its
    ``leakage`` section, label and features; arguments given here replace them. A check
    of logged versions is recorded on each as a ``dataset.leakage_checked`` event. With
    ``block=True`` (before a training step) hard findings raise unless ``force`` says why
    training may go on; the reason is recorded with the check."""
    from prodml.data.leakage_gate import guard

    chosen = client or (default_client() if _needs_store(train, valid, suite) else None)
    declared = _suite(chosen, suite).overridden(
        keys=_names(keys),
        time_column=time_column,
        known_after_label=_names(known_after_label),
        features=_names(features),
        label=label,
        max_overlap=max_overlap,
    )
    return guard(chosen, train, valid, declared, force=force, block=block, run_id=run_id)


def _suite(client: Client | None, suite: Any) -> LeakageDeclarations:
    from prodml.evaluate import suite as suites

    if suite is None:
        return LeakageDeclarations()
    if isinstance(suite, suites.Suite):
        return suite.leakage
    if isinstance(suite, Mapping):
        return suites.parse(dict(suite)).leakage
    if _is_suite_file(suite):
        return suites.parse(suites.read(Path(suite))).leakage
    from prodml.evaluate.evaluations import load_suite

    assert client is not None  # a suite by model name needs the store (_needs_store)
    return load_suite(client, str(suite)).leakage


def _needs_store(train: Any, valid: Any, suite: Any) -> bool:
    """True when an input or the suite is named in the store (not a table or a file)."""
    named = [item for item in (train, valid) if isinstance(item, str | DatasetVersion)]
    stored = any(isinstance(i, DatasetVersion) or not _is_table_file(i) for i in named)
    return stored or (isinstance(suite, str) and not _is_suite_file(suite))


def _is_table_file(ref: str) -> bool:
    from prodml.data.tables import TABLE_SUFFIXES

    return Path(ref).suffix.lower() in TABLE_SUFFIXES


def _is_suite_file(suite: Any) -> bool:
    return isinstance(suite, str | os.PathLike) and Path(suite).suffix.lower() in SUITE_FILES


def _names(names: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if names is None:
        return None
    return (names,) if isinstance(names, str) else tuple(names)
