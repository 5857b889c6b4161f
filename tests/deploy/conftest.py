"""Fixtures for registry and serving tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client
from prodml.domain.artifact import ModelVersion


@pytest.fixture(autouse=True)
def _outside_any_git_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs started by these tests capture no code diff of whatever checkout they run in."""
    monkeypatch.chdir(tmp_path)


@cache
def _data() -> tuple[pd.DataFrame, np.ndarray]:
    generator = np.random.default_rng(9)
    frame = pd.DataFrame({"a": generator.normal(size=60), "b": generator.normal(size=60)})
    return frame, (frame["a"] > 0).to_numpy().astype(int)


@pytest.fixture
def three_versions(client: Client) -> list[ModelVersion]:
    """Model ``m``: three fitted versions, v1 then v2 made champion, v3 unused."""
    frame, labels = _data()
    with prodml.start_run("fit", client=client) as run:
        versions = [
            run.log_model(LogisticRegression(C=c).fit(frame, labels), "m", frame.head())
            for c in (1.0, 2.0, 3.0)
        ]
    for version in versions[:2]:
        client.metadata.move_alias("m", "champion", version.version, version.id, "setup")
    return versions
