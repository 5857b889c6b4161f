"""The HTML report of an evaluation or a comparison: the gate's verdict and why, marked
regressions, intervals, charts, findings, slice definitions, escaping, no network."""

from __future__ import annotations

import dataclasses
import html
import re
from datetime import UTC, datetime

from evaluation_helpers import classifier, classifier_without_usage, customers, log_models, suite

import prodml
from prodml.client import Client
from prodml.domain.evaluation import (
    ALL,
    Check,
    Comparison,
    Difference,
    Estimate,
    Evaluation,
    EvaluationFinding,
    GateResult,
    Score,
    Verdict,
)
from prodml.evaluate.report import render_html

HOSTILE = "<script>alert(1)</script>"
NAN = float("nan")
VALSET = "holdout@3"
AUTO = "auto: distance in [0, 10)"
SLICES = {"long-haul": "distance > 1500", AUTO: '"distance" >= 0 AND "distance" < 10'}
FIGURES = {  # slice: (auc baseline, auc candidate, auc change interval)
    ALL: (0.900, 0.850, (-0.07, -0.03)),
    "long-haul": (0.800, 0.840, (0.02, 0.06)),
    AUTO: (0.700, 0.690, (-0.03, 0.01)),
}


def _estimate(value: float, half: float = 0.011, rows: int = 1200) -> Estimate:
    return Estimate(value, value - half, value + half, rows)


def _evaluation(
    model: str = "churn@4",
    scores: tuple[Score, ...] | None = None,
    slices: dict[str, str] | None = None,
    findings: tuple[EvaluationFinding, ...] = (),
) -> Evaluation:
    if scores is None:
        scores = (Score(VALSET, ALL, "auc", _estimate(0.842)),)
    return Evaluation(
        id="e1",
        model=model,
        model_id="m1",
        suite_version=2,
        valsets=(VALSET,),
        slices=SLICES if slices is None else slices,
        scores=scores,
        findings=findings,
        created_at=datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
        author="tester",
        higher_is_better={"auc": True, "log_loss": False},
        resamples=1000,
        confidence=0.95,
    )


def _gate(verdict: Verdict = Verdict.FAIL) -> GateResult:
    checks = (
        Check(
            rule="auc regresses no more than 0.01", verdict=Verdict.PASS, why="fine on long-haul"
        ),
        Check(
            rule="auc regresses no more than 0.01",
            verdict=Verdict.INCONCLUSIVE,
            why=f"only 12 rows in {AUTO}",
        ),
        Check(
            rule="auc regresses no more than 0.01",
            verdict=Verdict.FAIL,
            why="regressed: auc on 'all'",
            valset=VALSET,
        ),
        Check(rule="accuracy >= 0.6", verdict=Verdict.PASS, why="accuracy on 'all' is 0.71"),
    )
    allowed = {
        Verdict.FAIL: set(Verdict),
        Verdict.INCONCLUSIVE: {Verdict.INCONCLUSIVE, Verdict.PASS},
        Verdict.PASS: {Verdict.PASS},
    }[verdict]
    kept = tuple(c for c in checks if c.verdict in allowed)
    return GateResult(verdict, kept, "churn@3", ("the suite changed since the baseline",))


def _comparison(gate: GateResult | None = None) -> Comparison:
    differences = []
    for name, (before, after, (low, high)) in FIGURES.items():
        change = Estimate(after - before, low, high, 1200)
        differences.append(
            Difference(
                valset=VALSET,
                slice=name,
                metric="auc",
                baseline=_estimate(before),
                candidate=_estimate(after),
                diff=change,
                higher_is_better=True,
            )
        )
    loss = Estimate(0.02, 0.01, 0.03, 1200)
    differences.append(
        Difference(
            valset=VALSET,
            slice=ALL,
            metric="log_loss",
            baseline=_estimate(0.4),
            candidate=_estimate(0.42),
            diff=loss,
            higher_is_better=False,
        )
    )

    def scores(side: int) -> tuple[Score, ...]:
        return tuple(
            Score(d.valset, d.slice, d.metric, (d.baseline, d.candidate)[side]) for d in differences
        )

    return Comparison(
        _evaluation("churn@3", scores(0)),
        _evaluation("churn@4", scores(1)),
        tuple(differences),
        _gate() if gate is None else gate,
    )


def _cell(page: str, tone: str, change: str) -> bool:
    """Whether a table cell of ``tone`` shows ``change`` as its headline number."""
    return (
        re.search(rf'<td class="num {tone}"[^>]*><strong>{re.escape(change)}</strong>', page)
        is not None
    )


