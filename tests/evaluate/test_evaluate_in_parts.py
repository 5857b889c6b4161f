"""Evaluating on a large validation set in parts: the model answers each part (in
this process, or as Ray tasks on a local Ray of 2 CPUs), the answers are joined in row
order, and every figure (values, intervals, rows, findings) is the one process's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evaluation_helpers import (
    FEATURES,
    Fussy,
    classifier,
    classifier_without_usage,
    customers,
    log_models,
    suite,
)

import prodml
from prodml.client import Client
from prodml.domain.evaluation import Evaluation
from prodml.errors import InvalidInputError


def _figures(evaluation: Evaluation) -> list[tuple[object, ...]]:
    """Every score as comparable values (NaN as text: NaN equals nothing)."""
    return sorted(
        (s.valset, s.slice, s.metric, repr(s.estimate.value), repr(s.estimate.low),
         repr(s.estimate.high), s.estimate.rows)
        for s in evaluation.scores
    )  # fmt: skip


def _logged(client: Client, models: list[object], holdout: pd.DataFrame, inputs: list[str]) -> None:
    prodml.log_dataset("holdout", holdout, client=client)
    log_models(client, "churn", models, example=holdout[inputs].head())
    slices = [{"name": "heavy", "where": "usage > 0.5"}, {"name": "region", "by": "region"}]
    prodml.register_suite("churn", suite(slices=slices), client=client)


def test_parts_in_this_process_give_every_figure_of_one_process(client: Client) -> None:
    holdout = customers().assign(balance=100.0)
    holdout.loc[[3, 1200, 2999], "balance"] = -1.0  # the model raises on these, in 2 parts
    _logged(client, [Fussy(classifier())], holdout, [*FEATURES, "balance"])

    whole = prodml.evaluate_model("churn@1", client=client)
    parted = prodml.evaluate_model("churn@1", client=client, partitions=3)

    assert _figures(parted) == _figures(whole)
    assert [f.message for f in parted.findings] == [f.message for f in whole.findings]
    assert any("raised on 3 of 3,000 rows" in f.message for f in parted.findings)


def test_many_scattered_rows_the_model_refuses_are_counted_alike_in_any_number_of_parts(
    client: Client,
) -> None:
    holdout = customers(3_000, seed=4).assign(balance=100.0)
    refused = np.random.default_rng(6).random(len(holdout)) < 0.3
    holdout.loc[refused, "balance"] = -1.0  # more than halving could isolate in one call
    _logged(client, [Fussy(classifier())], holdout, [*FEATURES, "balance"])

    whole = prodml.evaluate_model("churn@1", client=client)
    raised = f"raised on {int(refused.sum()):,} of 3,000 rows"
    assert any(raised in f.message for f in whole.findings), [f.message for f in whole.findings]
    for partitions in (2, 3):
        parted = prodml.evaluate_model("churn@1", client=client, partitions=partitions)
        assert _figures(parted) == _figures(whole), partitions
        assert [f.message for f in parted.findings] == [f.message for f in whole.findings]


def test_a_comparison_on_ray_gives_the_verdict_and_figures_of_one_process(
    client: Client, cluster: str
) -> None:
    _logged(client, [classifier_without_usage(), classifier()], customers(), FEATURES)

    here = prodml.compare_models("churn", "1", "2", client=client)
    on_ray = prodml.compare_models("churn", "1", "2", client=client, executor="ray", partitions=4)

    assert here.gate is not None and on_ray.gate is not None
    assert on_ray.gate.verdict == here.gate.verdict
    assert not [s for s in here.candidate.scores if s.estimate.rows == 0]
    assert _figures(on_ray.candidate) == _figures(here.candidate)
    assert _figures(on_ray.baseline) == _figures(here.baseline)  # type: ignore[arg-type]


def test_partitions_below_one_and_an_address_without_ray_are_refused(client: Client) -> None:
    with pytest.raises(InvalidInputError, match="partitions must be 1 or more"):
        prodml.evaluate_model("churn@1", client=client, partitions=0)
    with pytest.raises(InvalidInputError, match="address applies to the ray executor"):
        prodml.evaluate_model("churn@1", client=client, address="auto")
