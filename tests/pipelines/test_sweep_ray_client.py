"""A sweep on a Ray cluster reached through Ray Client (``ray://HOST:PORT``): Tune then
runs on the cluster, so no callback reaches the command's process, and each trial's
outcome, pruned ones included, comes back with Tune's results."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_project import Project

RAY = Path(sys.executable).with_name("ray")
STEPS = """
import pyarrow as pa


def train(numbers: pa.Table, alpha: float, run) -> dict:
    for step in range(1, 6):
        run.log_metric("curve", alpha * step, step=step)
    return {"score": -((alpha - 0.3) ** 2)}
"""


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def ray_client() -> Iterator[tuple[str, dict[str, str]]]:
    """A Ray head started with ``ray start`` in its own temp folder (a short path: Ray's
    sockets live there), with its client server; stopped by killing its processes
    alone (``ray stop`` would stop every Ray of the machine)."""
    pytest.importorskip("ray")
    folder = tempfile.mkdtemp(prefix="rc", dir="/tmp")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    client_port = _port()
    started = subprocess.run(
        [str(RAY), "start", "--head", f"--port={_port()}", "--num-cpus=2",
         f"--ray-client-server-port={client_port}", "--include-dashboard=false",
         "--disable-usage-stats", f"--temp-dir={folder}"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    address = f"ray://127.0.0.1:{client_port}"
    try:
        assert started.returncode == 0, started.stderr[-2000:]
        probe = f"import ray; ray.init({address!r}); ray.shutdown()"
        deadline = time.monotonic() + 180  # a busy machine starts the client server slowly
        while not _answers([sys.executable, "-c", probe], env):
            assert time.monotonic() < deadline, "the Ray client server never answered:\n" + (
                "\n".join(
                    p.read_text()[-1500:] for p in Path(folder).rglob("ray_client_server*.err")
                )
            )
            time.sleep(1)
        yield address, env
    finally:
        _kill_tree(folder)
        shutil.rmtree(folder, ignore_errors=True)


def _answers(command: list[str], env: dict[str, str]) -> bool:
    try:
        return subprocess.run(command, env=env, capture_output=True, timeout=60).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _kill_tree(folder: str) -> None:
    """SIGKILL the processes whose command line names ``folder`` and every process they
    started (Ray's agents rename themselves, so their command lines do not name it)."""
    every = ["ps", "-ww", "-eo", "pid=,ppid=,args="]  # -ww: whole command lines
    listed = subprocess.run(every, capture_output=True, text=True)
    rows = [line.split(None, 2) for line in listed.stdout.splitlines()]
    parent = {int(row[0]): int(row[1]) for row in rows if len(row) >= 2}
    doomed = {int(row[0]) for row in rows if len(row) == 3 and folder in row[2]}
    while grown := {pid for pid, up in parent.items() if up in doomed} - doomed:
        doomed |= grown
    for pid in doomed - {os.getpid()}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_sweep_through_ray_client_tells_every_trial_pruned_ones_too(
    project: Project, ray_client: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    address, env = ray_client
    env = {**env, "PRODML_HOME": str(tmp_path / "home")}
    (project.folder / "numbers.csv").write_text("x\n1\n2\n3\n")
    project.write("steps.py", STEPS)
    project.write(
        "pipeline.yaml",
        "name: remote\nconfig:\n  train: {alpha: 0.5}\nsteps:\n"
        '  - {name: train, function: "steps:train", inputs: {numbers: numbers@latest}}\n',
    )
    space = {
        "objective": "score", "sampler": "grid", "seed": 3, "pruner": "median",
        "intermediate": "curve",
        "parameters": {"train.alpha": {"choice": [0.5, 0.6, 0.7, 0.1, 0.05]}},
    }  # fmt: skip
    (project.folder / "space.json").write_text(json.dumps(space))
    prodml = [str(Path(sys.executable).with_name("prodml"))]

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prodml, *args], cwd=project.folder, env=env, capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip

    assert command("datasets", "log", "numbers", "numbers.csv").returncode == 0
    done = command(
        "sweep", "pipeline.yaml", "--space", "space.json", "--trials", "5", "--parallel", "1",
        "--executor", "ray", "--address", address, "--json",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    trials = {t["values"]["train.alpha"]: t["outcome"] for t in json.loads(done.stdout)["trials"]}
    assert sorted(trials) == [0.05, 0.1, 0.5, 0.6, 0.7]
    assert {o["state"] for o in trials.values()} == {"complete", "pruned"}
    pruned = [o for o in trials.values() if o["state"] == "pruned"]
    assert all(o["number"] >= 3 for o in pruned)  # after the median pruner's warm-up
    assert all(o["run_id"] for o in trials.values())
    assert all(o["seconds"] > 0 for o in trials.values())  # pruned ones too
    assert trials[0.5]["value"] == pytest.approx(-0.04)
    tune_folder = Path.home() / "ray_results" / json.loads(done.stdout)["run_id"]
    try:  # Tune ran on the head, in Ray's own folder there, and wrote no per-trial files
        written = {p.name for p in tune_folder.rglob("*")}
        assert not written & {"result.json", "progress.csv", "params.json"}
        assert not (tmp_path / "home" / "sweeps" / "tune").exists()
    finally:
        shutil.rmtree(tune_folder, ignore_errors=True)