def test_failing_gate_banner_lists_failures_then_inconclusive_then_a_count() -> None:
    page = render_html(_comparison())
    banner = page.split('<section class="banner hard">')[1].split("</section>")[0]

    assert "Gate failed" in banner
    failed = banner.index(html.escape("regressed: auc on 'all'"))
    unsure = banner.index(f"only 12 rows in {AUTO}")
    assert failed < unsure < banner.index("2 checks passed")
    assert "Failed (1)" in banner and "Inconclusive (1)" in banner
    assert "fine on long-haul" not in banner  # passing checks are counted, not listed
    assert "the suite changed since the baseline" in banner


def test_inconclusive_and_passing_gates_have_their_own_banner() -> None:
    unsure = render_html(_comparison(_gate(Verdict.INCONCLUSIVE)))
    passed = render_html(_comparison(_gate(Verdict.PASS)))

    assert '<section class="banner soft">' in unsure and "Gate inconclusive" in unsure
    assert "an inconclusive gate is not a pass" in unsure
    assert '<section class="banner ok">' in passed and "Gate passed" in passed
    assert "Failed (" not in passed and "Inconclusive (" not in passed


def test_many_failing_checks_are_capped_in_the_banner() -> None:
    checks = tuple(
        Check(
            rule="auc regresses no more than 0.01",
            verdict=Verdict.FAIL,
            why=f"regressed on slice s{i}",
        )
        for i in range(13)
    )
    page = render_html(_comparison(GateResult(Verdict.FAIL, checks)))

    assert "regressed on slice s9" in page and "regressed on slice s10" not in page
    assert "and 3 more" in page


def test_certain_regressions_are_red_certain_improvements_green_noise_neutral() -> None:
    page = render_html(_comparison())

    assert _cell(page, "worse", "-0.050")  # auc on all: the whole interval below zero
    assert _cell(page, "better", "+0.040")  # auc on long-haul: the whole interval above
    assert _cell(page, "same", "-0.010")  # auc on the automatic slice: within the noise
    assert _cell(page, "worse", "+0.020")  # log_loss went up, and lower is better
    assert "[-0.070, -0.030]" in page  # the change's interval
    assert "0.900 → 0.850" in page  # baseline and candidate side by side


def test_comparison_charts_show_changes_around_zero_in_the_tones_of_the_table() -> None:
    page = render_html(_comparison())

    assert page.count("<svg") == 2  # auc and log_loss on the one validation set
    assert "auc: change per slice, candidate minus baseline" in page
    assert 'fill="#c92a2a"' in page and 'fill="#2b8a3e"' in page
    assert "← worse" in page and "better →" in page  # auc: higher is better
    assert "← better" in page and "worse →" in page  # log_loss: lower is better


def test_evaluation_shows_values_with_intervals_header_and_a_chart() -> None:
    scores = (
        Score(VALSET, ALL, "auc", _estimate(0.842)),
        Score(VALSET, "long-haul", "auc", _estimate(0.8, rows=310)),
        Score(VALSET, "long-haul", "log_loss", _estimate(0.5, rows=300)),
    )
    page = render_html(_evaluation(scores=scores))

    assert "<title>Evaluation of churn@4</title>" in page
    assert "0.842 [0.831, 0.853]" in page
    assert "version 2" in page and VALSET in page and "tester" in page
    assert "2024-05-01 12:30 UTC" in page
    assert "95% bootstrap intervals from 1,000 resamples" in page
    assert "310" in page and "300 rows" in page  # the slice's rows, and a metric's fewer
    assert "higher is better" in page and "lower is better" in page
    assert page.count("<svg") == 2 and "stroke-dasharray" in page  # all-rows reference
    assert "Gate" not in page


def test_charts_are_capped_at_four_metrics_per_validation_set() -> None:
    metrics = ["auc", "accuracy", "recall", "precision", "log_loss", "brier"]
    scores = tuple(Score(VALSET, ALL, m, _estimate(0.5)) for m in metrics)
    page = render_html(_evaluation(scores=scores))

    assert page.count("<svg") == 4
    assert "The other 2 metrics are in the table." in page
    assert all(f"<th>{m}" in page for m in metrics)


