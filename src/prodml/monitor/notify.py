"""Notification sinks for alerts: a webhook (Slack-style JSON) and a JSON-lines file.

:meth:`Notifier.notify` only queues the alert: each sink has its own queue and daemon
thread, so neither monitoring nor the other sink waits on a slow one. The webhook gets
``{"text": <one line>, "prodml_alert": <Alert.to_dict()>}`` (Slack shows ``text``).
Connection errors, timeouts, HTTP 5xx and 429 are retried with exponential backoff;
other refusals fail at once. Final failures go to ``on_failure(alert_id, sink, error)``.

A webhook URL is a secret (its path, query or user info is the key that lets anyone
post), so every message about one shows it through :mod:`prodml.monitor.redaction`."""

from __future__ import annotations

import contextlib
import json
import queue
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.message import Message
from http.client import HTTPException, InvalidURL
from pathlib import Path

from prodml.domain.monitoring import Alert
from prodml.monitor.redaction import redacted, scrubbed
from prodml.settings import Settings

OnFailure = Callable[[str, str, str], None]
NOT_DELIVERED = "not delivered before the deadline"
MAX_RETRY_AFTER = 30.0
SLACK_MARKUP = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})  # escaped in text


@dataclass(frozen=True)
class Delivery:
    alert_id: str
    sink: str  # "webhook" or "file"
    ok: bool
    attempts: int
    error: str | None


def text(alert: Alert, link: str = "") -> str:
    """One Slack-style line; ``link`` is the base URL of alert pages, if any."""
    plural = "" if alert.windows == 1 else "s"
    since = alert.window_start.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    summary = (
        f"[{alert.severity.upper()}] {alert.model}: {alert.title} ({alert.kind.value}, "
        f"{alert.windows} window{plural} from {since}). Action: {alert.action}."
    )
    where = f"See: prodml alerts show {alert.id}"
    if link:
        where = f"<{link.rstrip('/')}/{alert.id}|alert {alert.id[:8]}>"
    return f"{summary.translate(SLACK_MARKUP)} {where}"


class _Refused(Exception):
    def __init__(self, error: str, retry: bool, wait: float | None = None) -> None:
        super().__init__(error)
        self.retry, self.wait = retry, wait


class _Lane:
    """One sink's queue, served in order by its own daemon thread, started lazily."""

    def __init__(
        self, sink: str, deliver: Callable[[Alert], Delivery], shown: Callable[[str], str]
    ) -> None:
        self.sink, self._deliver, self._shown = sink, deliver, shown
        self._queue: queue.SimpleQueue[Alert] = queue.SimpleQueue()
        self._changed = threading.Condition()
        self._pending: list[str] = []
        self._outcomes: list[Delivery] = []
        self._thread = threading.Thread(
            target=self._serve, name=f"prodml-notify-{sink}", daemon=True
        )

    def put(self, alert: Alert) -> None:
        with self._changed:
            self._pending.append(alert.id)
            if not self._thread.is_alive():  # its loop never ends once started
                self._thread.start()
        self._queue.put(alert)

    def _serve(self) -> None:
        while True:
            alert = self._queue.get()
            try:
                outcome = self._deliver(alert)
            except Exception as error:  # a sink's bug must not stop the lane
                error_text = self._shown(_described(error))
                outcome = Delivery(alert.id, self.sink, False, 1, error_text)
            with self._changed:
                self._pending.remove(alert.id)
                self._outcomes.append(outcome)
                self._changed.notify_all()

    def drain(self, deadline: float) -> list[Delivery]:
        with self._changed:
            self._changed.wait_for(lambda: not self._pending, deadline - time.monotonic())
            late = [Delivery(i, self.sink, False, 0, NOT_DELIVERED) for i in self._pending]
            return [*self._outcomes, *late]


