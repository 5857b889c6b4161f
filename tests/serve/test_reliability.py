"""End-to-end reliability of ``prodml serve`` on a real uvicorn subprocess: sustained
load with a shadow rollout, kill -9 and restart, a failing canary rolled back by the
controller, fuzzing of the OpenAPI document, and two worker processes following a
rollback.

``PRODML_RELIABILITY_LOAD_SECONDS`` sets the length of the sustained-load test
(default 30 s)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
import reliability_models as models

import prodml
from prodml.client import Client
from prodml.deploy import rollouts
from prodml.domain.artifact import ModelVersion

HERE = Path(__file__).resolve().parent
LOAD_SECONDS = float(os.environ.get("PRODML_RELIABILITY_LOAD_SECONDS", "30"))
FLUSH_INTERVAL = 1.0  # PRODML_LOG_FLUSH_INTERVAL given to every gateway
RECORDER_INTERVAL = 0.2  # the recorder's drain interval (serve/recorder.py)
STARTUP_TIMEOUT = 90.0  # a cold start imports sklearn, pandas, duckdb... on a slow box
CONCURRENCY = 64
SHADOW_PLAN = {"stages": [{"stage": "shadow", "min_duration": "1h", "min_requests": 1}]}
CANARY_PLAN = {
    "stages": [{"stage": "canary", "steps": [50], "min_duration": "1m", "min_requests": 50}],
    "criteria": {"max_error_rate": 0.01},
}
# Settings the developer's shell may hold that would point a gateway elsewhere.
FOREIGN = (
    "PRODML_METADATA_URL", "PRODML_ARTIFACT_URL", "PRODML_LOG_URL", "PRODML_AUTH",
    "PRODML_TOKEN", "PROMETHEUS_MULTIPROC_DIR",
)  # fmt: skip


# --- the store ---------------------------------------------------------------------------


@dataclass
class Store:
    home: Path
    client: Client
    versions: dict[str, ModelVersion]

    @property
    def log(self) -> Path:
        return Path(self.client.settings.log_url)

    def champion(self, key: str) -> None:
        version = self.versions[key]
        self.client.metadata.move_alias("m", "champion", version.version, version.id, "test")

    def rollout(self, key: str, plan: dict[str, Any]) -> str:
        started = rollouts.start(self.client, "m", str(self.versions[key].version), plan, "test")
        return started.id

    def state(self, rollout_id: str) -> str:
        return self.client.metadata.rollout(rollout_id).state

    def query(self, sql: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = prodml.query_predictions(sql, client=self.client).to_pylist()
        return rows

    def count(self, where: str = "true") -> int:
        return int(self.query(f"SELECT count(*) AS n FROM predictions WHERE {where}")[0]["n"])


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A store with model ``m``: ``champion`` and ``other`` are logistic regressions,
    ``failing`` raises on every call holding a row with x0 >= 0.8. Nothing is promoted."""
    monkeypatch.chdir(tmp_path)  # runs capture no code diff of the checkout
    for name in FOREIGN:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    client = Client(home=str(home), user="tester", flush_interval=0.05)
    frame, _ = models.training_frame()
    with prodml.start_run("reliability", client=client) as run:
        versions = {
            "champion": run.log_model(models.fitted(seed=7), "m", example=frame.head()),
            "other": run.log_model(models.fitted(seed=3, c=0.2), "m", example=frame.head()),
            "failing": run.log_model(
                models.FailsOnHighX0(models.fitted(seed=5)), "m", example=frame.head()
            ),
        }
    yield Store(home, client, versions)
    client.close()


# --- gateways on real uvicorn ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    env.update(
        PRODML_HOME=str(home),
        PRODML_USER="gateway",
        PRODML_LOG_FLUSH_INTERVAL=str(FLUSH_INTERVAL),
        PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        **extra,
    )
    return env


