"""Comparing a rollout's answers reads the prediction log of the rollout's own days,
so a finished rollout's page opens a few segments, not the model's whole history."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client


def test_a_finished_rollout_is_compared_on_the_log_of_its_own_days(client: Client) -> None:
    frame = pd.DataFrame({"a": [0.5, -0.5, 1.0, -1.0], "b": [1.0, 0.0, 1.0, 0.0]})
    with prodml.start_run("fit", client=client) as run:
        first, second = (
            run.log_model(LogisticRegression(C=c).fit(frame, [1, 0, 1, 0]), "m", frame.head(1))
            for c in (1.0, 2.0)
        )
    client.metadata.move_alias("m", "champion", first.version, first.id, "setup")
    started = prodml.start_rollout("m", second.version, why="fresher", client=client)
    prodml.rollout_action("abort", "m", why="not today", client=client)
    old_day = Path(client.settings.log_url) / "m" / "2020-01-01"
    old_day.mkdir(parents=True)
    (old_day / "unreadable.parquet").write_bytes(b"a segment of another time, unreadable")

    rollout, slices = prodml.compare_rollout(started.id, client=client)

    assert rollout.state == "aborted"
    assert [(s.slice, s.pairs) for s in slices] == [("all", 0)]
