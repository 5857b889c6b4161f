"""A self-contained HTML page of a validation result, written for people rather than programs."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from prodml.domain.validation import ColumnChart, Finding, FindingKind, ValidationResult

REFERENCE_COLOUR = "#adb5bd"
CURRENT_COLOUR = "#5f3dc4"
WIDTH, LEFT, RIGHT, TOP = 640, 60, 12, 36
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, 164
BOTTOM_ROTATED, BOTTOM_FLAT = 104, 44
LABEL_CHARS = 14
CHAR_WIDTH = 6.2
STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25)

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:0;background:#f8f9fa;color:#212529;line-height:1.45}
main{max-width:960px;margin:0 auto;padding:24px}
h1{margin:0 0 4px;font-size:1.5em}h2{margin:28px 0 8px;font-size:1.2em}
h3{margin:0 0 6px;font-size:1em;font-family:ui-monospace,Menlo,Consolas,monospace}
.verdict{font-size:2.2em;font-weight:700;margin:8px 0}
.verdict.hard{color:#c92a2a}.verdict.soft{color:#e67700}.verdict.ok{color:#2b8a3e}
.muted{color:#6c757d}.note{background:#fff9db;border-left:4px solid #fab005;padding:8px 12px}
.note ul{margin:0;padding-left:18px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:.85em;
font-weight:600}
.badge.hard{background:#c92a2a}.badge.soft{background:#e67700}.badge.drift{background:#1971c2}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #dee2e6;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f5}td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
code{font-family:ui-monospace,Menlo,Consolas,monospace}
figure{background:#fff;border:1px solid #dee2e6;border-radius:6px;padding:12px;margin:0 0 16px}
figure svg{max-width:100%;height:auto}
.fault{color:#c92a2a;font-family:system-ui,sans-serif;font-size:.85em;margin-left:6px}
"""


def render_html(result: ValidationResult, title: str | None = None) -> str:
    """The whole page: verdict, summary, columns at fault, findings and charts."""
    if title is None:
        title = "Validation" if result.subject is None else f"Validation of {result.subject}"
    sections = [_header(result, title), _summary(result), _at_fault(result)]
    body = "".join([*sections, _findings(result), _charts(result)])
    head = f'<meta charset="utf-8"><title>{_e(title)}</title><style>{CSS}</style>'
    page = f"<head>{head}</head><body><main>{body}</main></body>"
    return f'<!DOCTYPE html>\n<html lang="en">{page}</html>\n'


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _verdict(result: ValidationResult) -> tuple[str, str]:
    if result.blocked:
        return "Blocked", "hard"
    if result.alarm:
        return "Needs attention", "soft"
    return "No problems found", "ok"


def _header(result: ValidationResult, title: str) -> str:
    verdict, css = _verdict(result)
    batches = _count(result.history_size, "batch", "batches")
    facts = (
        f"Judged against <strong>{_e(result.history)}</strong> ({batches}) · "
        f"{_count(result.rows, 'row', 'rows')} · {_count(result.tests, 'test', 'tests')}"
    )
    notes = "".join(f"<li>{_e(note)}</li>" for note in result.notes)
    box = f'<div class="note"><ul>{notes}</ul></div>' if notes else ""
    big = f'<p class="verdict {css}">{verdict}</p>'
    return f"<header><h1>{_e(title)}</h1>{big}<p>{facts}</p>{box}</header>"


def _summary(result: ValidationResult) -> str:
    if not result.findings:
        return f"<p>No findings across {_count(result.tests, 'test', 'tests')}.</p>"
    kinds = [(kind, result.of_kind(kind)) for kind in FindingKind]
    counts = [f"{len(found)} {kind.value}" for kind, found in kinds if found]
    listed = ", ".join(counts[:-1]) + " and " + counts[-1] if len(counts) > 1 else counts[0]
    actions = "".join(
        f"<li>{_badge(kind)} {_e(found[0].action)}</li>" for kind, found in kinds if found
    )
    total = _count(len(result.findings), "finding", "findings")
    return f"<h2>Summary</h2><p>{total}: {listed}. What to do:</p><ul>{actions}</ul>"


def _badge(kind: FindingKind) -> str:
    return f'<span class="badge {kind.value}">{kind.value}</span>'


def _at_fault(result: ValidationResult) -> str:
    columns = "".join(f"<li><code>{_e(c)}</code></li>" for c in result.columns_at_fault)
    return f"<h2>Columns most likely at fault</h2><ol>{columns}</ol>" if columns else ""


