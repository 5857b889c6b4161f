"""Several processes starting and ending runs at once on one store: every run is
stored whole, and no process sees the database's "locked" error."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from prodml.client import Client

PROCESSES = 4
RUNS_EACH = 40

WORKER = """
import json, sys
import prodml

index = int(sys.argv[1])
sys.stdin.readline()  # all processes are ready: go
failures = []
for number in range(int(sys.argv[2])):
    try:
        with prodml.start_run("at-once", config={"worker": index}) as run:
            run.log_params({f"p{j}": j for j in range(10)} | {"worker": index})
            run.log_metrics({f"m{j}": j / 10 for j in range(10)}, step=number)
    except Exception as error:
        failures.append(f"{type(error).__name__}: {error}")
print(json.dumps(failures))
"""


def test_four_processes_logging_runs_at_once_store_every_run_whole(client: Client) -> None:
    settings = client.settings
    env = os.environ | {
        "PRODML_HOME": settings.home,
        "PRODML_METADATA_URL": settings.metadata_url,
        "PRODML_ARTIFACT_URL": settings.artifact_url,
        "PRODML_BUSY_TIMEOUT": "10",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(index), str(RUNS_EACH)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for index in range(PROCESSES)
    ]
    outcomes = [worker.communicate(input="go\n", timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0] * PROCESSES, outcomes
    assert [json.loads(stdout) for stdout, _ in outcomes] == [[]] * PROCESSES
    assert all("locked" not in stderr for _, stderr in outcomes)
    runs = client.metadata.list_runs("at-once")
    assert len(runs) == PROCESSES * RUNS_EACH
    assert {run.status.value for run in runs} == {"finished"}
    for run in runs:
        worker = run.config["worker"]
        assert run.params == {f"p{j}": str(j) for j in range(10)} | {"worker": str(worker)}
        assert run.metrics == {f"m{j}": j / 10 for j in range(10)}
    assert sorted(run.config["worker"] for run in runs) == sorted(
        index for index in range(PROCESSES) for _ in range(RUNS_EACH)
    )
