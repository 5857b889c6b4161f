"""Rollout checks: pass only when certainly within the limit, fail only when certainly past."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prodml.deploy import criteria
from prodml.deploy.criteria import FAIL, INCONCLUSIVE, PASS, Check
from prodml.errors import InvalidInputError


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _check(verdict: str) -> Check:
    return Check("x", verdict, None, None, None, None, 0, "")


def test_a_fifth_of_requests_failing_fails_a_one_percent_limit() -> None:
    check = criteria.error_rate(100, 500, 0.01)
    assert check.verdict == FAIL
    assert check.low is not None and check.low > 0.15
    assert "error rate 20%" in check.reason and "500 requests" in check.reason


def test_no_errors_on_few_requests_is_never_a_pass() -> None:
    assert criteria.error_rate(0, 20, 0.01).verdict == INCONCLUSIVE
    none_yet = criteria.error_rate(0, 0, 0.01)
    assert none_yet.verdict == INCONCLUSIVE and none_yet.value is None
    assert "no requests" in none_yet.reason


def test_no_errors_on_many_requests_passes() -> None:
    check = criteria.error_rate(0, 5000, 0.01)
    assert check.verdict == PASS
    assert check.high is not None and check.high < 0.01


def test_error_counts_past_the_requests_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        criteria.error_rate(5, 3, 0.01)


def test_fifty_latencies_cannot_bound_the_p99() -> None:
    check = criteria.p99_ms(_rng().gamma(2, 20, 50), 500)
    assert check.verdict == INCONCLUSIVE
    assert check.high is None and check.rows == 50


def test_fifty_latencies_all_over_the_limit_already_fail() -> None:
    assert criteria.p99_ms(np.full(50, 900.0), 500).verdict == FAIL


def test_p99_clearly_under_the_limit_passes_and_clearly_over_fails() -> None:
    latencies = _rng().gamma(2, 50, 2000)  # p99 around 330 ms
    assert criteria.p99_ms(latencies, 500).verdict == PASS
    assert criteria.p99_ms(latencies, 200).verdict == FAIL
    with_nans = np.append(latencies, [np.nan, np.inf])
    assert criteria.p99_ms(with_nans, 500).rows == 2000


def test_p99_ratio_judges_a_slower_candidate() -> None:
    baseline, candidate = _rng(1).gamma(2, 50, 3000), _rng(2).gamma(2, 50, 3000)
    assert criteria.p99_ratio(candidate, baseline, 1.3).verdict == PASS
    assert criteria.p99_ratio(candidate * 2, baseline, 1.3).verdict == FAIL
    again = criteria.p99_ratio(candidate * 2, baseline, 1.3)
    assert again == criteria.p99_ratio(candidate * 2, baseline, 1.3)  # seeded


def test_p99_ratio_needs_a_hundred_latencies_each() -> None:
    check = criteria.p99_ratio(np.full(50, 10.0), np.full(1000, 10.0), 1.2)
    assert check.verdict == INCONCLUSIVE and check.value == 1.0


def test_identical_outputs_agree_and_have_no_distance() -> None:
    labels = _rng().integers(0, 4, 1000)
    assert criteria.agreement(np.ones(1000, dtype=bool), 0.9).verdict == PASS
    check = criteria.distance(labels, labels.copy(), 0.05)
    assert check.verdict == PASS and check.value == 0.0 and check.high == 0.0


def test_flipping_a_third_of_labels_fails_agreement() -> None:
    agree = _rng().random(1000) >= 0.3
    check = criteria.agreement(agree, 0.9)
    assert check.verdict == FAIL and "certainly below" in check.reason


def test_agreement_on_few_pairs_is_inconclusive() -> None:
    assert criteria.agreement(np.ones(10, dtype=bool), 0.9).verdict == INCONCLUSIVE


def test_shifted_numeric_outputs_fail_distance() -> None:
    outputs = _rng().normal(size=1000)
    assert criteria.distance(outputs + 1.0, outputs, 0.1).verdict == FAIL


def test_same_distribution_on_different_rows_is_not_failed_for_small_sample_bias() -> None:
    candidate, baseline = _rng(1).normal(size=200), _rng(2).normal(size=200)
    assert criteria.distance(candidate, baseline, 0.2).verdict != FAIL


def test_distance_on_labels_drops_missing_rows_and_needs_fifty() -> None:
    candidate = np.array(["cat", "dog", None] * 40, dtype=object)
    baseline = np.array(["dog", "cat", "cat"] * 40, dtype=object)
    check = criteria.distance(candidate, baseline, 0.2)
    assert check.rows == 80 and check.verdict == PASS
    assert criteria.distance(candidate[:60], baseline[:60], 0.2).verdict == INCONCLUSIVE


def test_distance_refuses_unpaired_outputs() -> None:
    with pytest.raises(InvalidInputError):
        criteria.distance(np.zeros(60), np.zeros(70), 0.1)


def _labels(rows: int, wrong: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    generator = _rng(seed)
    truth = generator.integers(0, 3, rows)
    predicted = np.where(generator.random(rows) < wrong, (truth + 1) % 3, truth)
    return truth, predicted


def test_a_much_less_accurate_candidate_fails() -> None:
    truth, champion = _labels(1000, 0.05, seed=1)
    _, candidate = _labels(1000, 0.3, seed=1)
    check = criteria.metric_difference(truth, candidate, champion, "accuracy", 0.02)
    assert check.verdict == FAIL and check.name == "metric:accuracy"
    assert check.value is not None and check.value > 0.2


def test_equal_models_pass_with_enough_labels() -> None:
    truth, predicted = _labels(1000, 0.1, seed=2)
    check = criteria.metric_difference(truth, predicted, predicted, "accuracy", 0.02)
    assert check.verdict == PASS and check.value == 0.0


def test_a_label_drop_observed_past_the_limit_but_not_certain_is_inconclusive() -> None:
    truth = np.zeros(150, dtype=int)
    champion, candidate = np.zeros(150, dtype=int), np.zeros(150, dtype=int)
    champion[:15] = 1  # 15 wrong answers
    candidate[10:31] = 1  # 21 wrong answers: 4 points less accurate

    for planned in (None, 100):
        check = criteria.metric_difference(
            truth, candidate, champion, "accuracy", 0.02, planned=planned
        )
        assert check.verdict == INCONCLUSIVE and check.value == pytest.approx(0.04)
        assert check.low is not None and check.low < 0.02 < check.value
        assert "not certain yet" in check.reason


def test_thirty_labels_are_inconclusive() -> None:
    truth, predicted = _labels(30, 0.1, seed=3)
    check = criteria.metric_difference(truth, predicted, predicted, "error_rate", 0.02)
    assert check.verdict == INCONCLUSIVE and "30 labels of 100" in check.reason


def test_a_larger_absolute_error_is_a_drop() -> None:
    generator = _rng(4)
    truth = generator.normal(size=1000)
    good = truth + 0.1 * generator.normal(size=1000)
    bad = truth + 0.5 * generator.normal(size=1000)
    worse = criteria.metric_difference(truth, bad, good, "mae", 0.05)
    better = criteria.metric_difference(truth, good, bad, "mae", 0.05)
    assert worse.verdict == FAIL and worse.value is not None and worse.value > 0
    assert better.verdict == PASS and better.value is not None and better.value < 0
    assert criteria.metric_difference(truth, bad, good, "rmse", 0.05).verdict == FAIL


def test_an_unknown_metric_is_named_in_the_error() -> None:
    with pytest.raises(InvalidInputError, match="auc") as raised:
        criteria.metric_difference(np.zeros(3), np.zeros(3), np.zeros(3), "auc", 0.1)
    assert "accuracy" in str(raised.value)


def test_combine_fails_on_any_failure_and_passes_only_when_all_pass() -> None:
    assert criteria.combine([_check(PASS), _check(INCONCLUSIVE), _check(FAIL)]) == FAIL
    assert criteria.combine([_check(PASS), _check(INCONCLUSIVE)]) == INCONCLUSIVE
    assert criteria.combine([_check(PASS), _check(PASS)]) == PASS
    assert criteria.combine([]) == INCONCLUSIVE


def test_a_check_is_json_ready() -> None:
    row = criteria.p99_ms(_rng().gamma(2, 20, 50), 500).as_dict()
    assert row["high"] is None and row["verdict"] == INCONCLUSIVE
    assert json.loads(json.dumps(row)) == row


def test_every_check_judged_over_many_looks_has_an_interval_around_its_one_look_interval() -> None:
    generator = _rng(5)
    truth, champion = _labels(600, 0.1, seed=6)
    _, candidate = _labels(600, 0.12, seed=7)
    fast, slow = generator.gamma(2, 20, 600), generator.gamma(2, 22, 600)
    outputs, agree = generator.normal(size=600), generator.random(600) < 0.93
    judged = {
        "error_rate": lambda **kw: criteria.error_rate(9, 600, 0.02, **kw),
        "agreement": lambda **kw: criteria.agreement(agree, 0.9, **kw),
        "p99_ms": lambda **kw: criteria.p99_ms(slow, 250.0, **kw),
        "p99_ratio": lambda **kw: criteria.p99_ratio(slow, fast, 1.3, **kw),
        "distance": lambda **kw: criteria.distance(outputs + 0.5, outputs, 0.5, **kw),
        "metric": lambda **kw: criteria.metric_difference(
            truth, candidate, champion, "accuracy", 0.05, **kw
        ),
    }
    for name, judge in judged.items():
        once, sequence = judge(), judge(planned=500)
        assert once.value == sequence.value, name
        assert once.low is not None and sequence.low is not None, name
        assert sequence.low < once.low, name
        assert sequence.high is None or (once.high is not None and sequence.high > once.high), name
