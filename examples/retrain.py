"""Retraining, as an incident's response runs it: the logistic model on the most recent
months of flights, logged with the incident that caused it (PRODML_INCIDENT)."""

from __future__ import annotations

import os

from evaluation_demo import FEATURES, MODEL, _flights
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import prodml


def main() -> None:
    flights = _flights()
    recent = flights[flights["month"].isin([6, 7])].sample(40_000, random_state=1)
    incident = os.environ.get("PRODML_INCIDENT", "none")
    with prodml.start_run(
        MODEL, config={"months": [6, 7], "incident": incident},
        hypothesis="Retrained on the latest two months, the model follows summer traffic.",
    ) as run:  # fmt: skip
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
        model.fit(recent[FEATURES], recent["late"])
        version = run.log_model(model, MODEL, example=recent[FEATURES].head(5))
    print(f"retrained: run {run.id[:12]} -> {version.ref}")


if __name__ == "__main__":
    main()
