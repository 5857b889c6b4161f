"""The HTML report of a validation: verdict, findings, charts, escaping, no network."""

from __future__ import annotations

import re

from prodml.data.report import render_html
from prodml.domain.validation import ColumnChart, Finding, FindingKind, ValidationResult

HOSTILE = "<script>alert(1)</script>"
AMPERSAND = "&\"'<>"


def _findings() -> tuple[Finding, ...]:
    return (
        Finding(
            kind=FindingKind.HARD,
            column=HOSTILE,
            statistic="type",
            observed="string",
            expected="int64",
            message="type changed to string",
        ),
        Finding(
            kind=FindingKind.SOFT,
            column="fare",
            statistic="max",
            observed=912.5,
            expected=[None, 500.0],
            message="fare above 500",
            score=1.8,
            z=4.2,
        ),
        Finding(
            kind=FindingKind.SOFT,
            column=None,
            statistic="rows",
            observed=12,
            expected=[1000, None],
            message="far fewer rows",
            score=83.0,
            z=-6.1,
        ),
        Finding(
            kind=FindingKind.DRIFT,
            column="city",
            statistic="psi",
            observed=0.41,
            expected=[0.0, 0.2],
            message="city mix changed",
            score=2.05,
        ),
    )


def _charts() -> tuple[ColumnChart, ...]:
    labels = tuple(f"{10 * i:.4g} to {10 * (i + 1):.4g}" for i in range(10))
    numeric = ColumnChart(
        column="fare",
        kind="numeric",
        labels=labels,
        reference=(0.1,) * 10,
        current=(0.05,) * 9 + (0.55,),
    )
    categories = ("Paris", "Lyon", AMPERSAND, "Marseille")
    categorical = ColumnChart(
        column="city",
        kind="categorical",
        labels=categories,
        reference=(0.5, 0.3, 0.2, 0.0),
        current=(0.2, 0.2, 0.2, 0.4),
    )
    calm = ColumnChart(
        column="distance",
        kind="numeric",
        labels=("0 to 5", "5 to 9"),
        reference=(0.5, 0.5),
        current=(0.6, 0.4),
    )
    return numeric, categorical, calm


def _result(
    findings: tuple[Finding, ...] = (), charts: tuple[ColumnChart, ...] = ()
) -> ValidationResult:
    return ValidationResult(
        findings=findings,
        history="trips@v1..v12",
        history_size=12,
        rows=10_432,
        tests=57,
        notes=("history is short: bounds are wide",),
        charts=charts,
        subject="trips@v13",
    )


def test_verdict_follows_the_worst_finding() -> None:
    blocked = render_html(_result(_findings()))
    soft_only = render_html(_result(_findings()[1:]))
    clean = render_html(_result())
    assert "Blocked" in blocked
    assert "Needs attention" in soft_only and "Blocked" not in soft_only
    assert "No problems found" in clean and "Needs attention" not in clean


def test_header_shows_title_history_rows_tests_and_notes() -> None:
    page = render_html(_result())
    assert "<title>Validation of trips@v13</title>" in page
    assert "trips@v1..v12" in page and "12 batches" in page
    assert "10,432 rows" in page and "57 tests" in page
    assert "history is short: bounds are wide" in page
    assert "<title>Custom</title>" in render_html(_result(), title="Custom")


def test_every_finding_appears_with_its_action() -> None:
    findings = _findings()
    page = render_html(_result(findings))
    for finding in findings[1:]:
        assert finding.message in page
        assert finding.action in page
    assert "fare" in page and "city" in page and "(table)" in page
    assert "4 findings: 1 hard, 2 soft and 1 drift" in page


def test_expected_bounds_and_z_are_readable() -> None:
    page = render_html(_result(_findings()))
    assert "≤ 500" in page
    assert "≥ 1000" in page
    assert "0 \u2013 0.2" in page
    assert "4.2" in page and "-6.1" in page


def test_columns_at_fault_are_listed_in_order() -> None:
    page = render_html(_result(_findings()))
    section = page.split("Columns most likely at fault", 1)[1].split("</ol>", 1)[0]
    assert section.index("&lt;script&gt;") < section.index("fare") < section.index("city")


def test_one_svg_per_chart_and_bars_are_proportional() -> None:
    charts = _charts()
    page = render_html(_result(_findings(), charts))
    assert page.count("<svg") == len(charts)
    assert page.count("⚠") == 2  # fare and city, not distance
    fare_svg = page.split("<svg", 2)[1]
    groups = re.findall(r"<g>.*?</g>", fare_svg)  # one group of two bars per label
    heights = [float(h) for group in groups for h in re.findall(r'height="([\d.]+)"', group)]
    assert len(heights) == 20
    assert heights[-1] == max(heights)
    assert abs(heights[-1] / heights[0] - 5.5) < 0.05


def test_hostile_names_are_escaped() -> None:
    page = render_html(_result(_findings(), _charts()), title=HOSTILE)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert AMPERSAND not in page
    assert "&amp;&quot;&#x27;&lt;&gt;" in page


def test_empty_result_renders_without_findings_or_charts() -> None:
    page = render_html(_result())
    assert "<svg" not in page and "<table" not in page
    assert "No findings across 57 tests" in page


def test_page_needs_no_network() -> None:
    page = render_html(_result(_findings(), _charts()))
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"\b(src|href)=", page)
    assert "@import" not in page and "url(" not in page
