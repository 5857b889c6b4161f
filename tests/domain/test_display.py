"""Records in a notebook: Jupyter shows ``_repr_html_``. A person reads the figures
that matter first; every value that came from outside is escaped; a huge record is
cut with a count instead of flooding the notebook."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pandas as pd

import prodml
from prodml.client import Client
from prodml.domain import display
from prodml.domain.evaluation import (
    Check,
    Comparison,
    Difference,
    Estimate,
    Evaluation,
    GateResult,
    Score,
    Verdict,
)
from prodml.domain.monitoring import Alert, AlertClass, AlertState, Incident, Signal
from prodml.domain.validation import Finding, FindingKind, ValidationResult

HOSTILE = "<script>alert('x')</script>"
AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _text(markup: str) -> str:
    """What a person sees: the markup without tags, entities read."""
    return html.unescape(re.sub(r"<style>.*?</style>|<[^>]+>", " ", markup))


def test_a_run_shows_its_hypothesis_metrics_config_and_params_escaped(client: Client) -> None:
    data = prodml.log_dataset("flights", pd.DataFrame({"a": [1, 2]}), client=client)
    with prodml.start_run(
        "delay", config={"model": {"depth": 6}}, hypothesis=HOSTILE, inputs=[data], client=client
    ) as run:
        run.log_params({"loss": HOSTILE, "trees": 100})
        run.log_metric("auc", 0.8125)
    stored = prodml.get_run(run.id, client=client)

    markup = stored._repr_html_()

    assert "<script>" not in markup
    seen = _text(markup)
    assert HOSTILE in seen  # escaped, so shown as text
    assert "auc" in seen and "0.8125" in seen
    assert "model.depth" in seen and "6" in seen  # the config as run search names it
    assert "trees" in seen and data.id[:12] in seen
    assert f"Run {run.id[:12]} (delay): finished" in seen


def test_two_runs_compared_show_every_metric_and_what_differs(client: Client) -> None:
    with prodml.start_run("delay", config={"depth": 6}, client=client) as left:
        left.log_metric("auc", 0.80)
    with prodml.start_run("delay", config={"depth": 8}, client=client) as right:
        right.log_metric("auc", 0.85)

    seen = _text(prodml.compare_runs(left.id, right.id, client=client)._repr_html_())

    assert "Metrics" in seen and "0.8" in seen and "0.85" in seen and "0.05" in seen
    assert "Config that differs" in seen and "depth" in seen
    assert "Params that differ" not in seen  # nothing differs there


def test_a_huge_table_is_cut_with_a_count_of_the_rest() -> None:
    rows = [(f"p{i}", i) for i in range(display.ROWS + 120)]

    seen = _text(display.table(("name", "value"), rows))

    assert "p0" in seen and f"p{display.ROWS - 1}" in seen
    assert f"p{display.ROWS}" not in seen
    assert "and 120 more" in seen
    long = _text(display.fields([("note", "x" * 10_000)]))
    assert "(10,000 characters)" in long and len(long) < 1_000


def test_a_validation_result_says_whether_it_blocks_and_lists_its_findings() -> None:
    finding = Finding(
        kind=FindingKind.HARD, column=HOSTILE, statistic="nulls", observed=12, expected=0,
        message="12 nulls in a column that never had one",
    )  # fmt: skip
    result = ValidationResult(
        findings=(finding,), history="flights-weekly@1..8", history_size=8, rows=500, tests=40,
        subject="flights-weekly@9",
    )  # fmt: skip

    markup = result._repr_html_()

    assert "<script>" not in markup
    seen = _text(markup)
    assert "Validation of flights-weekly@9" in seen
    assert "blocked: 1 finding(s) in 40 tests on 500 rows" in seen
    assert HOSTILE in seen and "12 nulls in a column" in seen
    clean = ValidationResult(findings=(), history="h", history_size=3, rows=10, tests=4)
    assert "Nothing out of bounds" in _text(clean._repr_html_())


def _evaluation(model: str, auc: float) -> Evaluation:
    return Evaluation(
        id=f"{model}-evaluation", model=model, model_id="m", suite_version=1,
        valsets=("holdout@1",), slices={"all": "TRUE"},
        scores=(Score("holdout@1", "all", "auc", Estimate(auc, auc - 0.02, auc + 0.02, 900)),),
        findings=(), created_at=AT, author="dana", resamples=1000,
    )  # fmt: skip


def test_an_evaluation_and_a_comparison_show_intervals_and_the_gate() -> None:
    baseline, candidate = _evaluation("m@1", 0.80), _evaluation("m@2", 0.76)
    difference = Difference(
        valset="holdout@1", slice="all", metric="auc", baseline=baseline.scores[0].estimate,
        candidate=candidate.scores[0].estimate, diff=Estimate(-0.04, -0.06, -0.02, 900),
        higher_is_better=True,
    )  # fmt: skip
    check = Check(rule="no_regression", verdict=Verdict.FAIL, why="auc dropped", metric="auc")
    comparison = Comparison(baseline, candidate, (difference,), GateResult(Verdict.FAIL, (check,)))

    seen = _text(baseline._repr_html_())
    assert "0.8 [0.78, 0.82]" in seen and "95%, 1,000 resamples" in seen
    compared = _text(comparison._repr_html_())
    assert "m@2 against m@1" in compared
    assert "gate: fail" in compared and "auc dropped" in compared
    assert "regression" in compared and "-0.04 [-0.06, -0.02]" in compared


def test_an_alert_and_an_incident_show_what_fired_and_the_sample_query() -> None:
    signal = Signal(
        monitor="inputs", subject="distance", statistic="psi", kind=AlertClass.DRIFT,
        observed=0.41, expected=0.02, message="distance moved: PSI 0.41",
    )  # fmt: skip
    alert = Alert(
        id="a" * 32, model="late-arrivals", kind=AlertClass.DRIFT, severity="page",
        title=HOSTILE, signals=(signal,), window_start=AT, window_end=AT, windows=2,
        state=AlertState.OPEN, created_at=AT,
        context={"samples": {"query": "SELECT * FROM predictions WHERE distance > 1500"}},
    )  # fmt: skip
    incident = Incident(
        id="i" * 32, model="late-arrivals", title="drift", state="open", opened_at=AT,
        opened_by="dana", alert_ids=(alert.id,),
    )  # fmt: skip

    markup = alert._repr_html_()

    assert "<script>" not in markup
    seen = _text(markup)
    assert HOSTILE in seen and "distance moved: PSI 0.41" in seen
    assert "SELECT * FROM predictions WHERE distance > 1500" in seen
    assert "2026-12-01 09:30:00 UTC" in seen
    opened = _text(incident._repr_html_())
    assert "Incident iiiiiiiiiiii: drift" in opened and "by dana" in opened
