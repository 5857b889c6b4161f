"""A Ray task logs into a run it was handed, through its own connections; the run
goes on until its owner ends it."""

from __future__ import annotations

from typing import Any

import prodml
from prodml.client import Client
from prodml.track.run import RunHandle


def test_ray_tasks_log_into_a_run_they_were_handed(
    client: Client, cluster: str, ray_module: Any
) -> None:
    def fold(handle: RunHandle, number: int) -> int:
        import prodml

        with prodml.attach_run(handle) as run:
            run.log_metric("fold_auc", 0.8 + number / 100, step=number)
            run.log_params({f"fold_{number}": "done", "folds": 3})
        return number

    task = ray_module.remote(fold)
    with prodml.start_run("ray-folds", client=client) as run:
        handle = run.handle()
        assert sorted(ray_module.get([task.remote(handle, n) for n in range(3)])) == [0, 1, 2]
        stored = client.metadata.get_run(run.id)
        assert stored.status.value == "running"
        history = client.metadata.metric_history(run.id, "fold_auc")
        assert sorted((point.step, point.value) for point in history) == [
            (n, 0.8 + n / 100) for n in range(3)
        ]
    stored = client.metadata.get_run(run.id)
    assert stored.status.value == "finished"
    assert stored.params == {"fold_0": "done", "fold_1": "done", "fold_2": "done", "folds": "3"}
