"""One pass of a suite over its validation sets for one model, or for a baseline and a
candidate on the same rows and the same bootstrap draws (so differences are paired)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from prodml.domain.evaluation import ALL, Difference, Estimate, EvaluationFinding, Score
from prodml.errors import InvalidInputError
from prodml.evaluate import functions as user
from prodml.evaluate import metrics as built_ins
from prodml.evaluate.answers import Answer
from prodml.evaluate.answers import outcomes as outcomes_of
from prodml.evaluate.bootstrap import Resampler, interval
from prodml.evaluate.outcomes import Outcomes, Task
from prodml.evaluate.suite import FunctionMetric, Suite
from prodml.predict import slices as slicing
from prodml.predict.predictor import Predictor

TABLE_RESAMPLES = 200  # a function called once per resample gets at most this many
Key = tuple[str, str, str]  # valset, slice, metric


@dataclass(frozen=True)
class Valset:
    ref: str
    id: str
    table: pa.Table
    scenario: bool = False


@dataclass
class Scored:
    """Everything one model's evaluation found."""

    scores: list[Score] = field(default_factory=list)
    findings: list[EvaluationFinding] = field(default_factory=list)
    replicates: dict[Key, np.ndarray] = field(default_factory=dict)
    slices: dict[str, str] = field(default_factory=dict)
    higher_is_better: dict[str, bool] = field(default_factory=dict)


def run(
    suite: Suite, predictors: list[Predictor], valsets: list[Valset], answer: Answer | None = None
) -> list[Scored]:
    """Every predictor scored on every set; ``answer`` computes the models' raw answers
    (default: in this process; ``answers_in_parts`` runs them on an executor)."""
    results = [Scored() for _ in predictors]
    loaded = {m.name: user.load(m) for m in suite.functions}
    for valset in valsets:
        _check_label(suite, valset)
        _one_valset(suite, predictors, valset, results, loaded, answer)
    return results


def differences(suite: Suite, baseline: Scored, candidate: Scored) -> list[Difference]:
    """Candidate minus baseline wherever both have a score, with the paired interval."""
    found = []
    before = {(s.valset, s.slice, s.metric): s.estimate for s in baseline.scores}
    for score in candidate.scores:
        key = (score.valset, score.slice, score.metric)
        if key not in before:
            continue
        left, right = before[key], score.estimate
        reps = candidate.replicates[key]
        base = baseline.replicates[key]
        count = min(len(reps), len(base))
        low, high = interval(reps[:count] - base[:count], suite.confidence)
        diff = Estimate(right.value - left.value, low, high, min(left.rows, right.rows))
        higher = candidate.higher_is_better.get(score.metric, True)
        found.append(
            Difference(
                valset=score.valset,
                slice=score.slice,
                metric=score.metric,
                baseline=left,
                candidate=right,
                diff=diff,
                higher_is_better=higher,
            )
        )
    return found


def _check_label(suite: Suite, valset: Valset) -> None:
    if suite.label not in valset.table.column_names:
        raise InvalidInputError(
            f"Validation set {valset.ref} has no label column {suite.label!r} (suite field "
            f"'label'). Its columns: {', '.join(valset.table.column_names)}. Add the labels "
            "to the set (prodml valsets add) or fix the suite's label."
        )
    if valset.table.num_rows == 0:
        raise InvalidInputError(
            f"Validation set {valset.ref} has no rows. Add rows with prodml valsets add, or "
            "remove it from the suite."
        )


def _slices(suite: Suite, valset: Valset) -> dict[str, str]:
    found: dict[str, str] = {}
    if valset.scenario:
        return found
    for spec in suite.slices:
        if spec.by:
            found.update(slicing.by_value(valset.table, spec.by, spec.limit, valset.ref))
        else:
            found[spec.name] = spec.where
    return found