def _findings(result: ValidationResult) -> str:
    if not result.findings:
        return ""
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Kind", "Column", "Statistic", "Observed", "Expected", "How unusual", "Message")
    )
    rows = "".join(_row(f) for f in result.findings)
    return f"<h2>Findings</h2><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _row(finding: Finding) -> str:
    column = "<em>(table)</em>" if finding.column is None else f"<code>{_e(finding.column)}</code>"
    z = "-" if finding.z is None else f"{finding.z:.1f}"
    cells = [
        _badge(finding.kind),
        column,
        _e(finding.statistic),
        f'<span class="num">{_e(_value(finding.observed))}</span>',
        _e(_expected(finding.expected)),
        z,
        _e(finding.message),
    ]
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _expected(expected: Any) -> str:
    if isinstance(expected, list | tuple) and len(expected) == 2:
        low, high = expected
        if low is None and high is None:
            return "-"
        if low is None:
            return f"≤ {_value(high)}"
        if high is None:
            return f"≥ {_value(low)}"
        return f"{_value(low)} \u2013 {_value(high)}"  # en dash
    return "-" if expected is None else _value(expected)


def _charts(result: ValidationResult) -> str:
    if not result.charts:
        return ""
    fault = set(result.columns_at_fault)
    figures = "".join(_figure(chart, chart.column in fault) for chart in result.charts)
    intro = '<p class="muted">Share of rows in each range or category: history vs this batch.</p>'
    return f"<h2>Distributions</h2>{intro}{figures}"


def _figure(chart: ColumnChart, at_fault: bool) -> str:
    marker = '<span class="fault">⚠ likely at fault</span>' if at_fault else ""
    return f"<figure><h3>{_e(chart.column)}{marker}</h3>{_svg(chart)}</figure>"


def _share(shares: Sequence[float], i: int) -> float:
    value = float(shares[i]) if i < len(shares) else 0.0
    return value if math.isfinite(value) and value > 0 else 0.0


def _scale(highest: float) -> tuple[float, float]:
    """The top of the axis and the step between its ticks."""
    step = next((s for s in STEPS if highest <= 5 * s), STEPS[-1])
    return max(step, step * math.ceil(highest / step - 1e-9)), step


def _svg(chart: ColumnChart) -> str:
    n = len(chart.labels)
    pairs = [(_share(chart.reference, i), _share(chart.current, i)) for i in range(n)]
    top, step = _scale(max((max(p) for p in pairs), default=0.0))
    group = PLOT_W / max(n, 1)
    rotate = any(len(label) * CHAR_WIDTH > group - 4 for label in chart.labels)
    bars = "".join(
        _group(i, label, pair, top, group, rotate)
        for i, (label, pair) in enumerate(zip(chart.labels, pairs, strict=True))
    )
    height = TOP + PLOT_H + (BOTTOM_ROTATED if rotate else BOTTOM_FLAT)
    caption = "value range" if chart.kind == "numeric" else "category"
    label = f"Share of rows per {caption} of {chart.column}: reference vs current"
    return (
        f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="{_e(label)}" font-size="11" font-family="system-ui,sans-serif">'
        f"{_axes(top, step, caption, height)}{_legend()}{bars}</svg>"
    )


def _axes(top: float, step: float, caption: str, height: int) -> str:
    parts = []
    for k in range(round(top / step) + 1):
        y = TOP + PLOT_H * (1 - k * step / top)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{"#868e96" if k == 0 else "#e9ecef"}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{k * step * 100:.0f}%</text>'
        )
    middle = TOP + PLOT_H / 2
    parts.append(
        f'<text x="14" y="{middle:.1f}" transform="rotate(-90 14 {middle:.1f})" '
        f'text-anchor="middle" fill="#495057">share of rows</text>'
        f'<text x="{LEFT + PLOT_W / 2:.1f}" y="{height - 4}" text-anchor="middle" '
        f'fill="#495057">{caption}</text>'
    )
    return "".join(parts)


def _legend() -> str:
    items = [(REFERENCE_COLOUR, "reference (history)", 0), (CURRENT_COLOUR, "current batch", 150)]
    return "".join(
        f'<rect x="{LEFT + dx}" y="10" width="12" height="12" fill="{colour}"/>'
        f'<text x="{LEFT + dx + 17}" y="20">{text}</text>'
        for colour, text, dx in items
    )


def _group(
    i: int, label: str, pair: tuple[float, float], top: float, group: float, rotate: bool
) -> str:
    x0, width = LEFT + i * group, group * 0.38
    bars = []
    for j, (share, colour) in enumerate(zip(pair, (REFERENCE_COLOUR, CURRENT_COLOUR), strict=True)):
        height = PLOT_H * share / top
        x = x0 + group * 0.12 + j * width
        bars.append(
            f'<rect x="{x:.1f}" y="{TOP + PLOT_H - height:.1f}" width="{width:.1f}" '
            f'height="{height:.1f}" fill="{colour}"/>'
        )
    short = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
    cx, y = x0 + group / 2, TOP + PLOT_H + 14
    turn = f' transform="rotate(-40 {cx:.1f} {y})" text-anchor="end"' if rotate else ""
    anchor = "" if rotate else ' text-anchor="middle"'
    tip = f"{label}: reference {pair[0]:.1%}, current {pair[1]:.1%}"
    return (
        f"<g><title>{_e(tip)}</title>{''.join(bars)}"
        f'<text x="{cx:.1f}" y="{y}"{turn}{anchor}>{_e(short)}</text></g>'
    )
