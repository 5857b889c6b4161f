"""Several processes tracking runs into one store at the same time: every run ends,
every metric point is stored, dataset versions number up without gaps or clashes,
and nobody sees "database is locked"."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from prodml.client import Client
from prodml.domain.run import RunStatus

Processes = Callable[..., list[subprocess.CompletedProcess[str]]]
WORKERS, RUNS, STEPS = 4, 3, 2000

WORKER = """
import pyarrow as pa
import prodml
from prodml.client import Client


class Constant:
    def predict(self, rows):
        return [0.5 for _ in rows]


worker, runs, steps = int(_sys.argv[2]), int(_sys.argv[3]), int(_sys.argv[4])
client = Client()
start_together()
shared = prodml.log_dataset("shared", pa.table({"x": [1, 2, 3]}), client=client)
own = prodml.log_dataset("grows", pa.table({"worker": [worker]}), client=client)
ids = []
for number in range(runs):
    config = {"worker": worker, "run": number}
    with prodml.start_run("load", config, inputs=[shared, own], client=client) as run:
        run.log_params(config)
        for step in range(steps):
            run.log_metric("loss", 1.0 / (step + 1))
            run.log_metric("accuracy", step / steps)
        run.log_model(Constant(), "load-model")
        ids.append(run.id)
client.close()
print(" ".join(ids))
"""


def test_processes_tracking_into_one_store_at_once_lose_nothing(
    metadata_url: str, tmp_path: Path, together: Processes
) -> None:
    finished = together(
        WORKER,
        [[str(RUNS), str(STEPS)]] * WORKERS,
        PRODML_HOME=str(tmp_path / "home"),
        PRODML_METADATA_URL=metadata_url,
        PRODML_USER="load-test",
        PRODML_FLUSH_INTERVAL="0.02",
    )

    for process in finished:
        assert process.returncode == 0, process.stderr
        assert "locked" not in process.stdout + process.stderr
    run_ids = [run_id for process in finished for run_id in process.stdout.split()]
    assert len(set(run_ids)) == WORKERS * RUNS
    client = Client(home=str(tmp_path / "home"), metadata_url=metadata_url)
    try:
        store = client.metadata
        runs = store.list_runs("load")
        assert sorted(run.id for run in runs) == sorted(run_ids)
        shared = store.get_dataset_version("shared")
        grows = store.list_dataset_versions("grows")
        assert [v.version for v in store.list_dataset_versions("shared")] == [1]
        assert [v.version for v in grows] == list(range(1, WORKERS + 1))
        assert len({v.id for v in grows}) == WORKERS
        for run in runs:
            assert run.status is RunStatus.FINISHED
            assert run.author == "load-test"
            assert run.params == {
                "worker": str(run.config["worker"]),
                "run": str(run.config["run"]),
            }
            assert run.metrics == {"loss": 1.0 / STEPS, "accuracy": (STEPS - 1) / STEPS}
            assert shared.id in run.inputs and len(run.inputs) == 2
            assert store.count_metric_points(run.id) == 2 * STEPS
        models = [store.get_model_version("load-model", str(n)) for n in range(1, len(runs) + 1)]
        assert sorted(model.run_id for model in models) == sorted(run_ids)
        history = store.metric_history(runs[0].id, "loss")
        assert [point.step for point in history] == list(range(STEPS))
    finally:
        client.close()