def _one_valset(
    suite: Suite,
    predictors: list[Predictor],
    valset: Valset,
    results: list[Scored],
    loaded: dict[str, Callable[..., Any]],
    answer: Answer | None = None,
) -> None:
    table = valset.table
    wheres = _slices(suite, valset)
    answers = []
    for predictor, result in zip(predictors, results, strict=True):
        outcome, findings = outcomes_of(
            suite.task, predictor, table, suite.label, suite.threshold, valset.ref, answer
        )
        answers.append(outcome)
        result.findings += findings
    if not valset.scenario and suite.auto_count:
        columns = _candidate_columns(suite, predictors[0], table)
        for outcome in answers:
            found = slicing.worst(
                table, outcome.loss(), columns, suite.auto_count, suite.auto_min_rows
            )
            wheres.update({k: v for k, v in found.items() if k not in wheres})
    masks = slicing.masks(table, wheres, valset.ref)
    index = {ALL: np.arange(table.num_rows), **{k: np.flatnonzero(m) for k, m in masks.items()}}
    for name, rows in index.items():
        if not len(rows):
            for result in results:
                result.findings.append(
                    EvaluationFinding(
                        kind="empty_slice",
                        message=(
                            f"Slice {name!r} ({wheres.get(name)}) matches no rows of "
                            f"{valset.ref}; its checks are inconclusive."
                        ),
                        valset=valset.ref,
                        slice=name,
                    )
                )
    resampler = Resampler.make(table.num_rows, suite.resamples, suite.confidence, suite.seed)
    for predictor, outcome, result in zip(predictors, answers, results, strict=True):
        result.slices.update(wheres)
        scorer = _Scorer(suite, valset, outcome, index, resampler, result)
        scorer.built_ins(predictor)
        if not valset.scenario:
            for metric in suite.functions:
                scorer.function(metric, loaded[metric.name], table)


def _candidate_columns(suite: Suite, predictor: Predictor, table: pa.Table) -> list[str]:
    from prodml.predict.signature import columns

    names = list(suite.features or columns(predictor.version.signature) or table.column_names)
    return [
        n for n in names if n in table.column_names and n != suite.label and not n.startswith("_")
    ]


