"""Hindsight metrics: a metric computed for every stored version of a model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from prodml.client import Client, default_client
from prodml.errors import InvalidInputError

if TYPE_CHECKING:
    from prodml.domain.backfill import Backfill


def backfill_metric(
    metric: str,
    model: str,
    valset: str | None = None,
    slices: Sequence[str] = (),
    *,
    force: bool = False,
    label: str | None = None,
    task: str | None = None,
    kind: str = "table",
    higher_is_better: bool | None = None,
    progress: Callable[[int, int], None] | None = None,
    client: Client | None = None,
) -> Backfill:
    """``metric`` for every stored version of ``model``, oldest first, on ``valset``
    (``NAME@VERSION``; default: the first validation set of the model's suite), without
    retraining: each version is loaded, answers the set and is scored with bootstrap
    intervals, and the result is stored as an evaluation linked to the model version
    and the dataset version.

    ``metric`` is a metric of the model's suite, a built-in (``auc``, ``mae``...) or
    ``module:function`` called as a suite's custom metrics are (``kind`` ``table`` or
    ``row``; ``higher_is_better`` defaults to true). ``slices`` are written as in a
    suite (``{name: long-haul, where: "distance > 1500"}``, ``{by: carrier}``) or as
    ``NAME: SQL``. ``label`` and ``task`` default to the suite's. A version already
    backfilled with the same metric, set and slices is read back unless ``force``; a
    version that cannot be loaded or scored is returned with ``status`` failed and its
    ``error``, and the others are scored. ``progress(done, total)`` is called as
    versions finish."""
    from prodml.evaluate import backfill

    for argument, given in (("metric", metric), ("model", model)):
        if not isinstance(given, str):
            raise InvalidInputError(
                f"{argument} is text (e.g. metric='auc', model='churn'), not {given!r:.40}."
            )
    return backfill.backfill(
        client or default_client(),
        model,
        metric,
        valset,
        tuple(slices),
        force=force,
        label=label,
        task=task,
        kind=kind,
        higher_is_better=higher_is_better,
        progress=progress,
    )
