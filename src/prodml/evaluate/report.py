"""A self-contained HTML page of a model evaluation or of a candidate against its
baseline, written for the people who decide whether a model ships: the gate's verdict
and why, every slice's numbers with their intervals, dot-and-whisker charts drawn as
inline SVG, findings and what each slice means. No scripts and no external assets."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from datetime import UTC

from prodml.data.report import CSS as BASE_CSS
from prodml.data.report import CURRENT_COLOUR
from prodml.domain.evaluation import (
    ALL,
    Check,
    Comparison,
    Difference,
    Estimate,
    Evaluation,
    EvaluationFinding,
    GateResult,
    Verdict,
)
from prodml.predict.slices import AUTO_PREFIX

TONES = {"worse": "#c92a2a", "better": "#2b8a3e", "same": "#495057", "plain": CURRENT_COLOUR}
UNJUDGED = (
    "No check failed, but some could not be decided (too few rows, or a change the data "
    "cannot yet tell from its tolerance); an inconclusive gate is not a pass."
)
VERDICTS = {  # verdict: (headline, css class of the data report, what it means)
    Verdict.PASS: ("Gate passed", "ok", "Every check passed."),
    Verdict.FAIL: ("Gate failed", "hard", "The candidate does not meet the suite's gate."),
    Verdict.INCONCLUSIVE: ("Gate inconclusive", "soft", UNJUDGED),
}
NO_FINDINGS = "None: every row answered, every slice had rows, every metric was defined."
FINDING_BADGES = {"model_error": "hard", "guardrail": "drift"}  # every other kind: soft
KIND_NAMES = {"nan_metric": "undefined metric"}  # every other kind: its words
WIDTH, LABEL_W, VALUE_W, RIGHT = 760, 230, 150, 10
ROW_H, TOP, BOTTOM = 22, 26, 30
LABEL_CHARS = 34
MAX_CHARTS = 4  # metrics charted per validation set
MAX_LISTED = 10  # checks listed per verdict in the banner
ZERO_LINE = 'stroke="#495057" stroke-width="1.5"'
REFERENCE_LINE = 'stroke="#868e96" stroke-dasharray="4 3"'
Point = tuple[str, Estimate, str]  # slice, value or change, tone

EXTRA_CSS = """
main{max-width:1100px}.scroll{overflow-x:auto;margin-bottom:16px}
.banner{border-left:6px solid;border-radius:6px;padding:8px 16px;margin:12px 0}
.banner.ok{background:#ebfbee;border-color:#2b8a3e}.banner.hard{background:#fff5f5;
border-color:#c92a2a}.banner.soft{background:#fff9db;border-color:#f08c00}
.banner ul{margin:4px 0 8px;padding-left:20px}.banner p{margin:4px 0}.badge.ok{background:#2b8a3e}
.facts{width:auto}.facts th{background:none;font-weight:600;padding-right:24px}
.sub{display:block;font-size:.8em;color:#6c757d;font-weight:400}
td.worse{background:#fff5f5}td.worse strong,td.worse .tag{color:#c92a2a}
td.better{background:#ebfbee}td.better strong,td.better .tag{color:#2b8a3e}
.tag{font-size:.75em;font-weight:700;text-transform:uppercase;margin-left:4px}
"""
CSS = BASE_CSS + EXTRA_CSS


def render_html(subject: Evaluation | Comparison, title: str | None = None) -> str:
    """The whole page: header (and the gate's verdict), a table and charts per
    validation set, the findings and the slice definitions."""
    view = subject if isinstance(subject, Comparison) else Comparison(None, subject, ())
    if title is None:
        base, model = view.baseline, view.candidate.model
        title = f"{model} against {base.model}" if base else f"Evaluation of {model}"
    body = [_header(view, title), *(_valset(view, v) for v in view.candidate.valsets)]
    body += [_findings(view), _definitions(view)]
    head = f'<meta charset="utf-8"><title>{_e(title)}</title><style>{CSS}</style>'
    page = f"<head>{head}</head><body><main>{''.join(body)}</main></body>"
    return f'<!DOCTYPE html>\n<html lang="en">{page}</html>\n'


def _change(view: Comparison, valset: str, name: str, metric: str) -> Difference | None:
    place = (valset, name, metric)
    return next((d for d in view.differences if (d.valset, d.slice, d.metric) == place), None)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _num(value: float, signed: bool = False, scale: float | None = None) -> str:
    """Three decimals for the usual 0-100 range, decided by ``scale`` (the largest number
    shown beside this one) when given; NaN and infinities as n/a."""
    if not math.isfinite(value):
        return "n/a"
    sign, size = "+" if signed else "", abs(value if scale is None else scale)
    if size >= 1000:
        return f"{value:{sign},.0f}"
    if size >= 100:
        return f"{value:{sign}.1f}"
    return f"{value:{sign}.3f}" if size >= 0.01 or size == 0 else f"{value:{sign}.2g}"


def _scale(estimate: Estimate) -> float:
    return max(abs(x) for x in (estimate.value, estimate.low, estimate.high, 0) if math.isfinite(x))


def _interval(e: Estimate, signed: bool = False) -> str:
    if e.defined and math.isfinite(e.low) and math.isfinite(e.high):
        return f"[{_num(e.low, signed, _scale(e))}, {_num(e.high, signed, _scale(e))}]"
    return ""


def _estimate(e: Estimate, signed: bool = False) -> str:
    return f"{_num(e.value, signed, _scale(e))} {_interval(e, signed)}".strip()


def _tone(difference: Difference) -> str:
    if difference.certain_regression:
        return "worse"
    d = difference.diff
    better = d.low > 0 if difference.higher_is_better else d.high < 0
    return "better" if d.defined and better else "same"


def _header(view: Comparison, title: str) -> str:
    main, base = view.candidate, view.baseline
    when = main.created_at.astimezone(UTC) if main.created_at.tzinfo else main.created_at
    models = (
        [("Candidate", main.model), ("Baseline", base.model)] if base else [("Model", main.model)]
    )
    facts = [(label, f"<code>{_e(model)}</code>") for label, model in models]
    sets = ", ".join(f"<code>{_e(v)}</code>" for v in main.valsets)
    facts += [("Suite", f"version {main.suite_version}"), ("Validation sets", sets or "none")]
    stamp = f"{when:%Y-%m-%d %H:%M}" + (" UTC" if when.tzinfo else "")
    facts.append(("Evaluated", f"{stamp} by {_e(main.author)}"))
    if main.guardrails is not None:
        facts.append(("Guardrails", f"version {main.guardrails}"))
    drawn = f"{main.confidence:.0%} bootstrap intervals from {main.resamples:,} resamples"
    facts.append(("Intervals", drawn if main.resamples else "none: no bootstrap resamples drawn"))
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    banner = "" if view.gate is None else _banner(view.gate)
    return f'<header><h1>{_e(title)}</h1>{banner}<table class="facts">{rows}</table></header>'


def _banner(gate: GateResult) -> str:
    headline, css, meaning = VERDICTS[gate.verdict]
    failing, unsure = gate.failing(), gate.inconclusive()
    passed = len(gate.checks) - len(failing) - len(unsure)
    parts = [f'<p class="verdict {css}">{headline}</p><p>{_e(meaning)}</p>']
    for label, checks in (("Failed", failing), ("Inconclusive", unsure)):
        if checks:
            parts.append(f"<p><strong>{label} ({len(checks)})</strong></p>{_checks(checks)}")
    parts.append(f"<p>{_count(passed, 'check', 'checks')} passed.</p>")
    notes = "".join(f"<li>{_e(note)}</li>" for note in gate.notes)
    parts.append(f'<div class="note"><ul>{notes}</ul></div>' if notes else "")
    return f'<section class="banner {css}">{"".join(parts)}</section>'


def _checks(checks: list[Check]) -> str:
    items = [f"<li><strong>{_e(c.rule)}</strong>: {_e(c.why)}</li>" for c in checks[:MAX_LISTED]]
    if len(checks) > MAX_LISTED:
        items.append(f"<li>and {len(checks) - MAX_LISTED:,} more (see the tables below)</li>")
    return f"<ul>{''.join(items)}</ul>"


def _ordered(names: list[str]) -> list[str]:
    """The "all" slice first, then the suite's slices, then the automatic ones."""
    unique = list(dict.fromkeys(names))
    user = [n for n in unique if n != ALL and not n.startswith(AUTO_PREFIX)]
    auto = [n for n in unique if n.startswith(AUTO_PREFIX)]
    return ([ALL] if ALL in unique else []) + user + auto


def _valset(view: Comparison, valset: str) -> str:
    evaluations = [e for e in (view.candidate, view.baseline) if e is not None]
    scores = [s for e in evaluations for s in e.scores if s.valset == valset]
    slices = _ordered([s.slice for s in scores])
    metrics = list(dict.fromkeys(s.metric for s in scores))
    title = f"<h2>Validation set <code>{_e(valset)}</code></h2>"
    if not metrics:
        return f'{title}<p class="muted">No scores on this set (see the findings).</p>'
    return title + _table(view, valset, slices, metrics) + _charts(view, valset, slices, metrics)


def _table(view: Comparison, valset: str, slices: list[str], metrics: list[str]) -> str:
    level = _level(view)
    interval = f" with its {level} interval" if level else ""
    if view.baseline is None:
        intro = f"Each cell: the value{interval}."
    else:
        intro = (
            f"Each cell: the change (candidate minus baseline){interval}, then "
            "baseline → candidate. Red: certainly worse; green: certainly better; uncoloured: "
            "any change is within the noise."
        )
    head = "<th>Slice</th><th>Rows</th>" + "".join(
        f"<th>{_e(m)}{_direction(view.candidate, m)}</th>" for m in metrics
    )
    body = "".join(_slice_row(view, valset, name, metrics) for name in slices)
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<p class="muted">{_e(intro)}</p><div class="scroll">{table}</div>'


def _level(view: Comparison) -> str:
    """The intervals' confidence ("95%"), or nothing where no resamples were drawn."""
    drawn = any(math.isfinite(s.estimate.low) for s in view.candidate.scores)
    return f"{view.candidate.confidence:.0%}" if drawn else ""


def _direction(evaluation: Evaluation, metric: str) -> str:
    higher = evaluation.higher_is_better.get(metric)
    text = "" if higher is None else ("higher is better" if higher else "lower is better")
    return f'<span class="sub">{text}</span>' if text else ""


def _slice_row(view: Comparison, valset: str, name: str, metrics: list[str]) -> str:
    found = [view.candidate.estimate(valset, name, m) for m in metrics]
    rows = max((e.rows for e in found if e is not None), default=0)
    label = f"<code>{_e(name)}</code>" + (
        '<span class="sub">every row</span>' if name == ALL else ""
    )
    cells = [f"<td>{label}</td>", f'<td class="num">{rows:,}</td>']
    for metric, estimate in zip(metrics, found, strict=True):
        difference = _change(view, valset, name, metric)
        if difference is not None:
            cells.append(_change_cell(difference, rows))
        elif estimate is None:
            cells.append('<td class="num muted">-</td>')
        else:
            cells.append(f'<td class="num">{_e(_estimate(estimate))}{_rows(estimate, rows)}</td>')
    return f"<tr>{''.join(cells)}</tr>"


def _rows(estimate: Estimate, rows: int) -> str:
    """The rows a value counts, where fewer than the slice's (unanswered, unlabelled)."""
    return f'<span class="sub">{estimate.rows:,} rows</span>' if estimate.rows != rows else ""


def _change_cell(d: Difference, rows: int) -> str:
    tone = _tone(d)
    tag = f' <span class="tag">{tone}</span>' if tone != "same" else ""
    both = f"{_num(d.baseline.value)} → {_num(d.candidate.value)}"
    tip = f"baseline {_estimate(d.baseline)}, candidate {_estimate(d.candidate)}"
    value = _num(d.diff.value, True, _scale(d.diff))
    change = f"<strong>{_e(value)}</strong> {_e(_interval(d.diff, True))}"
    lines = f'{change}<span class="sub">{_e(both)}{tag}</span>{_rows(d.diff, rows)}'
    return f'<td class="num {tone}" title="{_e(tip)}">{lines}</td>'


def _charts(view: Comparison, valset: str, slices: list[str], metrics: list[str]) -> str:
    figures = []
    for metric in metrics[:MAX_CHARTS]:
        if view.baseline is not None:
            found = [(n, _change(view, valset, n, metric)) for n in slices]
            points = [(n, d.diff, _tone(d)) for n, d in found if d is not None]
            higher = next((d.higher_is_better for _, d in found if d is not None), True)
            caption = f"{metric}: change per slice, candidate minus baseline"
            svg = _svg(points, caption, 0.0, higher)
        else:
            estimates = [(n, view.candidate.estimate(valset, n, metric)) for n in slices]
            points = [(n, e, "plain") for n, e in estimates if e is not None]
            overall = view.candidate.estimate(valset, ALL, metric)
            caption = f"{metric} per slice (dashed line: all rows)"
            svg = _svg(points, caption, math.nan if overall is None else overall.value)
        if points:
            direction = _direction(view.candidate, metric)
            figures.append(f"<figure><h3>{_e(caption)}{direction}</h3>{svg}</figure>")
    if not figures:
        return ""
    more = len(metrics) - MAX_CHARTS
    rest = (
        f" The other {_count(more, 'metric is', 'metrics are')} in the table." if more > 0 else ""
    )
    level = _level(view)
    whiskers = f"; whiskers their {level} intervals" if level else ""
    intro = f"Dots are values{whiskers}.{rest}"
    return f'<p class="muted">{_e(intro)}</p>{"".join(figures)}'


def _ticks(low: float, high: float) -> tuple[float, float, float]:
    """The axis's start, end and step: round numbers around ``low`` to ``high``."""
    if high - low <= 0:
        pad = abs(low) * 0.05 or 0.5
        low, high = low - pad, high + pad
    raw = (high - low) / 6
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))
    start = math.floor(low / step + 1e-9) * step
    end = max(math.ceil(high / step - 1e-9) * step, start + step)
    return start, end, step


def _svg(points: list[Point], caption: str, line: float, higher: bool | None = None) -> str:
    """Dot and whisker per slice, and a vertical line at ``line``: zero in a chart of
    changes (``higher`` says which side is better), else the value on all rows, dashed."""
    ends = [x for _, e, _ in points for x in (e.value, e.low, e.high, line) if math.isfinite(x)]
    if not ends:
        return '<p class="muted">No defined values to draw.</p>'
    start, end, step = _ticks(min(ends), max(ends))
    left, right, bottom = LABEL_W, WIDTH - VALUE_W - RIGHT, TOP + ROW_H * len(points)

    def x(value: float) -> float:
        return left + (value - start) / (end - start) * (right - left)

    parts = [
        f'<rect x="0" y="{TOP + ROW_H * i}" width="{WIDTH}" height="{ROW_H}" fill="#f8f9fa"/>'
        for i in range(0, len(points), 2)
    ]
    decimals = max(0, math.ceil(round(-math.log10(step), 9)))
    for k in range(round((end - start) / step) + 1):
        value = start + k * step
        value = 0.0 if abs(value) < step / 2 else value
        parts.append(
            f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{TOP}" y2="{bottom}" '
            f'stroke="#e9ecef"/><text x="{x(value):.1f}" y="{bottom + 16}" '
            f'text-anchor="middle" fill="#495057">{value:.{decimals}f}</text>'
        )
    if math.isfinite(line):
        at = f"{x(line):.1f}"
        look = REFERENCE_LINE if higher is None else ZERO_LINE
        parts.append(f'<line x1="{at}" x2="{at}" y1="{TOP - 4}" y2="{bottom}" {look}/>')
    if higher is not None:
        sides = ("worse", "better") if higher else ("better", "worse")
        parts.append(
            f'<text x="{left}" y="{TOP - 8}">← {sides[0]}</text>'
            f'<text x="{right}" y="{TOP - 8}" text-anchor="end">{sides[1]} →</text>'
        )
    for i, (name, estimate, tone) in enumerate(points):
        text = _estimate(estimate, signed=higher is not None)
        parts.append(_point(name, estimate, text, TONES[tone], TOP + ROW_H * (i + 0.5), x))
    height = bottom + BOTTOM
    return (
        f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="{_e(caption)}" font-size="11" font-family="system-ui,sans-serif">'
        f"{''.join(parts)}</svg>"
    )


def _point(
    name: str, estimate: Estimate, text: str, colour: str, y: float, x: Callable[[float], float]
) -> str:
    short = name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"
    marks = [f'<text x="{LABEL_W - 8}" y="{y + 4:.1f}" text-anchor="end">{_e(short)}</text>']
    if not estimate.defined:
        marks.append(f'<text x="{LABEL_W + 4}" y="{y + 4:.1f}" fill="#868e96">n/a</text>')
    else:
        if math.isfinite(estimate.low) and math.isfinite(estimate.high):
            a, b = x(estimate.low), x(estimate.high)
            marks.append(
                f'<path d="M{a:.1f} {y:.1f}H{b:.1f}M{a:.1f} {y - 4:.1f}V{y + 4:.1f}'
                f'M{b:.1f} {y - 4:.1f}V{y + 4:.1f}" stroke="{colour}" stroke-width="2"/>'
            )
        dot = x(estimate.value)
        marks.append(f'<circle cx="{dot:.1f}" cy="{y:.1f}" r="4.5" fill="{colour}"/>')
    value_x = WIDTH - VALUE_W - RIGHT + 10
    marks.append(f'<text x="{value_x}" y="{y + 4:.1f}" fill="#495057">{_e(text)}</text>')
    tip = f"{name}: {text}, {_count(estimate.rows, 'row', 'rows')}"
    return f"<g><title>{_e(tip)}</title>{''.join(marks)}</g>"


def _findings(view: Comparison) -> str:
    sides = [("candidate", view.candidate), ("baseline", view.baseline)]
    seen: dict[EvaluationFinding, list[str]] = {}
    for side, evaluation in [(s, e) for s, e in sides if e is not None]:
        for finding in evaluation.findings:
            seen.setdefault(finding, []).append(side)
    if not seen:
        return f"<h2>Findings</h2><p>{NO_FINDINGS}</p>"
    rows = []
    for finding, found_in in seen.items():
        kind = KIND_NAMES.get(finding.kind, finding.kind.replace("_", " "))
        badge = f'<span class="badge {FINDING_BADGES.get(finding.kind, "soft")}">{_e(kind)}</span>'
        model = ["both" if len(found_in) > 1 else found_in[0]] if view.baseline else []
        where = [finding.valset, finding.slice, finding.metric]
        place = " · ".join(f"<code>{_e(w)}</code>" for w in where if w is not None) or "-"
        rows.append([badge, *model, place, _e(finding.message)])
    heads = ["Kind", *(["Model"] if view.baseline else []), "Where", "Message"]
    return f"<h2>Findings</h2>{_grid(heads, rows)}"


def _definitions(view: Comparison) -> str:
    slices = {**(view.baseline.slices if view.baseline else {}), **view.candidate.slices}
    rows = [
        [f"<code>{_e(n)}</code>", "every row" if n == ALL else f"<code>{_e(slices[n])}</code>"]
        for n in _ordered([ALL, *slices])
    ]
    return f"<h2>Slices</h2>{_grid(['Slice', 'Rows where (SQL)'], rows)}"


def _grid(heads: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
