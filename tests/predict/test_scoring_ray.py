"""Batch scoring on Ray: the parts as Ray tasks on a local Ray of 2 CPUs (started once
for the module), giving the same dataset version as one process. Skipped, with the
reason, only where Ray is not installed and CI is not set; in CI it must run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scoring_data import customers, dataset_names, logged

import prodml
from prodml.client import Client
from prodml.errors import InvalidInputError


def test_ray_gives_the_same_version_as_one_process(sqlite_client: Client, cluster: str) -> None:
    logged(sqlite_client)
    here = prodml.score("churn@1", "customers@1", client=sqlite_client)
    seen: list[tuple[int, int]] = []

    on_ray = prodml.score(
        "churn@1", "customers@1", name="on-ray", executor="ray", partitions=3,
        progress=lambda *p: seen.append(p), client=sqlite_client,
    )  # fmt: skip

    assert on_ray.output.id == here.output.id  # the content digest: same rows, order, values
    assert prodml.load_table("on-ray@1", client=sqlite_client).equals(
        prodml.load_table(here.output, client=sqlite_client)
    )
    assert (on_ray.executor, on_ray.partitions, on_ray.rows) == ("ray", 3, 3000)
    assert seen == [(1, 3), (2, 3), (3, 3)]
    upstream = prodml.upstream("on-ray@1", client=sqlite_client)
    assert {child.relation for child in upstream.children} == {"scored", "input"}


def test_a_part_refused_on_ray_is_refused_here_and_nothing_is_stored(
    sqlite_client: Client, cluster: str
) -> None:
    logged(sqlite_client, customers().astype({"x2": str}))  # text where the model takes numbers
    before = dataset_names(sqlite_client)

    with pytest.raises(InvalidInputError, match="Input column 'x2' to model churn@1 holds"):
        prodml.score("churn@1", "customers@1", executor="ray", client=sqlite_client)

    assert dataset_names(sqlite_client) == before


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_an_address_nothing_listens_on_is_refused_at_once(
    sqlite_client: Client, ray_module: Any
) -> None:
    logged(sqlite_client)
    address = f"ray://127.0.0.1:{_closed_port()}"

    with pytest.raises(InvalidInputError) as refused:
        prodml.score(
            "churn@1", "customers@1", executor="ray", address=address, client=sqlite_client
        )

    assert f"Cannot reach a Ray cluster at {address}" in str(refused.value)
    assert "leave --address out to start a local Ray" in str(refused.value)


def test_the_command_scores_on_a_running_cluster(tmp_path: Path, cluster: str) -> None:
    home = tmp_path / ".prodml"
    client = Client(home=str(home), user="dana")
    logged(client)
    client.close()
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("PRODML_", "RAY_ADDRESS"))}
    command = [sys.executable, "-m", "prodml.cli.main", "score", "churn@1", "customers@1"]

    result = subprocess.run(
        [*command, "--executor", "ray", "--address", cluster, "--partitions", "2"],
        env={**kept, "PRODML_HOME": str(home), "PRODML_USER": "dana", "COLUMNS": "200"},
        cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "customers-scored-churn@1" in result.stdout
    assert "3,000 rows of customers@1 scored by churn@1 (ray, 2 parts)" in result.stdout


def test_a_ray_task_decodes_on_as_many_threads_as_it_was_given_cpus(cluster: str) -> None:
    """Two parts on two CPUs with Arrow's pool left at every core ran four decoding
    threads, and each part took twice as long."""
    import operator

    import pyarrow as pa

    from prodml.sdk.executors import executor_for

    threads = executor_for("ray").map(operator.call, [pa.cpu_count] * 3)  # in the tasks

    assert threads == [1, 1, 1]
