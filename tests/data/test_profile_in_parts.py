"""A stored table version profiled in parts, in this process or as Ray tasks on a local
Ray of 2 CPUs: the merged profile says what one process's says (counts, nulls,
extremes and means exactly, quantiles within the sketch's error), and is kept as the
version's profile when it had none."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import datasketches
import numpy as np
import pandas as pd
import pytest

import prodml
from prodml.client import Client
from prodml.data.profile import profile_table
from prodml.data.sketches import KLL_K
from prodml.errors import InvalidInputError

ROWS = 60_000


def _flights() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    delay = rng.gamma(2.0, 15.0, ROWS)
    delay[rng.random(ROWS) < 0.05] = np.nan
    frame = pd.DataFrame(
        {
            "delay": delay,
            "distance": rng.integers(80, 4000, ROWS),
            "carrier": rng.choice(["AA", "DL", "UA", "WN", None], ROWS),
        }
    )
    frame.iloc[ROWS - 500 :] = frame.iloc[:500].to_numpy()  # duplicates across the parts
    return frame


def _same(made: dict[str, object], single: dict[str, object], frame: pd.DataFrame) -> None:
    assert made["rows"] == single["rows"]
    for mine, theirs in zip(made["columns"], single["columns"], strict=True):  # type: ignore[call-overload]
        assert mine["name"] == theirs["name"]
        for key in ("rows", "nulls", "nans", "min", "max"):
            assert mine[key] == theirs[key], (mine["name"], key)
        if theirs.get("mean") is not None:
            assert mine["mean"] == pytest.approx(theirs["mean"], rel=1e-9)
        if theirs.get("median") is not None and isinstance(theirs["median"], float):
            _in_the_middle(frame[mine["name"]], mine["median"])
        assert mine["distinct"] == pytest.approx(theirs["distinct"], rel=0.03)


def _in_the_middle(column: pd.Series, median: float) -> None:
    """``median`` ranks within twice the KLL sketch's 99% rank-error bound of the middle
    of the column's values: a quantile sketch promises ranks, not values."""
    values = np.sort(column.dropna().to_numpy(dtype=float))
    below = np.searchsorted(values, median, side="left") / len(values)
    at_or_below = np.searchsorted(values, median, side="right") / len(values)
    slack = 2 * datasketches.kll_doubles_sketch.get_normalized_rank_error(KLL_K, False)
    assert below - slack <= 0.5 <= at_or_below + slack, (column.name, median, below)


@pytest.fixture
def logged(sqlite_client: Client) -> tuple[Client, dict[str, object]]:
    prodml.log_dataset("flights", _flights(), client=sqlite_client)
    table = prodml.load_table("flights@1", client=sqlite_client)
    return sqlite_client, profile_table(table, "flights@1").to_summary()


def test_parts_in_this_process_merge_to_one_processs_profile(
    logged: tuple[Client, dict[str, object]],
) -> None:
    client, single = logged

    made = prodml.profile_version("flights@1", partitions=4, client=client)

    _same(made.to_summary(), single, _flights())


def test_parts_on_ray_merge_to_one_processs_profile(
    logged: tuple[Client, dict[str, object]], cluster: str
) -> None:
    client, single = logged
    seen: list[tuple[int, int]] = []

    made = prodml.profile_version(
        "flights@1", executor="ray", partitions=3, progress=lambda *p: seen.append(p),
        client=client,
    )  # fmt: skip

    _same(made.to_summary(), single, _flights())
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_the_cli_profiles_a_stored_version_and_refuses_ray_for_a_file(
    sqlite_client: Client, tmp_path: Path
) -> None:
    prodml.log_dataset("small", pd.DataFrame({"x": [1.0, 2.0, None]}), client=sqlite_client)
    home = sqlite_client.settings.home
    command = [sys.executable, "-m", "prodml.cli.main", "profile"]
    env = {"PRODML_HOME": home, "PATH": "/usr/bin:/bin"}

    stored = subprocess.run(
        [*command, "small@1", "--partitions", "2", "--json"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    file = tmp_path / "x.csv"
    file.write_text("x\n1\n")
    refused = subprocess.run(
        [*command, str(file), "--executor", "ray"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip

    assert stored.returncode == 0, stored.stderr
    assert '"rows": 3' in stored.stdout
    assert refused.returncode != 0 and "NAME@V" in refused.stderr + refused.stdout
    assert "Traceback" not in refused.stderr


def test_partitions_below_one_are_refused(sqlite_client: Client) -> None:
    prodml.log_dataset("small", pd.DataFrame({"x": [1.0]}), client=sqlite_client)
    with pytest.raises(InvalidInputError, match="partitions must be 1 or more"):
        prodml.profile_version("small@1", partitions=0, client=sqlite_client)


def test_a_column_without_a_value_profiles_in_parts_as_in_one_process(
    sqlite_client: Client,
) -> None:
    frame = _flights().assign(empty=np.full(ROWS, np.nan), unset=pd.Series([None] * ROWS))
    prodml.log_dataset("holes", frame, client=sqlite_client)
    single = profile_table(prodml.load_table("holes@1", client=sqlite_client), "holes@1")

    made = prodml.profile_version("holes@1", partitions=3, client=sqlite_client)

    _same(made.to_summary(), single.to_summary(), frame)
