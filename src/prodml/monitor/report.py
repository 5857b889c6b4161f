"""The on-call report, written at the end of a shift: ``prodml incidents report``.

For each incident: what it is about, who opened it, how it ended and how long it
took; its alerts (what fired, the top signals, the versions served, the changes
before it, the query that shows sample rows); its timeline; the responses taken.
Then the period's alerts outside those incidents, with what people decided about
them, and the counts of alerts acked, ignored and undecided. Markdown, or a
standalone HTML page in which every text value is escaped."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prodml.client import Client
from prodml.domain.lineage import Event
from prodml.domain.monitoring import Alert, AlertState, Incident, at
from prodml.errors import InvalidInputError
from prodml.monitor import incidents as incidents_of

FORMATS = ("markdown", "md", "html")
TOP_SIGNALS = 5
HIGHLIGHTED = ("model.alias_", "rollout.", "dataset.logged")  # changes worth showing
STYLE = (
    "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}h2{border-bottom:"
    "1px solid #ccc}table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.2rem .5rem;"
    "text-align:left;vertical-align:top}pre{background:#f4f4f4;padding:.5rem;overflow-x:auto}"
)


@dataclass(frozen=True)
class Block:
    """A heading, paragraph or code (``text``); fields, a list or a table (``rows``)."""

    kind: str
    text: str = ""
    rows: tuple[tuple[str, ...], ...] = ()


def write(client: Client, incident_ids: list[str], since: datetime | None, format: str) -> str:
    """The report of the given incidents and of everything since ``since`` (both may be
    given: the incidents named are added to those of the period)."""
    if format not in FORMATS:
        raise InvalidInputError(f"Report formats are {', '.join(FORMATS)}; not {format!r}.")
    if not incident_ids and since is None:
        raise InvalidInputError("Give incident IDs to report on, or --since (the shift's start).")
    chosen = _incidents(client, incident_ids, since)
    period = _alerts(client, chosen, since)
    known = {a.id: a for a in period}  # each alert read once, by the period's query
    title = "On-call report" + (f" since {_time(since)}" if since else "")
    blocks = [Block("h1", title), Block("p", f"Written {_time(at(time.time()))}.")]
    if not chosen:
        blocks.append(Block("p", "No incident in the period."))
    for incident in chosen:
        blocks += _incident(client, incident, [known[a] for a in incident.alert_ids if a in known])
    blocks += _others([a for a in period if a.incident_id not in {i.id for i in chosen}])
    blocks += _summary(chosen, period)
    return _html(title, blocks) if format == "html" else _markdown(blocks)


def _incidents(client: Client, ids: list[str], since: datetime | None) -> list[Incident]:
    found = {i.id: i for i in (incidents_of.get(client, x) for x in ids)}
    if since is not None:
        found.update((i.id, i) for i in client.metadata.incidents(since=since.timestamp()))
    return sorted(found.values(), key=lambda i: i.opened_at)


def _alerts(client: Client, chosen: list[Incident], since: datetime | None) -> list[Alert]:
    found: dict[str, Alert] = {}
    if since is not None:
        found.update((a.id, a) for a in client.metadata.alerts(since=since.timestamp()))
    older = {a for i in chosen for a in i.alert_ids} - found.keys()  # before the period
    if older:
        found.update((a.id, a) for a in client.metadata.alerts(ids=sorted(older)))
    return sorted(found.values(), key=lambda a: (a.window_start, a.created_at))


def _incident(client: Client, incident: Incident, alerts: list[Alert]) -> list[Block]:
    end = incident.closed_at or at(time.time())
    closed = f"{_time(end)}: {incident.resolution}" if incident.closed_at else "not yet"
    fields = [
        ("Model", incident.model), ("State", incident.state),
        ("Opened", f"{_time(incident.opened_at)} by {incident.opened_by}"), ("Closed", closed),
        ("Duration", _duration((end - incident.opened_at).total_seconds())
         + ("" if incident.closed_at else " so far")),
    ]  # fmt: skip
    blocks = [Block("h2", f"Incident {incident.id[:8]}: {incident.title}"),
              Block("fields", rows=tuple(fields))]  # fmt: skip
    for alert in alerts:
        blocks += _alert(alert)
    events = incidents_of.events_of(client, incident)
    moments = incidents_of.timeline(client, incident, alerts, events)
    rows = [("Time", "What", "Text", "Actor")]
    rows += [(_time(m.at), m.what, m.text, m.actor) for m in moments]
    blocks += [Block("h3", "Timeline"), Block("table", rows=tuple(rows))]
    return [*blocks, Block("h3", "Responses"), _list(_responses(events), "none")]


def _alert(alert: Alert) -> list[Block]:
    context = alert.context
    windows = f"{alert.windows} window{'s' if alert.windows != 1 else ''}"
    fields = [
        ("Class", f"{alert.kind.value} (start with: {alert.action})"),
        ("Severity", alert.severity), ("State", _decision(alert)),
        ("Windows", f"{_time(alert.window_start)} to {_time(alert.window_end)} ({windows})"),
        ("Versions served", _versions(context.get("versions_served") or [])),
        ("Dataset versions", ", ".join(context.get("dataset_versions") or []) or "none"),
    ]  # fmt: skip
    changes = [_change(c) for c in context.get("changes") or []
               if str(c.get("action")).startswith(HIGHLIGHTED)]  # fmt: skip
    blocks = [
        Block("h3", f"Alert {alert.id[:8]}: {alert.title}"), Block("fields", rows=tuple(fields)),
        Block("p", "Top signals:"), _list([s.message for s in alert.signals[:TOP_SIGNALS]], "none"),
        Block("p", "Changes in the day before (versions, rollout steps, datasets):"),
        _list(changes, "none recorded"),
    ]  # fmt: skip
    query = (context.get("samples") or {}).get("query")
    if query:
        blocks += [Block("p", "Sample rows (prodml predictions query):"), Block("code", query)]
    return blocks


def _others(found: list[Alert]) -> list[Block]:
    if not found:
        return []
    header = ("Alert", "Model", "Class", "Severity", "Title", "Windows", "State", "Why")
    rows = [
        (a.id[:8], a.model, a.kind.value, a.severity, a.title,
         f"{_time(a.window_start)} to {_time(a.window_end)}",
         a.state.value + (f" (incident {a.incident_id[:8]})" if a.incident_id else ""), a.why or "")
        for a in found
    ]  # fmt: skip
    return [Block("h2", "Alerts outside these incidents"), Block("table", rows=(header, *rows))]


def _summary(chosen: list[Incident], period: list[Alert]) -> list[Block]:
    states = [a.state for a in period]
    open_now = sum(i.state == "open" for i in chosen)
    fields = [
        ("Incidents", f"{len(chosen)} ({open_now} open, {len(chosen) - open_now} closed)"),
        ("Alerts fired", str(len(period))), ("Acked", str(states.count(AlertState.ACKED))),
        ("Ignored", str(states.count(AlertState.IGNORED))),
        ("Undecided", str(states.count(AlertState.OPEN))),
    ]  # fmt: skip
    return [Block("h2", "Summary"), Block("fields", rows=tuple(fields))]


def _responses(events: list[Event]) -> list[str]:
    return [f"{_time(e.at)} {e.details.get('action')} by {e.actor}: {e.details.get('result', '')}"
            + (f" (why: {e.reason})" if e.reason else "")
            for e in events if e.action == "incident.response"]  # fmt: skip


def _decision(alert: Alert) -> str:
    decided = f"{alert.state.value} by {alert.decided_by}: {alert.why or ''}"
    return "open (undecided)" if alert.state is AlertState.OPEN else decided


def _versions(served: list[dict[str, Any]]) -> str:
    return ", ".join(f"v{v.get('version')} ({v.get('rows')} rows)" for v in served) or "unknown"


def _change(change: dict[str, Any]) -> str:
    action, details = str(change.get("action", "")), change.get("details") or {}
    if action.startswith("model.alias_"):
        what = (
            f"{details.get('name')}@{details.get('alias')}: "
            f"{_v(details.get('from'))} -> {_v(details.get('to'))}"
        )
    elif action == "dataset.logged":
        what = f"dataset {details.get('name')}@{details.get('version')}"
    else:
        what = f"{change.get('model') or ''} {action} {change.get('subject', '')}".strip()
    when = str(change.get("at", ""))[:19].replace("T", " ")
    return f"{when} {what}" + (f" ({change['reason']})" if change.get("reason") else "")


def _v(version: Any) -> str:
    return "none" if version is None else f"v{version}"


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(int(seconds), 0)}s"
    minutes = int(seconds // 60)
    days, hours = divmod(minutes // 60, 24)
    text = f"{days}d {hours}h " if days else f"{hours}h " if hours else ""
    return f"{text}{minutes % 60}m"


def _list(items: list[str], empty: str) -> Block:
    return Block("list", rows=tuple((item,) for item in items or [empty]))


def _markdown(blocks: list[Block]) -> str:
    return "\n\n".join(_markdown_block(b) for b in blocks) + "\n"


def _markdown_block(block: Block) -> str:
    if block.kind in ("h1", "h2", "h3"):
        return "#" * int(block.kind[1]) + " " + _line(block.text)
    if block.kind == "fields":
        return "\n".join(f"- **{name}:** {_line(value)}" for name, value in block.rows)
    if block.kind == "list":
        return "\n".join(f"- {_line(item)}" for (item,) in block.rows)
    if block.kind == "table":
        header, *rows = [[_line(v).replace("|", "\\|") for v in row] for row in block.rows]
        lines = [header, ["---"] * len(header), *rows]
        return "\n".join("| " + " | ".join(line) + " |" for line in lines)
    if block.kind == "code":
        return f"```sql\n{block.text}\n```"
    return _line(block.text)


def _line(text: str) -> str:
    return " ".join(text.split())


def _html(title: str, blocks: list[Block]) -> str:
    body = "\n".join(_html_block(b) for b in blocks)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _html_block(block: Block) -> str:
    e = html.escape
    if block.kind in ("h1", "h2", "h3"):
        return f"<{block.kind}>{e(block.text)}</{block.kind}>"
    if block.kind == "fields":
        items = "".join(f"<li><strong>{e(n)}:</strong> {e(v)}</li>" for n, v in block.rows)
        return f"<ul>{items}</ul>"
    if block.kind == "list":
        return "<ul>" + "".join(f"<li>{e(item)}</li>" for (item,) in block.rows) + "</ul>"
    if block.kind == "table":
        header, *rows = block.rows
        head = "".join(f"<th>{e(v)}</th>" for v in header)
        body = "".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in r) + "</tr>" for r in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if block.kind == "code":
        return f"<pre><code>{e(block.text)}</code></pre>"
    return f"<p>{e(block.text)}</p>"