class _Scorer:
    def __init__(
        self,
        suite: Suite,
        valset: Valset,
        outcome: Outcomes,
        index: dict[str, np.ndarray],
        resampler: Resampler,
        result: Scored,
    ) -> None:
        self.suite, self.valset, self.outcome = suite, valset, outcome
        self.index, self.resampler, self.result = index, resampler, result

    def add(self, slice_name: str, metric: str, point: float, reps: np.ndarray, rows: int) -> None:
        key = (self.valset.ref, slice_name, metric)
        if not len(self.index[slice_name]):
            point, reps = float("nan"), np.full(len(reps), np.nan)
        self.result.scores.append(Score(*key, self.resampler.estimate(point, reps, rows)))
        self.result.replicates[key] = reps

    def add_defined(
        self, slice_name: str, metric: str, point: float, reps: np.ndarray, rows: int
    ) -> None:
        """Add a built-in metric's score, unless the slice's labels leave it undefined by
        construction (AUC where every row is one class, recall with no positives, R2 of
        a constant): then the slice is left out for that metric, with a finding saying
        so. A value undefined because of what the model said stays, as NaN, and the gate
        finds it inconclusive."""
        if np.isfinite(point) or not rows or not self._labels_leave_undefined(metric, slice_name):
            self.add(slice_name, metric, point, reps, rows)
            return
        self.result.findings.append(
            EvaluationFinding(
                kind="metric_undefined",
                message=f"{metric} is undefined on slice {slice_name!r} of {self.valset.ref} "
                f"(its {rows:,} labels allow no value); that slice is not judged on {metric}.",
                valset=self.valset.ref,
                slice=slice_name,
                metric=metric,
            )
        )

    def _labels_leave_undefined(self, metric: str, slice_name: str) -> bool:
        o = self.outcome
        rows = self.index[slice_name]
        truth = o.truth[rows[o.answered[rows]]]
        if metric == "auc":
            return bool((truth == 1).all() or (truth != 1).all())
        if metric == "recall":
            return not (truth == 1).any()
        if metric == "r2":
            return bool(len(truth) < 2 or np.ptp(truth) == 0)
        return False

    def built_ins(self, predictor: Predictor) -> None:
        o = self.outcome
        if self.valset.scenario:
            chosen = [_passed(self.suite)]
        else:
            chosen = [built_ins.BUILT_IN[name] for name in self.suite.metrics]
            abstains = predictor.guardrails and any(r.abstain for r in predictor.guardrails.rules)
            if abstains and built_ins.COVERAGE not in chosen:
                chosen.append(built_ins.COVERAGE)
        for metric in chosen:
            reason = built_ins.applicable(metric, o)
            if reason:
                self.result.findings.append(
                    EvaluationFinding(
                        kind="metric_unavailable",
                        message=f"{reason} ({self.valset.ref}).",
                        valset=self.valset.ref,
                        slice=None,
                        metric=metric.name,
                    )
                )
                continue
            self.result.higher_is_better[metric.name] = metric.higher_is_better
            if metric is built_ins.AUC:
                self._auc()
                continue
            columns = metric.columns(o)
            for name, rows in self.index.items():
                totals = self.resampler.totals(columns, rows)
                point = float(metric.value(totals.sum(axis=0)))
                counted = (
                    len(rows)
                    if metric.name in ("coverage", "passed")
                    else int(o.answered[rows].sum())
                )
                reps = self.resampler.replicates(totals, metric.value)
                self.add_defined(name, metric.name, point, reps, counted)

    def _auc(self) -> None:
        o = self.outcome
        assert o.score is not None
        kept = {
            name: rows[o.answered[rows] & (o.truth[rows] >= 0)] for name, rows in self.index.items()
        }
        found = built_ins.slice_aucs(
            o.score, o.truth, kept, self.resampler.buckets, self.resampler.size
        )
        for name, (exact, totals) in found.items():
            rows = kept[name]
            binned = float(built_ins.auc_value(totals.sum(axis=0)))
            reps = self.resampler.replicates(totals, built_ins.auc_value) + (exact - binned)
            self.add_defined(name, "auc", exact, reps, len(rows))

    def function(
        self, metric: FunctionMetric, function: Callable[..., Any], table: pa.Table
    ) -> None:
        self.result.higher_is_better[metric.name] = metric.higher_is_better
        o = self.outcome
        answered = np.flatnonzero(o.answered)
        if metric.per_row:
            values = np.zeros(o.rows)
            values[answered] = user.per_row(
                metric, function, self._arguments(table, answered), len(answered)
            )
            nan = int(np.isnan(values).sum())
            if nan:
                self._nan_finding(metric, f"returned NaN for {nan:,} rows")
            columns = np.column_stack([values, o.answered.astype(np.float64)])
            for name, rows in self.index.items():
                totals = self.resampler.totals(columns, rows)
                point = float(built_ins.ratio(totals.sum(axis=0)))
                reps = self.resampler.replicates(totals, built_ins.ratio)
                self.add(name, metric.name, point, reps, int(o.answered[rows].sum()))
            return
        wants_weight = "sample_weight" in user.wanted(function)
        for name, rows in self.index.items():
            kept = rows[o.answered[rows]]
            arguments = self._arguments(table, kept)
            point = user.one_number(metric, function, arguments) if len(kept) else float("nan")
            if not np.isfinite(point) and len(kept):
                self._nan_finding(metric, f"returned {point:.6g} on slice {name!r}", name)
            drawn_reps: list[float] = []
            for resample in range(
                min(self.resampler.resamples, TABLE_RESAMPLES) if len(kept) else 0
            ):
                weights = self.resampler.row_weights(resample, kept)
                if wants_weight:
                    weighted = {**arguments, "sample_weight": weights}
                    drawn_reps.append(user.one_number(metric, function, weighted))
                else:
                    drawn = np.repeat(kept, weights.astype(np.int64))
                    resampled = self._arguments(table, drawn)
                    drawn_reps.append(user.one_number(metric, function, resampled))
            self.add(name, metric.name, point, np.asarray(drawn_reps), len(kept))

    def _nan_finding(
        self, metric: FunctionMetric, what: str, slice_name: str | None = None
    ) -> None:
        self.result.findings.append(
            EvaluationFinding(
                kind="nan_metric",
                message=f"Metric {metric.name!r} ({metric.function}) {what} on {self.valset.ref}; "
                "its value there is undefined and its checks inconclusive.",
                valset=self.valset.ref,
                slice=slice_name,
                metric=metric.name,
            )
        )

    def _arguments(self, table: pa.Table, rows: np.ndarray) -> dict[str, Any]:
        o = self.outcome
        classes = np.asarray(o.classes, dtype=object) if o.classes else None
        truth = table.column(self.suite.label).take(pa.array(rows)).to_numpy(zero_copy_only=False)
        predicted = classes[o.predicted[rows]] if classes is not None else o.predicted[rows]
        available: dict[str, Any] = {"y_true": truth, "y_pred": predicted}
        available["y_score"] = None if o.score is None else o.score[rows]
        available["rows"] = lambda: _frame(table.take(pa.array(rows)))
        return available


def _frame(table: pa.Table) -> Any:
    """A DataFrame when pandas is installed, else the Arrow table."""
    try:
        return table.to_pandas()
    except ImportError:
        return table


def _passed(suite: Suite) -> built_ins.Metric:
    def columns(o: Outcomes) -> np.ndarray:
        if o.task is Task.REGRESSION:
            hit = o.answered & (np.abs(o.predicted - o.truth) <= suite.scenario_tolerance)
        else:
            hit = o.answered & (o.predicted == o.truth)
        return np.column_stack([hit.astype(np.float64), np.ones(o.rows)])

    return built_ins.Metric("passed", True, columns, built_ins.ratio)
