"""Gates: the suite's rules judged on an evaluation (and its differences from the
baseline), each check pass, fail or inconclusive; never "no data means pass".

- A regression rule fails where the candidate is worse than the baseline by more
  than the tolerance with the suite's confidence (the whole interval is past it).
  Short of that, in the default ``observed`` mode it passes where the observed change
  is within the tolerance and is inconclusive where it is past it but not certainly:
  a noisy slice never passes a regression just because its interval is wide. In
  ``non_inferiority`` mode it passes only where the interval rules out a regression
  past the tolerance. An inconclusive change says about how many more rows would
  decide it (the interval's half-width shrinks like one over the square root of rows).
- A bound (at_least, at_most) fails where the value is past it with confidence, and
  is inconclusive where the value is past it but the interval still reaches it.
- Must-pass sets fail on any row not passed.
- A slice with fewer than ``min_rows`` rows, or a value that is undefined, is
  inconclusive; so is a regression rule with no baseline to compare with.
"""

from __future__ import annotations

import math

from prodml.domain.evaluation import (
    ALL,
    Check,
    Difference,
    Estimate,
    Evaluation,
    GateResult,
    Verdict,
    combine,
)
from prodml.evaluate.suite import OBSERVED, Rule, Suite


def judge(
    suite: Suite,
    candidate: Evaluation,
    baseline: Evaluation | None,
    differences: list[Difference],
) -> GateResult:
    checks: list[Check] = []
    notes: list[str] = []
    for finding in candidate.findings:
        if finding.kind == "model_error":
            checks.append(
                Check(
                    rule="the model answers every row",
                    verdict=Verdict.FAIL,
                    why=finding.message,
                    valset=finding.valset,
                )
            )
    scenario_sets = {_name(ref) for ref in suite.scenarios}
    for rule in suite.rules:
        if rule.must_pass:
            checks += _must_pass(candidate, scenario_sets)
        elif rule.max_regression is not None and baseline is None:
            notes.append(f"no {suite.against} to compare with: '{rule.describe()}' is not judged")
        elif rule.max_regression is not None:
            checks += _regression(suite, rule, candidate, baseline, differences, scenario_sets)
        else:
            checks += _bound(suite, rule, candidate, scenario_sets)
    if not checks:
        why = "no rule could be judged" + (f" ({'; '.join(notes)})" if notes else "")
        checks.append(Check(rule="at least one rule judged", verdict=Verdict.INCONCLUSIVE, why=why))
    verdict = combine([check.verdict for check in checks])
    return GateResult(verdict, tuple(checks), baseline.model if baseline else None, tuple(notes))


def _places(
    rule: Rule,
    evaluation: Evaluation,
    scenario_sets: set[str],
    metric: str,
    baseline: Evaluation | None = None,
) -> list[tuple[str, str, Estimate | None]]:
    """(valset, slice, estimate) for every place the rule looks at: the slices either
    side has a score for (one missing on the candidate's side is then inconclusive)."""
    places = []
    scored = [*evaluation.scores, *(baseline.scores if baseline else ())]
    for valset in evaluation.valsets:
        if _name(valset) in scenario_sets:
            continue
        present = [s.slice for s in scored if s.valset == valset and s.metric == metric]
        wanted = (
            list(rule.slices) if rule.slices is not None else list(dict.fromkeys([ALL, *present]))
        )
        for name in wanted:
            places.append((valset, name, evaluation.estimate(valset, name, metric)))
    return places


def _too_little(suite: Suite, estimate: Estimate | None, what: str) -> str | None:
    if estimate is None:
        return f"{what}: no such slice or metric in this evaluation"
    if estimate.rows < suite.min_rows:
        return f"{what}: only {estimate.rows:,} rows (the gate needs {suite.min_rows:,})"
    if not estimate.defined:
        return f"{what}: the value is undefined (see the findings)"
    return None


def _regression(
    suite: Suite,
    rule: Rule,
    candidate: Evaluation,
    baseline: Evaluation | None,
    differences: list[Difference],
    scenario_sets: set[str],
) -> list[Check]:
    metric = str(rule.metric)
    assert baseline is not None
    by_place = {(d.valset, d.slice): d for d in differences if d.metric == metric}
    checks = []
    for valset, name, estimate in _places(rule, candidate, scenario_sets, metric, baseline):
        where = f"{metric} on {name!r} of {valset}"
        difference = by_place.get((valset, name))
        base = baseline.estimate(valset, name, metric)
        short = _too_little(suite, estimate, where) or _too_little(
            suite, base, f"{where} (baseline)"
        )
        if short or difference is None:
            checks.append(
                Check(
                    rule=rule.describe(),
                    verdict=Verdict.INCONCLUSIVE,
                    why=short or where,
                    valset=valset,
                    slice=name,
                    metric=metric,
                )
            )
            continue
        tolerance = suite.tolerance(name, metric)
        tolerance = rule.max_regression if tolerance is None else tolerance
        assert tolerance is not None
        d = difference.diff
        change = (
            f"{where}: {difference.baseline.value:.4g} -> {difference.candidate.value:.4g} "
            f"(change {d.value:+.4g}, {candidate.confidence:.0%} interval "
            f"[{d.low:+.4g}, {d.high:+.4g}], tolerance {tolerance:g})"
        )
        if not d.defined or d.low != d.low:
            checks.append(
                Check(
                    rule=rule.describe(),
                    verdict=Verdict.INCONCLUSIVE,
                    why=f"{where}: no interval"
                    + (
                        " (the suite draws no resamples: set bootstrap.resamples)"
                        if not candidate.resamples
                        else ""
                    ),
                    valset=valset,
                    slice=name,
                    metric=metric,
                )
            )
            continue
        verdict, opening, hint = _judge_change(difference, tolerance, suite.mode)
        checks.append(
            Check(
                rule=rule.describe(),
                verdict=verdict,
                why=opening + change + hint,
                valset=valset,
                slice=name,
                metric=metric,
            )
        )
    return checks


