"""Blobs on object storage: prodml's blob store against plain s3fs, on a real S3 API.

The S3 API is moto's server on a loopback port (``tests/s3_server.py``: signatures
checked, one IAM user), reached by both sides through the usual AWS environment
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``...) and s3fs's defaults: 50 MiB parts, 10
at a time, for a large file; many requests at once (10 connections) for many files.

Inputs, made fresh in a temporary folder: one file of random bytes (1 GiB; 64 MiB with
--quick) and 20,000 files of 1-4 KiB of random bytes (2,000 with --quick).

- s3fs: ``fs.put(local, remote)`` and ``fs.get(remote, local)``; for the small files one
  call each with the lists of paths and prodml's number of requests in flight (64;
  both send at most 10 at once, s3fs's connection pool, and s3fs's default queue of
  1,280 to 2,500 waits past the 60 s connect timeout on a slow server);
- prodml: ``FsspecArtifactStore`` on ``s3://bucket/prefix`` as a client opens it:
  ``put_file`` (BLAKE3 of the file, then the upload) and ``local_path`` (download into
  the cache, then BLAKE3 before the copy gets its name); for the small files
  ``put_files`` and ``local_paths``.

Each step starts on warm page caches and an empty prefix (the previous one deleted,
untimed); s3fs and prodml alternate which goes first each round. The ratio is
prodml's time over s3fs's (goal: at most 1.3 both ways). For information, two rows
more: ``put_file`` one file at a time on 1,000 of the small files, and
``log_dataset`` of the folder (small files go into pack blobs) with its ``checkout``.

    .venv/bin/python benchmarks/scale_blobs.py            # 1 GiB and 20,000 files
    .venv/bin/python benchmarks/scale_blobs.py --quick    # 64 MiB and 2,000 files
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from _harness import REPO, load_warning, print_table

from prodml.stores.remote_blobs import IN_FLIGHT

sys.path.insert(0, str(REPO / "tests"))
from s3_server import AWS_OVERRIDES, S3Server, start_s3_server

GOAL = 1.3
MiB = 1 << 20
ONE_BY_ONE = 1000


def make_inputs(root: Path, size: int, files: int) -> tuple[Path, list[Path]]:
    print(f"making {size // MiB} MiB and {files:,} files of 1-4 KiB in {root} ...")
    root.mkdir()
    big = root / "big.bin"
    with big.open("wb") as handle:
        for start in range(0, size, 64 * MiB):
            handle.write(os.urandom(min(64 * MiB, size - start)))
    folder = root / "small"
    folder.mkdir()
    sizes = [1024 + (index * 7919) % 3073 for index in range(files)]  # 1-4 KiB
    paths = []
    for index, length in enumerate(sizes):
        path = folder / f"{index // 1000:03d}" / f"{index:05d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(os.urandom(length))
        paths.append(path)
    return big, paths


def warm(paths: list[Path]) -> None:
    for path in paths:
        with path.open("rb") as handle:
            while handle.read(64 * MiB):
                pass


SERVER_PID: list[int] = []


def server_cpu() -> float:
    """CPU seconds the S3 server has used (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{SERVER_PID[0]}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(step: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = step()
    return time.perf_counter() - started, result


def measured(times: dict[str, float], name: str, step: Callable[[], Any]) -> Any:
    """Run ``step``; its wall seconds, and the CPU seconds this process and the server
    used, go into ``times`` under ``name``, ``name cpu`` and ``name server``."""
    client, server = time.process_time(), server_cpu()
    times[name], result = timed(step)
    times[f"{name} cpu"] = time.process_time() - client
    times[f"{name} server"] = server_cpu() - server
    return result


class Bench:
    def __init__(self, server: S3Server, work: Path, big: Path, paths: list[Path]) -> None:
        import fsspec

        self.server = server
        self.work = work
        self.big, self.paths = big, paths
        self.bucket = server.create_bucket()
        self.fs = fsspec.filesystem("s3", skip_instance_cache=True)  # plain s3fs
        self.fs.ls(self.bucket)  # its client made before any timing
        self.rounds = 0

    def store(self, prefix: str) -> Any:
        from prodml.stores.remote_blobs import FsspecArtifactStore

        store = FsspecArtifactStore(f"s3://{self.bucket}/{prefix}", self.work / f"cache-{prefix}")
        store.exists("0" * 64)  # its client made before any timing
        return store

    def clear(self, prefix: str) -> None:
        if self.fs.exists(f"{self.bucket}/{prefix}"):
            self.fs.rm(f"{self.bucket}/{prefix}", recursive=True)
        shutil.rmtree(self.work / f"cache-{prefix}", ignore_errors=True)
        shutil.rmtree(self.work / f"out-{prefix}", ignore_errors=True)

    def large(self) -> dict[str, float]:
        return self._round("large", [self.big], self._large_s3fs, self._large_prodml)

    def small(self) -> dict[str, float]:
        return self._round("small", self.paths, self._small_s3fs, self._small_prodml)

    def _round(
        self, case: str, paths: list[Path], *sides: Callable[[dict[str, float], str], None]
    ) -> dict[str, float]:
        """One put and get on each side, in the order of the round, each into a fresh
        prefix on warm page caches."""
        self.rounds += 1
        times: dict[str, float] = {}
        for side in sides if self.rounds % 2 else reversed(sides):
            prefix = f"{side.__name__.rsplit('_', 1)[1]}-{case}-{self.rounds}"
            warm(paths)
            side(times, prefix)
            self.clear(prefix)
        return times

    def _large_s3fs(self, times: dict[str, float], prefix: str) -> None:
        remote = f"{self.bucket}/{prefix}/big.bin"
        out = self.work / f"out-{prefix}"
        out.mkdir()
        measured(times, "s3fs put", lambda: self.fs.put(str(self.big), remote))
        measured(times, "s3fs get", lambda: self.fs.get(remote, str(out / "big.bin")))
        assert (out / "big.bin").stat().st_size == self.big.stat().st_size

    def _large_prodml(self, times: dict[str, float], prefix: str) -> None:
        store = self.store(prefix)
        digest, _ = measured(times, "prodml put", lambda: store.put_file(self.big))
        path = measured(times, "prodml get", lambda: store.local_path(digest))
        assert path.stat().st_size == self.big.stat().st_size

    def _small_s3fs(self, times: dict[str, float], prefix: str) -> None:
        local = [str(path) for path in self.paths]
        remote = [f"{self.bucket}/{prefix}/{p.parent.name}/{p.name}" for p in self.paths]
        out = self.work / f"out-{prefix}"
        copies = [str(out / p.parent.name / p.name) for p in self.paths]
        measured(times, "s3fs put", lambda: self.fs.put(local, remote, batch_size=IN_FLIGHT))
        measured(times, "s3fs get", lambda: self.fs.get(remote, copies, batch_size=IN_FLIGHT))
        assert sum(1 for _ in out.rglob("*.bin")) == len(self.paths)

    def _small_prodml(self, times: dict[str, float], prefix: str) -> None:
        store = self.store(prefix)
        stored = measured(times, "prodml put", lambda: store.put_files(self.paths))
        digests = [digest for digest, _ in stored]
        got = measured(times, "prodml get", lambda: store.local_paths(digests))
        assert len(got) == len(self.paths)

    def one_by_one(self, paths: list[Path]) -> float:
        store = self.store("one-by-one")
        warm(paths)
        seconds, _ = timed(lambda: [store.put_file(path) for path in paths])
        self.clear("one-by-one")
        return seconds

    def dataset(self, folder: Path) -> tuple[float, float]:
        import prodml
        from prodml.client import Client

        client = Client(
            home=str(self.work / "home"),
            artifact_url=f"s3://{self.bucket}/dataset",
            user="bench",
        )
        try:
            client.artifacts.exists("0" * 64)
            warm(sorted(folder.rglob("*.bin")))
            logged, version_ = timed(lambda: prodml.log_dataset("files", folder, client=client))
            target = self.work / "checkout"
            checked, _ = timed(lambda: prodml.checkout(version_, target, client=client))
        finally:
            client.close()
            self.clear("dataset")
            shutil.rmtree(self.work / "home", ignore_errors=True)
            shutil.rmtree(self.work / "checkout", ignore_errors=True)
        return logged, checked


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f} files/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="64 MiB and 2,000 files")
    parser.add_argument("--size-mib", type=int, help="size of the large file (MiB)")
    parser.add_argument("--files", type=int, help="number of small files")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3; 1 quick)")
    parser.add_argument("--only", choices=["large", "small"], help="one of the two cases")
    args = parser.parse_args()
    size = (args.size_mib or (64 if args.quick else 1024)) * MiB
    files = args.files or (2000 if args.quick else 20000)
    rounds = args.rounds or (1 if args.quick else 3)

    warning = load_warning()
    for name in AWS_OVERRIDES:
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="scale-blobs-") as folder:
        work = Path(folder)
        sizes = (0 if args.only == "small" else size, 0 if args.only == "large" else files)
        big, paths = make_inputs(work / "inputs", *sizes)
        with start_s3_server() as server:
            SERVER_PID.append(server.process.pid)
            # One try per request, and time for moto to put a large object together and
            # to take a connection on a busy machine (both sides alike): a request retried
            # while moto still works on it fails the run (moto 5.2.5 answers the second
            # CompleteMultipartUpload with a 500, "seek of closed file").
            os.environ.update(server.env(AWS_MAX_ATTEMPTS="1"))
            import fsspec.config

            fsspec.config.conf.setdefault("s3", {})["config_kwargs"] = {
                "connect_timeout": 900,
                "read_timeout": 900,
            }
            bench = Bench(server, work, big, paths)
            results: dict[str, list[dict[str, float]]] = {"large": [], "small": []}
            for index in range(rounds):
                for case in ("large", "small"):
                    if args.only and case != args.only:
                        continue
                    step = bench.large() if case == "large" else bench.small()
                    results[case].append(step)
                    shown = ", ".join(
                        f"{k} {v:.2f} s" for k, v in sorted(step.items()) if k.count(" ") == 1
                    )
                    print(f"round {index + 1} {case}: {shown}", flush=True)
            extra: list[list[str]] = []
            if args.only != "large":
                few = paths[:ONE_BY_ONE]
                seconds = bench.one_by_one(few)
                extra.append(
                    ["small: put_file one by one", f"{seconds:.2f} s", rate(len(few), seconds)]
                )
                logged, checked = bench.dataset(paths[0].parent.parent)
                extra.append(["small: log_dataset (packs)", f"{logged:.2f} s", rate(files, logged)])
                extra.append(["small: checkout", f"{checked:.2f} s", rate(files, checked)])
    report(results, extra, size, files, rounds, warning)


