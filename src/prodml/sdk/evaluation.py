"""Evaluation: suites, evaluating and comparing versions, validation sets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prodml.client import Client, default_client

if TYPE_CHECKING:
    from prodml.data.executors import Executor
    from prodml.domain.dataset import DatasetVersion
    from prodml.domain.evaluation import Comparison, Evaluation
    from prodml.evaluate.answers import Answer
    from prodml.evaluate.valsets import Growth


def register_suite(
    name: str, suite: str | os.PathLike[str] | Mapping[str, Any], client: Client | None = None
) -> int:
    """Store the evaluation suite of model ``name`` (a YAML file or a mapping); returns
    its version. Every evaluation and promotion of the model uses the latest."""
    from prodml.evaluate import evaluations
    from prodml.evaluate.suite import read

    document = dict(suite) if isinstance(suite, Mapping) else read(Path(suite))
    return evaluations.register_suite(client or default_client(), name, document)


def evaluate_model(
    ref: str,
    suite_version: int | None = None,
    client: Client | None = None,
    *,
    executor: str | Executor = "local",
    partitions: int | None = None,
    address: str | None = None,
) -> Evaluation:
    """Run a model version's suite: every metric per validation set and slice, with
    bootstrap intervals, stored and linked to the dataset versions used.

    With ``executor="ray"`` (or ``partitions``) the model answers each validation set
    in parts, as Ray tasks on a local Ray or the cluster at ``address``; the answers
    are joined in row order, so every figure equals one process's."""
    from prodml.evaluate import evaluations

    chosen = client or default_client()
    answer = _answer(chosen, executor, partitions, address)
    return evaluations.evaluate(chosen, ref, suite_version, answer)


def compare_models(
    name: str,
    baseline: str | None,
    candidate: str,
    client: Client | None = None,
    *,
    executor: str | Executor = "local",
    partitions: int | None = None,
    address: str | None = None,
) -> Comparison:
    """Candidate against baseline (versions or aliases) on the same rows: per slice and
    metric both values, the difference and its interval, and the gate's verdict
    (``executor``, ``partitions``, ``address`` as for :func:`evaluate_model`)."""
    from prodml.evaluate import evaluations

    chosen = client or default_client()
    answer = _answer(chosen, executor, partitions, address)
    return evaluations.compare(chosen, name, baseline, candidate, answer)


def _answer(
    client: Client, executor: str | Executor, partitions: int | None, address: str | None
) -> Answer | None:
    """How models answer a validation set: None (in this process, whole) unless an
    executor other than this process or a number of parts is asked for."""
    from prodml.errors import InvalidInputError

    if partitions is not None and partitions < 1:
        raise InvalidInputError(f"partitions must be 1 or more, not {partitions}.")
    if executor == "local" and partitions is None:
        if address is not None:
            raise InvalidInputError("address applies to the ray executor: add executor='ray'.")
        return None
    from prodml.evaluate.answers_in_parts import PartedAnswers
    from prodml.sdk.executors import executor_for

    runner = executor_for(executor, address) if isinstance(executor, str) else executor
    return PartedAnswers(client, runner, partitions)


def add_to_valset(
    name: str, rows: Any, source: str | None = None, client: Client | None = None
) -> DatasetVersion:
    """Append rows (e.g. production failures) to a validation set as its next version,
    each row's ``_source`` recorded; suites naming the set use its latest version."""
    from prodml.evaluate import valsets

    return valsets.add(client or default_client(), name, rows, source)[0]


def grow_valset(
    name: str, rows: Any, source: str | None = None, client: Client | None = None
) -> tuple[DatasetVersion, int]:
    """As :func:`add_to_valset`, also saying how many rows were new (0: every row was
    already in the set, whose latest version is returned)."""
    from prodml.evaluate import valsets

    return valsets.add(client or default_client(), name, rows, source)


def get_suite(
    name: str, version: int | None = None, client: Client | None = None
) -> tuple[int, dict[str, Any]]:
    """The suite document of model ``name`` (latest unless ``version``) and its version."""
    stored = (client or default_client()).metadata.get_suite(name, version)
    return stored.version, stored.document


def evaluation_report(subject: Evaluation | Comparison) -> str:
    """A self-contained HTML page of an evaluation or a comparison, for people to read."""
    from prodml.evaluate.report import render_html

    return render_html(subject)


def valset_history(name: str, client: Client | None = None) -> list[Growth]:
    from prodml.evaluate import valsets

    return valsets.history(client or default_client(), name)