def cli(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prodml.cli.main", *args],
        env=_environment(home, **extra), cwd=home.parent, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


@dataclass
class Gateway:
    home: Path
    args: tuple[str, ...]
    extra: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    output: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def predict_url(self) -> str:
        return f"{self.url}/v1/models/m/predict"

    def start(self) -> Gateway:
        for attempt in range(3):  # another process may take the free port before us
            self.port = _free_port()
            self.output = self.home.parent / f"gateway-{self.port}-{attempt}.log"
            with self.output.open("wb") as sink:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "prodml.cli.main", "serve", "m",
                     "--port", str(self.port), *self.args],
                    env=_environment(self.home, **self.extra), cwd=self.home.parent,
                    stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            if self._ready():
                return self
            if "address already in use" not in self.log().lower():
                break
        pytest.fail(f"The gateway did not become ready:\n{self.log()}")

    def _ready(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                answer = httpx.get(f"{self.url}/v2/health/ready", timeout=2.0)
                if answer.status_code == 200 and answer.json()["ready"]:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.kill()
        return False

    def log(self) -> str:
        return self.output.read_text(errors="replace") if self.output else ""

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop gracefully (SIGTERM): uvicorn shuts the app down, so the log is flushed,
        then re-raises the signal it caught: a clean stop exits by SIGTERM (or 0)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"The gateway did not stop within {timeout} s:\n{self.log()}")
        return code in (0, -signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the gateway's whole process group (its workers too)."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)


@pytest.fixture
def gateway(store: Store) -> Iterator[Callable[..., Gateway]]:
    """Start gateways on the store; every one still running is killed afterwards."""
    started: list[Gateway] = []

    def make(*args: str, **extra: str) -> Gateway:
        made = Gateway(store.home, args, extra)
        started.append(made)
        return made.start()

    yield make
    for made in started:
        made.kill()


# --- load --------------------------------------------------------------------------------


@dataclass
class Reply:
    index: int
    sent: float  # time.time() when sent and when the answer (or error) came back
    received: float
    status: int | None  # None: no HTTP answer (connection refused or reset)
    variant: str | None = None
    version: int | None = None
    fallback: str | None = None
    problem: str | None = None

    @property
    def bad(self) -> bool:
        return models.fails(models.record(self.index))


async def load(
    url: str,
    concurrency: int,
    until: Callable[[], bool],
    first: int = 0,
    pause: float = 0.0,
    fresh: bool = False,
) -> list[Reply]:
    """POST records ``first``, ``first + 1``... from ``concurrency`` workers until
    ``until()`` is true; request ``i`` has the id ``r<i>``. ``fresh`` opens a new
    connection for every request (so each is accepted by any worker process)."""
    counter = itertools.count(first)
    replies: list[Reply] = []

    async def worker() -> None:
        # A client (one connection) per worker: httpx's shared pool serialises 64
        # concurrent requests to well under a tenth of what the gateway answers.
        async with httpx.AsyncClient(timeout=30.0) as session:
            while not until():
                index = next(counter)
                sent = time.time()
                try:
                    headers = {"x-request-id": f"r{index}"}
                    if fresh:
                        headers["connection"] = "close"
                    answer = await session.post(url, json=models.record(index), headers=headers)
                except httpx.HTTPError as error:
                    replies.append(Reply(index, sent, time.time(), None, problem=repr(error)))
                    continue
                reply = Reply(index, sent, time.time(), answer.status_code)
                body = answer.json()
                if answer.status_code == 200:
                    reply.variant, reply.version = body["variant"], body["version"]
                    reply.fallback = body["fallback"]
                else:
                    reply.problem = body.get("error")
                replies.append(reply)
                if pause:
                    await asyncio.sleep(pause)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return replies


def for_seconds(seconds: float) -> Callable[[], bool]:
    deadline = time.monotonic() + seconds
    return lambda: time.monotonic() >= deadline


def wilson_low(errors: int, calls: int, z: float = 1.959964) -> float:
    if calls == 0:
        return 0.0
    p = errors / calls
    centre = p + z * z / (2 * calls)
    spread = z * math.sqrt(p * (1 - p) / calls + z * z / (4 * calls * calls))
    return (centre - spread) / (1 + z * z / calls)


def figures(**values: float) -> None:
    """Printed, so a failure's captured output shows what the run measured."""
    print(
        ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
    )


def summary(replies: list[Reply]) -> str:
    statuses: dict[Any, int] = {}
    for reply in replies:
        statuses[reply.status] = statuses.get(reply.status, 0) + 1
    problems = {reply.problem for reply in replies if reply.problem}
    return f"statuses {statuses}; problems {sorted(problems)[:5]}"


# --- the tests ---------------------------------------------------------------------------


def test_sustained_load_with_a_shadow_answers_and_logs_every_request(
    store: Store, gateway: Callable[..., Gateway]
) -> None:
    store.champion("champion")
    rollout = store.rollout("other", SHADOW_PLAN)
    served = gateway()

    replies = asyncio.run(load(served.predict_url, CONCURRENCY, for_seconds(LOAD_SECONDS)))
    assert served.stop(), served.log()

    ok = [r for r in replies if r.status == 200]
    assert not [r for r in replies if r.status is None or r.status >= 500], summary(replies)
    assert len(ok) == len(replies), summary(replies)
    assert len(ok) >= 20 * LOAD_SECONDS, f"only {len(ok)} answers in {LOAD_SECONDS} s"
    assert {(r.variant, r.version, r.fallback) for r in ok} == {("champion", 1, None)}
    figures(answered=len(ok), per_second=len(ok) / LOAD_SECONDS)
    assert store.count() == len(ok)
    assert store.count("rollout_id IS NULL OR step IS NULL") == 0
    logged = store.query(
        "SELECT count(DISTINCT request_id) AS ids, count(*) FILTER (WHERE rollout_id = "
        f"'{rollout}') AS shadowed, count(*) FILTER (WHERE shadow_output IS NULL) AS missing, "
        "count(*) FILTER (WHERE shadow_error IS NOT NULL OR shadow_version IS DISTINCT FROM "
        f"{store.versions['other'].version}) AS wrong, "
        "count(*) FILTER (WHERE status <> 'ok') AS failed FROM predictions"
    )[0]
    assert logged == {"ids": len(ok), "shadowed": len(ok), "missing": 0, "wrong": 0, "failed": 0}
    assert store.state(rollout) == "running"


def test_kill_9_under_load_loses_at_most_the_unflushed_window(
    store: Store, gateway: Callable[..., Gateway]
) -> None:
    store.champion("champion")
    rollout = store.rollout("other", SHADOW_PLAN)
    served = gateway()
    assert served.process is not None
    pid = served.process.pid
    killed: list[float] = []

    async def kill_then_stop() -> list[Reply]:
        def until() -> bool:
            return bool(killed) and time.time() > killed[0] + 0.5

        async def killer() -> None:
            await asyncio.sleep(8.0)
            killed.append(time.time())
            os.kill(pid, signal.SIGKILL)

        replies, _ = await asyncio.gather(load(served.predict_url, CONCURRENCY, until), killer())
        return replies

    replies = asyncio.run(kill_then_stop())
    served.process.wait(30)
    killed_at = killed[0]
    ok = [r for r in replies if r.status == 200]
    assert not [r for r in replies if r.status is not None and r.status >= 500], summary(replies)

    # late shadow answers, when there are any, are joined back from segments of their own
    segments = [s for s in sorted(store.log.rglob("*.parquet")) if not s.name.startswith("shadow-")]
    assert segments
    rows = sum(pq.read_table(path).num_rows for path in segments)  # none is corrupt
    torn = segments[-1].parent / ".000000-1-torn.parquet.tmp"  # as a kill mid-write leaves
    torn.write_bytes(b"PAR1 half a segment")
    assert store.count() == rows  # queries skip .tmp leftovers, real or planted

    logged = {row["request_id"] for row in store.query("SELECT request_id FROM predictions")}
    answered = {f"r{r.index}": r for r in ok}
    assert logged <= set(answered), "rows logged for requests never answered"
    assert rows == len(logged), "a request was logged twice"
    lost = [answered[i] for i in set(answered) - logged]
    window = FLUSH_INTERVAL + RECORDER_INTERVAL + 0.5
    recent = [r for r in ok if r.received >= killed_at - 3.0]
    throughput = len(recent) / 3.0
    oldest = max((killed_at - r.received for r in lost), default=0.0)
    figures(answered=len(ok), lost=len(lost), per_second=throughput, oldest_lost_s=oldest)
    assert len(lost) <= throughput * window, (
        f"lost {len(lost)} of {len(ok)} answers at {throughput:.0f}/s; window {window} s"
    )
    assert all(r.received >= killed_at - window for r in lost), (
        f"an answer from {killed_at - min(r.received for r in lost):.2f} s before the kill "
        "was never logged"
    )

    listing = cli(store.home, "models", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    assert [m["name"] for m in json.loads(listing.stdout)] == ["m"]
    status = cli(store.home, "rollout", "status", "m", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)[0]["rollout"]["state"] == "running"

    again = gateway()
    answer = httpx.post(again.predict_url, json=models.record(1), timeout=30.0)
    assert answer.status_code == 200, answer.text
    assert answer.json()["variant"] == "champion"
    shown = httpx.get(f"{again.url}/v1/models", timeout=30.0).json()
    assert shown["m"]["rollout"]["id"] == rollout
    assert again.stop(), again.log()
    assert store.count() == rows + 1


def test_a_canary_failing_on_a_fifth_of_requests_is_answered_and_rolled_back(
    store: Store, gateway: Callable[..., Gateway]
) -> None:
    store.champion("champion")
    rollout = store.rollout("failing", CANARY_PLAN)
    tick = 1.0
    served = gateway("--tick", str(tick))
    rolled_back: list[float] = []
    started = polled = time.time()

    def until() -> bool:  # polls the store at most every 0.1 s
        nonlocal polled
        now = time.time()
        if not rolled_back and now >= polled + 0.1:
            polled = now
            if store.state(rollout) == "rolled_back":
                rolled_back.append(now)
        return (bool(rolled_back) and now > rolled_back[0] + 3.0) or now > started + 40.0

    replies = asyncio.run(load(served.predict_url, 8, until, pause=0.005))
    assert served.stop(), served.log()
    assert rolled_back, f"the canary was never rolled back; {summary(replies)}"
    back = rolled_back[0]

    assert all(r.status == 200 for r in replies), summary(replies)
    champion, candidate = store.versions["champion"].ref, store.versions["failing"].version
    before = [r for r in replies if r.received < back - 0.5]
    failed = [r for r in before if r.variant == "candidate" and r.bad]
    assert failed and all(r.fallback == champion and r.version == 1 for r in failed), failed[:3]
    good = [r for r in before if r.variant == "candidate" and not r.bad]
    assert good and all(r.fallback is None and r.version == candidate for r in good)
    assert all(r.fallback is None for r in before if r.variant == "champion")

    # every request is a candidate call (served or shadowed): when did the evidence suffice?
    calls = errors = 0
    enough = None
    for reply in sorted(replies, key=lambda r: r.received):
        calls, errors = calls + 1, errors + reply.bad
        if wilson_low(errors, calls) > 0.01:
            enough = reply.received
            break
    assert enough is not None
    allowed = tick + FLUSH_INTERVAL + RECORDER_INTERVAL + 2.5
    figures(answered=len(replies), before_rollback=len(before), delay_s=back - enough)
    assert back - enough <= allowed, (
        f"rolled back {back - enough:.2f} s after the evidence sufficed; allowed {allowed} s"
    )

    after = [r for r in replies if r.sent > back + 1.0]
    assert len(after) > 20
    assert {(r.variant, r.version, r.fallback) for r in after} == {("champion", 1, None)}
    since = f"ts > to_timestamp({back + 1.0})"
    assert store.count(f"{since} AND (rollout_id IS NOT NULL OR shadow_version IS NOT NULL)") == 0
    assert store.count() == len(replies)

    events = [
        e
        for e in store.client.metadata.list_events()
        if e.action == "rollout.rolled_back" and e.subject_id == rollout
    ]
    assert len(events) == 1
    assert "error rate" in (events[0].reason or ""), events[0].reason
    assert events[0].details["candidate_errors"] > 0


def _schemathesis(url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("schemathesis")
    if int(metadata.version("schemathesis").split(".")[0]) < 4:
        pytest.skip("these options are schemathesis 4's")
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
        "--checks", "not_a_server_error", "--max-examples", "30", "--seed", "20240601",
        "--generation-database", "none", "--workers", "1", "--no-color",
        "--request-timeout", "30",
    ]  # fmt: skip
    fuzzed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    if "Test cases:" not in fuzzed.stdout:  # not a finding: schemathesis itself failed
        raise RuntimeError(f"schemathesis did not run:\n{fuzzed.stdout}\n{fuzzed.stderr}")
    return fuzzed


def test_fuzzing_the_openapi_document_with_a_fallback_default_never_gets_a_5xx(
    store: Store, gateway: Callable[..., Gateway]
) -> None:
    store.champion("champion")
    served = gateway("--fallback-default", "0")
    fuzzed = _schemathesis(served.url, store.home.parent)
    assert fuzzed.returncode == 0, fuzzed.stdout[-4000:] + fuzzed.stderr[-2000:]


def test_fuzzing_the_openapi_document_never_gets_a_5xx(
    store: Store, gateway: Callable[..., Gateway]
) -> None:
    store.champion("champion")
    served = gateway()
    null = httpx.post(served.predict_url, json={**models.record(1), "x0": None}, timeout=30.0)
    assert null.status_code == 422, null.text  # x0 is not nullable in the signature
    assert null.json()["field"] == "x0"
    spec = httpx.get(f"{served.url}/openapi.json", timeout=30.0).json()
    record = spec["paths"]["/v1/models/m/predict"]["post"]["requestBody"]["content"]
    fields = record["application/json"]["schema"]["oneOf"][0]["properties"]
    assert {name: f.get("nullable") for name, f in fields.items()} == dict.fromkeys(
        models.FEATURES, False
    )
    fuzzed = _schemathesis(served.url, store.home.parent)
    assert fuzzed.returncode == 0, fuzzed.stdout[-4000:] + fuzzed.stderr[-2000:]


def test_two_workers_serve_and_follow_a_rollback_within_a_second(
    store: Store, gateway: Callable[..., Gateway], tmp_path: Path
) -> None:
    store.champion("champion")
    store.champion("other")  # champion v2, previous v1
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    served = gateway("--workers", "2", PROMETHEUS_MULTIPROC_DIR=str(metrics))

    rolled: list[float] = []

    def writers() -> dict[str, list[Path]]:
        """Segments by the id of the process that wrote them: <time>-<pid>-<random>."""
        found: dict[str, list[Path]] = {}
        for path in store.log.rglob("*.parquet"):
            found.setdefault(path.name.removeprefix("shadow-").split("-")[1], []).append(path)
        return found

    async def across_a_rollback() -> list[Reply]:
        def until() -> bool:
            return bool(rolled) and time.time() > rolled[0] + 2.5

        async def roll_back() -> None:
            deadline = time.monotonic() + 60.0
            while len(writers()) < 2 and time.monotonic() < deadline:  # both serve
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.5)
            done = await asyncio.to_thread(cli, store.home, "rollback", "m", "--why", "test")
            rolled.append(time.time())
            assert done.returncode == 0, done.stdout + done.stderr

        replies, _ = await asyncio.gather(
            load(served.predict_url, 16, until, fresh=True), roll_back()
        )
        return replies

    replies = asyncio.run(across_a_rollback())
    assert replies and all(r.status == 200 for r in replies), summary(replies)
    move = store.client.metadata.alias_moves("m")[-1]
    assert (move.version, move.previous, move.verdict) == (1, 2, "rollback")
    moved = move.at.timestamp()
    assert {r.version for r in replies if r.received < moved} == {2}
    late = [r for r in replies if r.sent >= moved + 1.0]
    assert late and {r.version for r in late} == {1}, sorted(
        (round(r.sent - moved, 2), r.version) for r in late if r.version != 1
    )[:10]
    scraped = httpx.get(f"{served.url}/metrics", timeout=30.0)
    assert scraped.status_code == 200
    answered = sum(
        float(line.rsplit(" ", 1)[1])
        for line in scraped.text.splitlines()
        if line.startswith("prodml_requests_total{") and 'status="200"' in line
    )
    assert answered == len(replies)  # the scrape sums both workers' counters
    # the process that started the workers holds the controller's lease, and is shown
    seen = store.client.metadata.hosts(within=60.0)
    assert sorted(h.role for h in seen if not h.stale) == ["gateway", "gateway", "supervisor"]
    (supervisor,) = [h for h in seen if h.role == "supervisor"]
    assert supervisor.leases == ("rollout-controller",), seen
    assert served.stop(), served.log()
    assert store.count() == len(replies)
    late_rows: dict[str, set[int]] = {}  # logged 1 s after the rollback, by process
    for pid, paths in writers().items():
        for path in paths:
            for row in pq.read_table(path, columns=["ts", "version"]).to_pylist():
                if row["ts"].timestamp() >= moved + 1.0:
                    late_rows.setdefault(pid, set()).add(row["version"])
    assert late_rows == {pid: {1} for pid in writers()}, late_rows
