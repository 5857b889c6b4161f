"""Rollout checks judged on every tick stay honest: over all the looks of a step, a
candidate exactly at a check's limit (where any verdict claims a certainty the data
cannot give) gets a verdict in at most the configured share of rollouts, while one
clearly past the limit is still caught. Simulated on synthetic counts, look by look,
as the controller would judge them (a pass counts only once the step's minimum of
requests is met, as the controller advances only then)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from prodml.deploy import criteria, sequential
from prodml.deploy.criteria import FAIL, PASS, Check

ROLLOUTS = 400
EVERY = 50  # requests between two ticks
HORIZON = 2000  # requests per step: 40 looks
MIN_REQUESTS = 500
CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
LOOKS = np.arange(EVERY, HORIZON + 1, EVERY)


def _allowed(alpha: float = ALPHA, rollouts: int = ROLLOUTS) -> float:
    """The nominal share plus three binomial standard errors of a simulated share."""
    return alpha + 3 * math.sqrt(alpha * (1 - alpha) / rollouts)


def _first_verdicts(judge: Callable[[int, int], Check], per_look: np.ndarray) -> list[str]:
    """Per rollout, the first verdict the controller would act on ('' for none)."""
    verdicts = []
    for rollout in per_look:
        verdict = ""
        for look, requests in enumerate(LOOKS):
            check = judge(int(rollout[look]), int(requests))
            if check.verdict == FAIL or (check.verdict == PASS and requests >= MIN_REQUESTS):
                verdict = check.verdict
                break
        verdicts.append(verdict)
    return verdicts


def _errors_at_looks(rate: float, seed: int, rollouts: int = ROLLOUTS) -> np.ndarray:
    failed = np.random.default_rng(seed).random((rollouts, HORIZON)) < rate
    return np.asarray(failed.cumsum(axis=1)[:, LOOKS - 1])


def _share(verdicts: list[str], *wanted: str) -> float:
    return sum(v in wanted for v in verdicts) / len(verdicts)


def test_a_candidate_at_the_error_limit_is_judged_wrongly_in_at_most_five_percent_of_rollouts() -> (
    None
):
    limit = 0.02
    errors = _errors_at_looks(limit, seed=11)

    def sequence(failed: int, requests: int) -> Check:
        return criteria.error_rate(failed, requests, limit, CONFIDENCE, planned=MIN_REQUESTS)

    def one_look(failed: int, requests: int) -> Check:
        return criteria.error_rate(failed, requests, limit, CONFIDENCE)

    judged = _first_verdicts(sequence, errors)
    per_look = _first_verdicts(one_look, errors)

    assert _share(judged, FAIL) <= _allowed()
    assert _share(judged, FAIL, PASS) <= _allowed()
    assert _share(per_look, FAIL) > _allowed()  # judging each look on its own is not honest


def test_a_candidate_erring_three_times_the_limit_is_still_failed_in_most_rollouts() -> None:
    limit = 0.02
    errors = _errors_at_looks(3 * limit, seed=12, rollouts=200)

    def sequence(failed: int, requests: int) -> Check:
        return criteria.error_rate(failed, requests, limit, CONFIDENCE, planned=MIN_REQUESTS)

    assert _share(_first_verdicts(sequence, errors), FAIL) >= 0.95


def test_a_candidate_within_the_limit_passes_once_the_step_has_its_requests() -> None:
    errors = _errors_at_looks(0.002, seed=13, rollouts=200)

    def sequence(failed: int, requests: int) -> Check:
        return criteria.error_rate(failed, requests, 0.02, CONFIDENCE, planned=MIN_REQUESTS)

    verdicts = _first_verdicts(sequence, errors)
    assert _share(verdicts, PASS) >= 0.95 and _share(verdicts, FAIL) == 0


def test_a_candidate_at_the_p99_limit_is_judged_wrongly_in_at_most_five_percent_of_rollouts() -> (
    None
):
    rollouts = 300
    latencies = np.random.default_rng(14).exponential(10.0, size=(rollouts, HORIZON))
    limit = 10.0 * math.log(100)  # the true p99 of these latencies

    def sequence(rollout: int, requests: int) -> Check:
        seen = latencies[rollout, :requests]
        return criteria.p99_ms(seen, limit, CONFIDENCE, planned=MIN_REQUESTS)

    def one_look(rollout: int, requests: int) -> Check:
        return criteria.p99_ms(latencies[rollout, :requests], limit, CONFIDENCE)

    index = np.repeat(np.arange(rollouts)[:, None], len(LOOKS), axis=1)
    judged = _first_verdicts(sequence, index)
    per_look = _first_verdicts(one_look, index)

    assert _share(judged, FAIL, PASS) <= _allowed(rollouts=rollouts)
    assert _share(per_look, FAIL, PASS) > _allowed(rollouts=rollouts)


def test_the_sequence_is_tightest_near_the_planned_requests_and_never_narrower_than_one_look() -> (
    None
):
    one_look = sequential.fixed_z(CONFIDENCE)
    widths = {n: sequential.z(n, CONFIDENCE, 500) for n in (50, 500, 5000, 50_000)}

    assert all(width > one_look for width in widths.values())
    assert widths[500] < 1.6 * one_look
    assert widths[50] > widths[500] < widths[5000] < widths[50_000] < 2 * one_look