def report(
    results: dict[str, list[dict[str, float]]],
    extra: list[list[str]],
    size: int,
    files: int,
    rounds: int,
    warning: str | None,
) -> None:
    rows = []
    for case, runs in results.items():
        if not runs:
            continue
        what = f"{size // MiB:,} MiB file" if case == "large" else f"{files:,} files of 1-4 KiB"
        for way in ("put", "get"):
            ours = statistics.median(run[f"prodml {way}"] for run in runs)
            theirs = statistics.median(run[f"s3fs {way}"] for run in runs)
            speed = f"{size / MiB / ours:,.0f} MiB/s" if case == "large" else rate(files, ours)
            ratio = ours / theirs

            def cpu(side: str, way: str = way, runs: list[dict[str, float]] = runs) -> str:
                client = statistics.median(run[f"{side} {way} cpu"] for run in runs)
                server = statistics.median(run[f"{side} {way} server"] for run in runs)
                return f"{client:.1f} + {server:.1f} s"

            rows.append(
                [
                    f"{way} {what}",
                    f"{ours:.2f} s ({speed})",
                    f"{theirs:.2f} s",
                    f"{ratio:.2f}x",
                    f"<= {GOAL}x",
                    "yes" if ratio <= GOAL else "NO",
                    cpu("prodml"),
                    cpu("s3fs"),
                ]
            )
    print()
    versions = ", ".join(
        f"{name} {version(name)}" for name in ("moto", "s3fs", "aiobotocore", "botocore", "fsspec")
    )
    print(f"{platform.python_version()}, {os.cpu_count()} CPUs; {versions}; medians of {rounds}")
    print_table(
        ["figure", "prodml", "s3fs", "ratio", "goal", "met", "CPU prodml", "CPU s3fs"], rows
    )
    print("CPU: seconds used by this process + by the S3 server during the step")
    if extra:
        print()
        print_table(["for information", "time", "rate"], extra)
    if warning:
        print(warning)


def causes(error: BaseException) -> str:
    """An error and what led to it, one line each (a StoreError hides its causes)."""
    lines: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        lines.append(f"  {type(current).__name__}: {str(current)[:300]}")
        current = current.__cause__ or current.__context__
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        main()
    except Exception as failure:
        print(f"failed:\n{causes(failure)}", file=sys.stderr)
        raise SystemExit(1) from None
