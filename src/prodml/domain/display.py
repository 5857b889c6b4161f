"""Records as HTML in a notebook (Jupyter calls ``_repr_html_``): a title, the fields a
person reads first, and tables; every value escaped, long lists cut with a count of the
rest, so a run with ten thousand params or an alert with a large context stays a page.

The records' own ``_repr_html_`` methods call these, passing themselves (typed ``Any``
here: the records import this module, so it cannot import theirs); nothing here reads
the store."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

ROWS = 50  # rows shown of a table before "and N more"
TEXT = 300  # characters shown of one value
STYLE = (
    "<style>.prodml{font-family:system-ui,sans-serif;font-size:13px}.prodml h4{margin:.2em 0}"
    ".prodml table{border-collapse:collapse;margin:.3em 0}.prodml th,.prodml td{border:1px solid"
    " #ddd;padding:2px 6px;text-align:left;vertical-align:top}.prodml .muted{color:#777}"
    ".prodml .bad{color:#b00020;font-weight:600}.prodml .good{color:#1b7f3b}</style>"
)


def text(value: Any) -> str:
    """A value as escaped text, cut at :data:`TEXT` characters."""
    if isinstance(value, datetime):
        shown = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    elif isinstance(value, float):
        shown = f"{value:.4g}" if math.isfinite(value) else str(value)
    elif value is None:
        shown = "-"
    else:
        shown = str(value)
    if len(shown) > TEXT:
        shown = f"{shown[:TEXT]}… ({len(shown):,} characters)"
    return html.escape(shown)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A table of at most :data:`ROWS` rows, then how many were left out."""
    listed = list(rows)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{text(cell)}</td>" for cell in row) + "</tr>"
        for row in listed[:ROWS]
    )
    more = len(listed) - ROWS
    tail = f'<p class="muted">and {more:,} more</p>' if more > 0 else ""
    return f"<table><tr>{head}</tr>{body}</table>{tail}"


def fields(pairs: Iterable[tuple[str, Any]]) -> str:
    """Name and value, one row each; empty values left out."""
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{text(value)}</td></tr>"
        for name, value in pairs
        if value not in (None, "", {}, ())
    )
    return f"<table>{rows}</table>"


def mapping(title: str, values: Mapping[str, Any]) -> str:
    if not values:
        return ""
    return f"<h4>{html.escape(title)}</h4>" + table(("name", "value"), sorted(values.items()))


def page(title: str, *parts: str) -> str:
    return f'{STYLE}<div class="prodml"><h4>{html.escape(title)}</h4>{"".join(parts)}</div>'


def estimate(value: Any) -> str:
    if value is None or not value.defined:
        return "-"
    if math.isfinite(value.low) and math.isfinite(value.high):
        return f"{value.value:.4g} [{value.low:.4g}, {value.high:.4g}]"
    return f"{value.value:.4g}"


def run(record: Any, config: Mapping[str, Any]) -> str:
    """``config``: the run's config as dotted keys, as run search names them."""
    duration = record.duration_s
    return page(
        f"Run {record.id[:12]} ({record.experiment}): {record.status.value}",
        fields(
            [
                ("hypothesis", record.hypothesis),
                ("author", record.author),
                ("started", record.started_at),
                ("duration", None if duration is None else f"{duration:.1f} s"),
                ("git commit", record.git_commit),
                ("error", record.error),
                ("inputs (dataset versions)", ", ".join(i[:12] for i in record.inputs)),
            ]
        ),
        mapping("Metrics (latest)", record.metrics),
        mapping("Config", config),
        mapping("Params", record.params),
        mapping("Tags", record.tags),
    )


def validation(result: Any) -> str:
    verdict = "blocked" if result.blocked else "alarm" if result.alarm else "no finding"
    css = "bad" if result.alarm else "good"
    rows = [
        (f.kind.value, f.column or "(table)", f.statistic, f.observed, f.expected, f.message)
        for f in result.findings
    ]
    found = (
        table(("kind", "column", "statistic", "observed", "expected", "message"), rows)
        if rows
        else '<p class="good">Nothing out of bounds.</p>'
    )
    return page(
        f"Validation of {result.subject or 'a batch'}",
        f'<p class="{css}">{verdict}: {len(result.findings)} finding(s) in {result.tests:,} '
        f"tests on {result.rows:,} rows, against {html.escape(result.history)} "
        f"({result.history_size} batches)</p>",
        found,
        "".join(f'<p class="muted">{text(note)}</p>' for note in result.notes),
    )


def evaluation(record: Any) -> str:
    rows = [
        (s.valset, s.slice, s.metric, estimate(s.estimate), s.estimate.rows) for s in record.scores
    ]
    findings = [(f.kind, f.valset, f.slice, f.metric, f.message) for f in record.findings]
    return page(
        f"Evaluation {record.id[:12]} of {record.model}",
        fields(
            [
                ("suite version", record.suite_version),
                ("validation sets", ", ".join(record.valsets)),
                ("by", record.author),
                ("at", record.created_at),
                ("intervals", f"{record.confidence:.0%}, {record.resamples:,} resamples"),
            ]
        ),
        table(("validation set", "slice", "metric", "value [interval]", "rows"), rows),
        table(("kind", "validation set", "slice", "metric", "finding"), findings)
        if findings
        else "",
    )


def comparison(record: Any) -> str:
    rows = [
        (
            d.valset,
            d.slice,
            d.metric,
            estimate(d.baseline),
            estimate(d.candidate),
            estimate(d.diff),
            "regression" if d.certain_regression else "",
        )
        for d in record.differences
    ]
    gate = record.gate
    verdict = (
        f'<p class="{"good" if gate.verdict.value == "pass" else "bad"}">gate: '
        f"{html.escape(gate.verdict.value)}</p>"
        + table(
            ("rule", "slice", "metric", "verdict", "why"),
            [(c.rule, c.slice, c.metric, c.verdict.value, c.why) for c in gate.checks],
        )
        if gate is not None
        else '<p class="muted">no gate in this suite</p>'
    )
    baseline = record.baseline.model if record.baseline is not None else "nothing"
    return page(
        f"{record.candidate.model} against {baseline}",
        verdict,
        table(
            ("validation set", "slice", "metric", "baseline", "candidate", "difference", ""), rows
        ),
    )


def alert(record: Any) -> str:
    rows = [
        (s.monitor, s.subject, s.statistic, s.observed, s.expected, s.message)
        for s in record.signals
    ]
    query = (record.context.get("samples") or {}).get("query")
    return page(
        f"Alert {record.id[:12]}: {record.title}",
        fields(
            [
                ("model", record.model),
                ("class", f"{record.kind.value} (start with: {record.action})"),
                ("severity", record.severity),
                ("state", record.state.value),
                (
                    "windows",
                    f"{text(record.window_start)} to {text(record.window_end)} ({record.windows})",
                ),
                (
                    "decided",
                    f"by {record.decided_by}: {record.why or ''}" if record.decided_by else None,
                ),
                ("incident", record.incident_id),
            ]
        ),
        table(("monitor", "subject", "statistic", "observed", "expected", "message"), rows),
        f"<h4>Sample rows</h4><pre>{text(query)}</pre>" if query else "",
    )


def incident(record: Any) -> str:
    return page(
        f"Incident {record.id[:12]}: {record.title}",
        fields(
            [
                ("model", record.model),
                ("state", record.state),
                ("opened", f"{text(record.opened_at)} by {record.opened_by}"),
                ("closed", record.closed_at),
                ("resolution", record.resolution),
                ("alerts", ", ".join(a[:12] for a in record.alert_ids)),
            ]
        ),
    )
