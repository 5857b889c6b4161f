"""``prodml runs list`` searches: filter, order, columns, pages and JSON, run as a
user runs it; a bad filter is one clear line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_process import run_prodml

import prodml
from prodml.client import Client


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("runs-cli") / ".prodml"
    client = Client(home=str(folder), user="dana", flush_interval=0.05)
    for index, (depth, auc) in enumerate([(6, 0.81), (8, 0.9), (6, 0.7), (6, 0.95), (4, 0.99)]):
        with prodml.start_run(
            "delay", config={"depth": depth, "opt": {"lr": 0.1}}, client=client
        ) as run:
            run.log_param("index", index)
            run.log_metric("auc", auc)
    client.close()
    return folder


def test_a_filter_with_order_and_columns_shows_the_matching_runs(home: Path) -> None:
    done = run_prodml(
        home,
        "runs",
        "list",
        "--filter",
        "metrics.auc > 0.8 and config.depth = 6",
        "--order-by",
        "metrics.auc",
        "--desc",
        "--columns",
        "metrics.auc,config.depth,params.index",
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "0.95" in line or "0.81" in line]
    assert len(lines) == 2 and "0.95" in lines[0] and "0.81" in lines[1]
    assert "0.7" not in done.stdout and "0.99" not in done.stdout
    assert "Runs 1-2 of 2." in done.stdout


def test_pages_follow_the_printed_token_and_json_carries_it(home: Path) -> None:
    first = json.loads(
        run_prodml(home, "runs", "list", "-o", "config.depth", "-n", "2", "--json").stdout
    )
    assert first["total"] == 5 and len(first["runs"]) == 2
    assert [run["config"]["depth"] for run in first["runs"]] == [4, 6]
    token = first["next_page_token"]
    printed = run_prodml(home, "runs", "list", "-o", "config.depth", "-n", "2", "--page", token)
    assert "Runs 3-4 of 5." in printed.stdout and "Next page: --page" in printed.stdout
    second = json.loads(
        run_prodml(
            home, "runs", "list", "-o", "config.depth", "-n", "2", "--page", token, "--json"
        ).stdout
    )
    seen = {run["id"] for run in first["runs"] + second["runs"]}
    assert len(seen) == 4


@pytest.mark.parametrize(
    "arguments,message",
    [
        (["--filter", "metrics.auc > "], "position 15"),
        (["--filter", "config.depth = 6'; DROP TABLE runs; --"], "never closed"),
        (["--filter", "colour = red"], "unknown field"),
        (["--order-by", "sideways"], "the sort key 'sideways'"),
        (["--page", "bogus"], "not one this search gave"),
        (["--columns", "metrics.auc;rm"], "not valid"),
    ],
)
def test_bad_input_is_one_clear_line(home: Path, arguments: list[str], message: str) -> None:
    done = run_prodml(home, "runs", "list", *arguments)
    assert done.returncode != 0
    assert message in done.stderr + done.stdout
    again = json.loads(run_prodml(home, "runs", "list", "--json").stdout)
    assert again["total"] == 5


def test_no_match_says_so(home: Path) -> None:
    done = run_prodml(home, "runs", "list", "--filter", "metrics.auc > 2")
    assert done.returncode == 0 and "No runs match." in done.stdout
