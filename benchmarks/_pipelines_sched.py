"""How long a command's processes ran on a CPU and how long they waited, runnable, for
one: Linux ``schedstat`` of every thread, summed over the command and every process under it
(a sweep's worker processes, Ray's raylet and workers), and over what else this process
started and keeps running (a local Ray the sweeps join: only what it did meanwhile),
sampled while the command runs.

Waiting means every CPU was busy: with other work on a shared machine, or with the
command's own other processes. Two trials at once on two CPUs finish in half the time
only if neither waits. A process's last sample may be up to one interval old when it
exits (a thread's, when it ends), so the sums are slightly low."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

INTERVAL = 0.25  # seconds between samples


@dataclass(frozen=True)
class Scheduling:
    on_cpu: float  # seconds its processes ran
    waiting: float  # seconds they were runnable but had no CPU
    threads: int

    @property
    def waiting_share(self) -> float:
        total = self.on_cpu + self.waiting
        return self.waiting / total if total else 0.0


def run_watched(
    args: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float
) -> tuple[subprocess.CompletedProcess[str], Scheduling]:
    """Run ``args`` like ``subprocess.run`` (output captured), sampling its processes."""
    before: dict[int, tuple[int, int]] = {}
    _sample(os.getpid(), before)  # what was running already counts from now on
    process = subprocess.Popen(
        list(args), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen: dict[int, tuple[int, int]] = {}
    deadline = time.monotonic() + timeout
    while True:
        _sample(os.getpid(), seen)
        try:
            stdout, stderr = process.communicate(timeout=INTERVAL)
            break
        except subprocess.TimeoutExpired:
            if time.monotonic() > deadline:
                process.kill()
                raise
    done = subprocess.CompletedProcess(list(args), process.returncode, stdout, stderr)
    for pid, (ran, waited) in before.items():
        if pid in seen:
            seen[pid] = (seen[pid][0] - ran, seen[pid][1] - waited)
    on_cpu = sum(ran for ran, _ in seen.values()) / 1e9
    waiting = sum(waited for _, waited in seen.values()) / 1e9
    return done, Scheduling(on_cpu=on_cpu, waiting=waiting, threads=len(seen))


def _sample(root: int, seen: dict[int, tuple[int, int]]) -> None:
    """Every thread of every process under ``root`` (not ``root``, this sampler, itself):
    a process's own ``schedstat`` is its main thread's, and Ray Tune runs a trial in
    another thread of its worker."""
    for pid in _tree(root) - {root}:
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for thread in threads:
            try:
                with open(f"/proc/{pid}/task/{thread}/schedstat") as stat:
                    ran, waited, _ = (int(value) for value in stat.read().split())
            except (OSError, ValueError):
                continue
            seen[int(thread)] = (ran, waited)


def _tree(root: int) -> set[int]:
    """``root`` and every process under it."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                parent = int(stat.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, queue = {root}, [root]
    while queue:
        for child in children.get(queue.pop(), ()):
            if child not in found:
                found.add(child)
                queue.append(child)
    return found