def _judge_change(difference: Difference, tolerance: float, mode: str) -> tuple[Verdict, str, str]:
    """The verdict on one change, the words before its figures and a hint after them."""
    worse = difference.worse_by
    least, most = difference.worse_bounds
    rows = difference.diff.rows
    if least > tolerance:
        return Verdict.FAIL, "regressed: ", ""
    if worse > tolerance:
        hint = _more_rows(rows, worse - least, worse - tolerance)
        return Verdict.INCONCLUSIVE, "possible regression past the tolerance, not certain: ", hint
    if mode == OBSERVED:
        return Verdict.PASS, "", ""
    if most <= tolerance:
        return Verdict.PASS, "a regression past the tolerance is ruled out: ", ""
    hint = _more_rows(rows, most - worse, tolerance - worse)
    return Verdict.INCONCLUSIVE, "a regression past the tolerance is not ruled out: ", hint


def _more_rows(rows: int, half_width: float, gap: float) -> str:
    """How many more rows would take the interval's near side past the tolerance if the
    change held: a half-width shrinks like 1 / sqrt(rows), so rows * (half / gap)^2."""
    if rows <= 0 or gap <= 0 or not math.isfinite(half_width / gap):
        return "; more rows alone would not decide it"
    more = max(1.0, rows * (half_width / gap) ** 2 - rows)
    return f"; about {_rounded(more):,} more rows in this slice would decide it, if the change held"


def _rounded(count: float) -> int:
    """Two significant figures: the estimate is no finer than that."""
    digits = max(0, math.floor(math.log10(count)) - 1)
    return int(math.ceil(count / 10**digits) * 10**digits)


def _bound(suite: Suite, rule: Rule, candidate: Evaluation, scenario_sets: set[str]) -> list[Check]:
    metric = str(rule.metric)
    checks = []
    for valset, name, estimate in _places(rule, candidate, scenario_sets, metric):
        where = f"{metric} on {name!r} of {valset}"
        short = _too_little(suite, estimate, where)
        if short or estimate is None:
            checks.append(
                Check(
                    rule=rule.describe(),
                    verdict=Verdict.INCONCLUSIVE,
                    why=short or where,
                    valset=valset,
                    slice=name,
                    metric=metric,
                )
            )
            continue
        low_side = rule.at_least is not None
        bound = rule.at_least if low_side else rule.at_most
        assert bound is not None
        past = estimate.value < bound if low_side else estimate.value > bound
        certain = estimate.high < bound if low_side else estimate.low > bound
        interval = f"[{estimate.low:.4g}, {estimate.high:.4g}]"
        text = f"{where} is {estimate.value:.4g} {interval}; bound {bound:g}"
        if not past:
            checks.append(
                Check(
                    rule=rule.describe(),
                    verdict=Verdict.PASS,
                    why=text,
                    valset=valset,
                    slice=name,
                    metric=metric,
                )
            )
        elif certain:
            checks.append(
                Check(
                    rule=rule.describe(),
                    verdict=Verdict.FAIL,
                    why="past the bound: " + text,
                    valset=valset,
                    slice=name,
                    metric=metric,
                )
            )
        else:
            checks.append(
                Check(
                    rule=rule.describe(),
                    verdict=Verdict.INCONCLUSIVE,
                    why="past the bound within noise: " + text,
                    valset=valset,
                    slice=name,
                    metric=metric,
                )
            )
    return checks


def _must_pass(candidate: Evaluation, scenario_sets: set[str]) -> list[Check]:
    checks = []
    for valset in candidate.valsets:
        if _name(valset) not in scenario_sets:
            continue
        estimate = candidate.estimate(valset, ALL, "passed")
        if estimate is None or estimate.rows == 0 or not estimate.defined:
            checks.append(
                Check(
                    rule="must-pass sets at 100%",
                    verdict=Verdict.INCONCLUSIVE,
                    why=f"{valset} has no rows to pass",
                    valset=valset,
                    slice=ALL,
                    metric="passed",
                )
            )
            continue
        failed = round((1 - estimate.value) * estimate.rows)
        verdict = Verdict.PASS if failed == 0 else Verdict.FAIL
        text = f"{valset}: {estimate.rows - failed:,} of {estimate.rows:,} rows passed"
        checks.append(
            Check(
                rule="must-pass sets at 100%",
                verdict=verdict,
                why=text,
                valset=valset,
                slice=ALL,
                metric="passed",
            )
        )
    if not checks:
        checks.append(
            Check(
                rule="must-pass sets at 100%",
                verdict=Verdict.INCONCLUSIVE,
                why="the suite lists no scenario sets",
            )
        )
    return checks


def _name(ref: str) -> str:
    """The dataset name of ``NAME`` or ``NAME@VERSION``."""
    return ref.split("@")[0]
