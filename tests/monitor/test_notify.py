"""Alerts reach a webhook and a JSON-lines file without ever blocking monitoring:
failed posts are retried with backoff, refusals are reported, not raised."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from prodml.client import Client
from prodml.domain.monitoring import Alert, AlertClass, AlertState, Signal, at
from prodml.monitor import monitors
from prodml.monitor.notify import NOT_DELIVERED, Delivery, Notifier, text
from prodml.monitor.redaction import redacted, scrubbed
from prodml.settings import load

NOV_27_10H = 1795773600.0  # 2026-11-27 10:00 UTC
ALERT_ID = "1a2b3c4d5e6f7a8b"


def _alert(alert_id: str = ALERT_ID) -> Alert:
    late = Signal(
        monitor="operations", subject="arrival", statistic="lag_p95", kind=AlertClass.HARD,
        observed=900, expected=60, message="late", score=15.0,
    )  # fmt: skip
    start, end = at(NOV_27_10H), at(NOV_27_10H + 3 * 3600)
    return Alert(
        id=alert_id, model="late-arrivals", kind=AlertClass.HARD, severity="critical",
        title="rows arrive 15x later than usual", signals=(late,), window_start=start,
        window_end=end, windows=3, state=AlertState.OPEN, created_at=end,
    )  # fmt: skip


@dataclass
class Hook:
    """A local webhook: answers each POST with the next scripted reply, then 200."""

    url: str
    replies: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    posts: list[dict[str, Any]] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    answering: threading.Event = field(default_factory=threading.Event)  # clear: hold posts


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook(url="")
    state.answering.set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.posts.append(json.loads(body))
            state.content_types.append(self.headers["Content-Type"])
            state.answering.wait(5)
            status, headers = state.replies.pop(0) if state.replies else (200, {})
            answer = b"ok" if status < 400 else b"invalid_payload"
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_port}/hooks/alerts"
    yield state
    state.answering.set()
    server.shutdown()
    server.server_close()


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def test_webhook_retries_server_errors_then_posts_a_line_linking_the_alert(hook: Hook) -> None:
    hook.replies = [(500, {}), (503, {})]
    alert = _alert()
    notifier = Notifier(webhook=hook.url, link="https://dash.example/alerts/", backoff=0.01)
    notifier.notify(alert)
    assert notifier.close(timeout=5) == [Delivery(alert.id, "webhook", True, 3, None)]
    assert hook.content_types == ["application/json"] * 3
    line = hook.posts[-1]["text"]
    assert line.startswith("[CRITICAL] late-arrivals: rows arrive 15x later than usual")
    assert "(hard, 3 windows from 2026-11-27 10:00 UTC)" in line
    assert f"Action: {alert.action}." in line
    assert line.endswith(f"<https://dash.example/alerts/{alert.id}|alert 1a2b3c4d>")
    assert hook.posts[-1]["prodml_alert"] == alert.to_dict()


def test_a_refused_post_is_tried_once_and_reported_with_its_status(hook: Hook) -> None:
    hook.replies = [(400, {})]
    failed: list[tuple[str, str, str]] = []
    notifier = Notifier(webhook=hook.url, on_failure=lambda *f: failed.append(f), backoff=0.01)
    notifier.notify(_alert())
    [delivery] = notifier.close(timeout=5)
    assert (delivery.ok, delivery.attempts, len(hook.posts)) == (False, 1, 1)
    assert failed == [(ALERT_ID, "webhook", delivery.error)]
    assert "HTTP 400: invalid_payload" in str(delivery.error)


def test_an_unreachable_webhook_never_blocks_and_is_reported_after_the_retries() -> None:
    failed: list[tuple[str, str, str]] = []
    notifier = Notifier(
        webhook=_closed_port_url(), on_failure=lambda *f: failed.append(f), backoff=0.01
    )
    started = time.perf_counter()
    notifier.notify(_alert())
    assert time.perf_counter() - started < 0.1
    [delivery] = notifier.close(timeout=5)
    assert (delivery.ok, delivery.attempts) == (False, 4)
    assert delivery.error and "refused" in delivery.error.lower()
    assert failed == [(ALERT_ID, "webhook", delivery.error)]


def test_a_raising_failure_callback_is_swallowed() -> None:
    def broken(alert_id: str, sink: str, error: str) -> None:
        raise RuntimeError("the store is down too")

    notifier = Notifier(webhook=_closed_port_url(), on_failure=broken, attempts=1)
    notifier.notify(_alert())
    assert [d.ok for d in notifier.close(timeout=5)] == [False]


def test_retry_after_is_honoured_instead_of_the_backoff(hook: Hook) -> None:
    hook.replies = [(429, {"Retry-After": "0"})]
    notifier = Notifier(webhook=hook.url, backoff=30)  # the backoff would outlast close
    notifier.notify(_alert())
    assert notifier.close(timeout=3) == [Delivery(ALERT_ID, "webhook", True, 2, None)]


def test_a_slow_webhook_delays_neither_the_file_nor_close(hook: Hook, tmp_path: Path) -> None:
    hook.answering.clear()
    path = tmp_path / "alerts.jsonl"
    notifier = Notifier(webhook=hook.url, file=str(path))
    notifier.notify(_alert())
    deliveries = notifier.close(timeout=0.3)
    assert len(path.read_text().splitlines()) == 1
    by_sink = {d.sink: (d.ok, d.error) for d in deliveries}
    assert by_sink == {"file": (True, None), "webhook": (False, NOT_DELIVERED)}


def test_the_file_sink_appends_json_lines_creating_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "ops" / "alerts.jsonl"
    notifier = Notifier(file=str(path))
    for alert_id in ("first000", "second00"):
        notifier.notify(_alert(alert_id))
    assert all(d.ok for d in notifier.close(timeout=5))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["id"] for line in lines] == ["first000", "second00"]
    assert lines[0]["text"].endswith("See: prodml alerts show first000")


def test_the_dash_file_prints_one_line_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    notifier = Notifier(file="-")
    notifier.notify(_alert())
    notifier.close(timeout=5)
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["id"] == ALERT_ID


def test_a_file_sink_on_a_folder_reports_the_failure(tmp_path: Path) -> None:
    failed: list[tuple[str, str, str]] = []
    notifier = Notifier(file=str(tmp_path), on_failure=lambda *f: failed.append(f))
    notifier.notify(_alert())
    [delivery] = notifier.close(timeout=5)
    assert (delivery.sink, delivery.ok) == ("file", False)
    assert failed == [(ALERT_ID, "file", delivery.error)]


def test_without_sinks_notify_and_close_do_nothing() -> None:
    threads = threading.active_count()
    notifier = Notifier()
    notifier.notify(_alert())
    assert notifier.close() == []
    assert threading.active_count() == threads


def test_sinks_come_from_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    settings = load({"notify_file": str(path), "alert_link": "https://dash.example/alerts"})
    notifier = Notifier.from_settings(settings)
    notifier.notify(_alert())
    notifier.close(timeout=5)
    [line] = path.read_text().splitlines()
    link = f"<https://dash.example/alerts/{ALERT_ID}|alert 1a2b3c4d>"
    assert json.loads(line)["text"].endswith(link)


def test_the_line_escapes_slack_markup_and_counts_one_window() -> None:
    line = text(replace(_alert(), title="accuracy < 0.8 & falling", windows=1))
    assert "accuracy &lt; 0.8 &amp; falling (hard, 1 window from" in line


SECRET = "XoXb7Secret9Token"


@pytest.fixture
def echoing_server() -> Iterator[str]:
    """A webhook host that answers 500 and quotes the path it was posted to."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            answer = f"no hook at {self.path}".encode()
            self.send_response(500)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # this test server's own log is not prodml's output

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def failed_events(client: Client, webhook: str) -> list[str]:
    """Notify one alert through the monitors' notifier; the notify.failed events, as text."""
    notifier = monitors._notifier(client)  # the one the monitor runner uses
    notifier.notify(_alert())
    notifier.close(timeout=10)
    events = [e for e in client.metadata.list_events() if e.action == "notify.failed"]
    return [f"{e.reason} {json.dumps(e.details)}" for e in events]