class Notifier:
    def __init__(
        self,
        webhook: str = "",
        file: str = "",
        link: str = "",
        on_failure: OnFailure | None = None,
        attempts: int = 4,
        backoff: float = 0.5,
        timeout: float = 5.0,
    ) -> None:
        self.webhook, self.file, self.link, self.on_failure = webhook, file, link, on_failure
        self.attempts, self.backoff, self.timeout = max(1, attempts), backoff, timeout
        self._lanes = [_Lane("file", self._write, self.shown)] if file else []
        self._lanes += [_Lane("webhook", self._post, self.shown)] if webhook else []

    @classmethod
    def from_settings(cls, settings: Settings, on_failure: OnFailure | None = None) -> Notifier:
        return cls(settings.notify_webhook, settings.notify_file, settings.alert_link, on_failure)

    def notify(self, alert: Alert) -> None:
        """Queue the alert for every configured sink; returns at once, never raises."""
        with contextlib.suppress(Exception):
            for lane in self._lanes:
                lane.put(alert)

    def close(self, timeout: float = 10.0) -> list[Delivery]:
        """Wait up to ``timeout`` seconds for the queues to drain; every outcome so far."""
        deadline = time.monotonic() + timeout
        return [outcome for lane in self._lanes for outcome in lane.drain(deadline)]

    def _write(self, alert: Alert) -> Delivery:
        line = json.dumps({**alert.to_dict(), "text": text(alert, self.link)}, default=str)
        try:
            if self.file == "-":
                print(line, flush=True)
            else:
                Path(self.file).parent.mkdir(parents=True, exist_ok=True)
                with Path(self.file).open("a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
        except (OSError, ValueError) as error:
            return self._failed(alert, "file", 1, _described(error))
        return Delivery(alert.id, "file", True, 1, None)

    def _post(self, alert: Alert) -> Delivery:
        body = {"text": text(alert, self.link), "prodml_alert": alert.to_dict()}
        payload = json.dumps(body, default=str).encode()
        attempt = 1
        while True:
            try:
                self._post_once(payload)
                return Delivery(alert.id, "webhook", True, attempt, None)
            except _Refused as refusal:
                if not refusal.retry or attempt == self.attempts:
                    error = f"POST to {redacted(self.webhook)} failed: {refusal}"
                    return self._failed(alert, "webhook", attempt, error)
                time.sleep(self._backoff(attempt) if refusal.wait is None else refusal.wait)
            attempt += 1

    def _post_once(self, payload: bytes) -> None:
        headers = {"Content-Type": "application/json"}
        try:
            request = urllib.request.Request(self.webhook, payload, headers, method="POST")
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as refusal:
            error = f"HTTP {refusal.code}: {_body_start(refusal)}"
            retry = refusal.code == 429 or refusal.code >= 500
            raise _Refused(error, retry, _retry_after(refusal.headers)) from None
        except (ValueError, InvalidURL):  # not a URL to post to; its text quotes the secret
            raise _Refused(
                "not a URL that can be posted to; fix the setting notify_webhook "
                "(PRODML_NOTIFY_WEBHOOK)",
                retry=False,
            ) from None
        except (OSError, HTTPException) as error:  # URLError, refused, timed out, cut off
            raise _Refused(_described(error), retry=True) from None

    def _backoff(self, attempt: int) -> float:
        return self.backoff * 2.0 ** (attempt - 1) * random.uniform(1.0, 1.1)

    def shown(self, message: str) -> str:
        """``message`` with the webhook URL, and any piece of its secret, masked."""
        return scrubbed(message, self.webhook) if self.webhook else message

    def _failed(self, alert: Alert, sink: str, attempts: int, error: str) -> Delivery:
        error = self.shown(error)
        if self.on_failure is not None:
            with contextlib.suppress(Exception):
                self.on_failure(alert.id, sink, error)
        return Delivery(alert.id, sink, False, attempts, error)


def _retry_after(headers: Message) -> float | None:
    with contextlib.suppress(TypeError, ValueError):
        seconds = float(headers.get("Retry-After", ""))
        return min(seconds, MAX_RETRY_AFTER) if seconds >= 0 else None
    return None


def _body_start(refusal: urllib.error.HTTPError) -> str:
    with contextlib.suppress(Exception):
        return refusal.read(200).decode(errors="replace")
    return ""


def _described(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
