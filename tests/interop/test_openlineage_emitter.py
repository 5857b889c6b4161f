"""The OpenLineage emitter: events posted as they happen to a real HTTP server, the same
events the export writes; a server that is down or never answers neither blocks nor
fails a run, and what it loses is counted."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from openlineage.client.serde import Serde

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError
from prodml.interop.openlineage_emitter import OpenLineageEmitter


class _Model:
    def predict(self, rows: list[float]) -> list[float]:
        return rows


class Receiver(ThreadingHTTPServer):
    """A lineage server: keeps every event posted to it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [body for _, body in self.received]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.received.append((self.path, body))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _work(client: Client) -> None:
    """What a user does: two versions of a dataset, a validation, a run that reads the
    second and logs a model."""
    first = prodml.log_dataset("flights", pd.DataFrame({"fare": [1.0, None, 3.0]}), client=client)
    second = prodml.log_dataset("flights", pd.DataFrame({"fare": [1.0, 2.0, 90.0]}), client=client)
    prodml.validate(second, first, client=client)
    with prodml.start_run("delay", inputs=[second], client=client) as run:
        run.log_model(_Model(), "delay-model")
    client.writer.flush()


def _text(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True)


def _job(event: dict[str, Any]) -> str | None:
    job: str | None = event.get("job", {}).get("name")
    return job


def test_each_event_is_posted_as_it_happens_and_equals_the_export(
    client: Client, receiver: Receiver
) -> None:
    emitter = prodml.emit_openlineage(receiver.url, client=client)
    try:
        assert prodml.emit_openlineage(receiver.url, client=client) is emitter  # one a client
        before = len(receiver.events())
        _work(client)
        assert emitter.flush(10)
        posted = receiver.events()[before:]
        exported = [Serde.to_dict(e) for e in prodml.openlineage_events(client=client)]
        assert sorted(map(_text, posted)) == sorted(map(_text, exported))
        kinds = [e.get("eventType", "DATASET") for e in posted if _job(e) != "validate"]
        assert kinds == ["DATASET", "DATASET", "START", "RUNNING", "COMPLETE"]
        assert {path for path, _ in receiver.received} == {"/api/v1/lineage"}
        health = prodml.openlineage_health(client=client)
        assert health is not None
        assert health["sent"] == len(posted) == 7 and health["dropped"] == 0
    finally:
        emitter.close()
    assert prodml.openlineage_health(client=Client(home=str(client.home))) is None


def test_a_down_server_neither_blocks_nor_fails_a_run_and_its_losses_are_counted(
    sqlite_client: Client,
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    emitter = prodml.emit_openlineage(url, client=sqlite_client)
    try:
        started = time.perf_counter()
        _work(sqlite_client)
        took = time.perf_counter() - started
        assert emitter.flush(10)
        health = emitter.health()
        assert health["sent"] == 0 and health["dropped"] == 7 and health["failures"] == 7
        assert url in health["last_error"] and health["alive"]
        assert took < 10  # the work itself; nothing waited on the server
    finally:
        emitter.close()


def test_a_server_that_never_answers_holds_nothing_up_and_a_full_queue_drops(
    sqlite_client: Client,
) -> None:
    silent = socket.socket()  # accepts connections into its backlog, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    emitter = OpenLineageEmitter(sqlite_client, url, timeout=30.0, max_queued=2)
    try:
        started = time.perf_counter()
        _work(sqlite_client)
        assert time.perf_counter() - started < 10  # a POST may hang for 30 s
        health = emitter.health()
        assert health["sent"] == 0 and health["dropped"] >= 2  # the queue took two at most
        assert "full" in health["last_error"]
        started = time.perf_counter()
        emitter.close(timeout=0.2)
        assert time.perf_counter() - started < 2
        assert emitter.health()["dropped"] >= 4  # the queued ones, given up at close
    finally:
        silent.close()


def test_a_script_with_the_server_down_exits_cleanly_and_says_what_was_lost(
    tmp_path: Path,
) -> None:
    code = (
        "import pandas as pd, prodml\n"
        "prodml.emit_openlineage()\n"
        "data = prodml.log_dataset('flights', pd.DataFrame({'fare': [1.0, 2.0]}))\n"
        "with prodml.start_run('delay', inputs=[data]) as run:\n"
        "    run.log_metric('auc', 0.8)\n"
        "print('done')\n"
    )
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    env = {
        **kept,
        "PRODML_HOME": str(tmp_path / ".prodml"),
        "PRODML_OPENLINEAGE_URL": f"http://127.0.0.1:{_closed_port()}",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
    assert "OpenLineage event(s) not delivered" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_a_url_the_emitter_says_which_setting_to_set(sqlite_client: Client) -> None:
    with pytest.raises(prodml.ProdmlError, match="PRODML_OPENLINEAGE_URL"):
        prodml.emit_openlineage(client=sqlite_client)
    with pytest.raises(prodml.ProdmlError, match="not a URL"):
        prodml.emit_openlineage("not a url", client=sqlite_client)


def test_the_setting_alone_sends_from_the_first_run_or_dataset_on(
    tmp_path: Path, receiver: Receiver
) -> None:
    configured = Client(
        home=str(tmp_path / ".prodml"), user="tester", flush_interval=0.05,
        openlineage_url=receiver.url,
    )  # fmt: skip
    try:
        before = len(receiver.events())
        _work(configured)
        emitter = prodml.emit_openlineage(client=configured)  # the one the setting started
        assert emitter.flush(10)
        kinds = [e.get("eventType", "DATASET") for e in receiver.events()[before:]
                 if _job(e) != "validate"]  # fmt: skip
        assert kinds == ["DATASET", "DATASET", "START", "RUNNING", "COMPLETE"]
    finally:
        emitter.close()
        configured.close()


def test_a_setting_without_the_client_library_warns_once_and_runs_go_on(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    import prodml.sdk.openlineage as sdk

    def missing() -> None:
        raise InvalidInputError("openlineage-python is not installed")

    monkeypatch.setattr(sdk, "_require", missing)  # the library cannot be uninstalled here
    configured = Client(home=str(tmp_path / ".prodml"), user="tester", openlineage_url=receiver.url)
    try:
        warned = pytest.warns(UserWarning, match="openlineage_url is set, but no events are sent")
        with warned, prodml.start_run("delay", client=configured) as run:
            run.log_metric("auc", 0.8)
        assert prodml.get_run(run.id, client=configured).metrics["auc"] == 0.8
    finally:
        configured.close()