@pytest.mark.parametrize(
    "webhook",
    [
        f"hooks.slack.com/services/T0AB/B0CD/{SECRET}",  # no scheme
        f"https://hooks.slack.com/services/T0AB/B0CD {SECRET}",  # a space pasted in
        f"https://hooks.slack.com:44x/services/{SECRET}",  # a port that is not a number
    ],
)
def test_a_malformed_webhook_url_is_reported_without_its_secret(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], webhook: str
) -> None:
    client = Client(home=str(tmp_path / "home"), notify_webhook=webhook)
    try:
        [event] = failed_events(client, webhook)
    finally:
        client.close()

    assert SECRET not in event and "T0AB" not in event
    assert "not a URL that can be posted to; fix the setting notify_webhook" in event
    assert SECRET not in capfd.readouterr().err


def test_a_failing_webhook_host_is_named_in_events_but_its_secret_path_is_not(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], echoing_server: str
) -> None:
    webhook = f"{echoing_server}/services/T0AB/{SECRET}?token={SECRET}x"
    client = Client(home=str(tmp_path / "home"), notify_webhook=webhook)
    try:
        [event] = failed_events(client, webhook)
    finally:
        client.close()

    assert SECRET not in event
    assert f"POST to {echoing_server}/*** failed: HTTP 500: no hook at ***" in event
    assert SECRET not in capfd.readouterr().err


@pytest.mark.parametrize(
    ("webhook", "shown"),
    [
        ("https://hooks.slack.com/services/T0/B0/abc", "https://hooks.slack.com/***"),
        ("https://bot:pa55word@chat.example:8443/hook?key=1", "https://chat.example:8443/***"),
        ("hooks.slack.com/services/T0/B0/abc", "***"),
        ("http://[::1]:9/x", "http://[::1]:9/***"),
    ],
)
def test_a_webhook_url_is_shown_as_its_scheme_and_host_only(webhook: str, shown: str) -> None:
    assert redacted(webhook) == shown
    assert scrubbed(f"posting to {webhook} failed", webhook) == f"posting to {shown} failed"