def test_nan_prints_as_n_a() -> None:
    empty = EvaluationFinding(
        kind="empty_slice",
        message="Slice 'long-haul' matches no rows.",
        valset=VALSET,
        slice="long-haul",
    )
    undefined = EvaluationFinding(
        kind="nan_metric",
        message="Metric 'cost' is undefined.",
        valset=VALSET,
        slice=None,
        metric="cost",
    )
    scores = (
        Score(VALSET, ALL, "auc", _estimate(0.842)),
        Score(VALSET, "long-haul", "auc", Estimate(NAN, NAN, NAN, 0)),
        Score(VALSET, ALL, "cost", Estimate(3.5, NAN, NAN, 1200)),
    )
    page = render_html(_evaluation(scores=scores, findings=(empty, undefined)))

    assert "n/a" in page
    assert re.search(r"\bnan\b", page, re.IGNORECASE) is None
    assert ">3.500<" in page  # a value without an interval prints alone
    assert "Slice &#x27;long-haul&#x27; matches no rows." in page
    assert "undefined metric" in page


def test_findings_of_both_sides_say_whose_they_are() -> None:
    shared = EvaluationFinding(
        kind="empty_slice", message="Slice 'ghost' matches no rows.", valset=VALSET, slice="ghost"
    )
    own = EvaluationFinding(
        kind="model_error", message="Model churn@4 raised on 3 rows.", valset=VALSET
    )
    comparison = _comparison()
    assert comparison.baseline is not None
    baseline = _evaluation("churn@3", comparison.baseline.scores, findings=(shared,))
    candidate = _evaluation("churn@4", comparison.candidate.scores, findings=(shared, own))
    page = render_html(Comparison(baseline, candidate, comparison.differences, comparison.gate))
    findings = page.split("<h2>Findings</h2>")[1].split("<h2>")[0]

    assert "<td>both</td>" in findings and "<td>candidate</td>" in findings
    assert findings.count("matches no rows") == 1
    assert "Model churn@4 raised on 3 rows." in findings and 'badge hard">model error' in findings


def test_slices_are_listed_with_their_sql_all_first_automatic_last() -> None:
    page = render_html(_comparison())
    listing = page.split("<h2>Slices</h2>")[1]

    assert html.escape(SLICES["long-haul"]) in listing
    assert html.escape(SLICES[AUTO]) in listing
    assert listing.index(f"<code>{ALL}</code>") < listing.index("long-haul") < listing.index(AUTO)
    table = page.split("<h2>Validation set")[1]
    assert table.index(f"<code>{ALL}</code>") < table.index("long-haul") < table.index(AUTO)


def test_user_strings_are_escaped() -> None:
    scores = (Score(HOSTILE, HOSTILE, HOSTILE, _estimate(0.5)),)
    finding = EvaluationFinding(
        kind=HOSTILE, message=HOSTILE, valset=HOSTILE, slice=HOSTILE, metric=HOSTILE
    )
    evaluation = _evaluation(HOSTILE, scores, {HOSTILE: HOSTILE}, (finding,))
    evaluation = dataclasses.replace(evaluation, valsets=(HOSTILE,), author=HOSTILE)
    gate = GateResult(
        Verdict.FAIL, (Check(rule=HOSTILE, verdict=Verdict.FAIL, why=HOSTILE),), None, (HOSTILE,)
    )
    page = render_html(Comparison(None, evaluation, (), gate), title=HOSTILE)

    assert "<script" not in page
    assert page.count(html.escape(HOSTILE)) >= 10


def test_page_is_self_contained() -> None:
    page = render_html(_comparison())

    assert "<svg" in page and "<style>" in page
    assert re.search(r"https?://", page) is None
    assert "<link" not in page and "<script" not in page and "src=" not in page


def test_a_real_comparison_of_a_worse_candidate(sqlite_client: Client) -> None:
    prodml.log_dataset("holdout", customers(), client=sqlite_client)
    log_models(sqlite_client, "churn", [classifier(), classifier_without_usage()])
    north = {"name": "north", "where": "region = 'north'"}
    gate = {"rules": [{"metric": "auc", "max_regression": 0.01}]}
    prodml.register_suite("churn", suite(slices=[north], gate=gate), client=sqlite_client)

    page = render_html(prodml.compare_models("churn", "1", "2", client=sqlite_client))

    banner = page.split('<section class="banner hard">')[1].split("</section>")[0]
    assert "Gate failed" in banner and "&#x27;north&#x27;" in banner
    assert "<title>churn@2 against churn@1</title>" in page
    assert '<td class="num worse"' in page
    assert html.escape("region = 'north'") in page
    assert "holdout@1" in page and "<svg" in page
