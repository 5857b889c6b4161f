"""Data versioning: prodml ``log_dataset`` against ``dvc add`` and the physical floor.

Inputs, made fresh in a temporary folder beside the repository (same disk):
one file of random bytes (1 GiB; 256 MiB with --quick) and a folder of small
random files (20,000 x 4 KiB; 5,000 with --quick).

Steps, each on warm page caches (every input is read once right before its
step, after a ``sync`` so earlier writes are not flushed during it):

- floor: ``cp`` (``cp -r`` for the folder) to a new place, then hash the bytes
  with BLAKE3 in one thread; what any tool that keeps its own copy must do;
- DVC: ``dvc add`` in a fresh ``git init`` + ``dvc init`` repository with the
  default config; the wall time of the command, as a user sees it;
- prodml: ``prodml.log_dataset(name, path)`` in a subprocess with a fresh
  ``PRODML_HOME`` on the same disk, timing only the call.

Each step runs 3 times (once with --quick), each time into a fresh folder,
repository or PRODML_HOME, and the median is reported: write speed on a
shared virtual disk varies by tens of percent from one run to the next.

    .venv/bin/python benchmarks/versioning.py           # 1 GiB and 20,000 files
    .venv/bin/python benchmarks/versioning.py --quick   # 256 MiB and 5,000 files
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import blake3
from _anchor import Anchor, AnchorError, ensure_anchor
from _harness import REPO, BenchmarkError, load_warning, print_table, run_prodml_python

CHUNK = 8 * 1024 * 1024
DVC_RATIO_GOAL = 5.0
FLOOR_RATIO_GOAL = 1.5
QUIET_DVC = {"DVC_NO_ANALYTICS": "1"}

PRODML_WORKER = """
import json, sys
from time import perf_counter

import prodml

name, path, warmup = sys.argv[1], sys.argv[2], sys.argv[3]
if warmup:
    prodml.log_dataset("warmup", warmup)
started = perf_counter()
version = prodml.log_dataset(name, path)
seconds = perf_counter() - started
print(json.dumps({"seconds": seconds, "version": repr(version)[:400]}))
"""


@dataclass(frozen=True)
class Sizes:
    big_bytes: int
    small_files: int
    small_bytes: int = 4096

    @property
    def folder_bytes(self) -> int:
        return self.small_files * self.small_bytes


FULL = Sizes(big_bytes=1024**3, small_files=20_000)
QUICK = Sizes(big_bytes=256 * 1024**2, small_files=5_000)


@dataclass(frozen=True)
class Inputs:
    root: Path
    big: Path
    folder: Path
    warmup: Path


@dataclass
class Timings:
    """Seconds per tool and input, keyed ``"big"`` and ``"many"``."""

    floor: dict[str, float]
    dvc: dict[str, float]
    prodml: dict[str, float]


# -- inputs ------------------------------------------------------------------


def make_inputs(root: Path, sizes: Sizes) -> Inputs:
    root.mkdir(parents=True)
    big = root / "bigfile"
    with big.open("wb") as out:
        remaining = sizes.big_bytes
        while remaining:
            chunk = min(CHUNK, remaining)
            out.write(os.urandom(chunk))
            remaining -= chunk
    folder = root / "folder"
    folder.mkdir()
    for index in range(sizes.small_files):
        (folder / f"part-{index:05d}.bin").write_bytes(os.urandom(sizes.small_bytes))
    warmup = root / "warmup.txt"
    warmup.write_text("warm-up dataset: creates the store before the timed calls\n")
    return Inputs(root=root, big=big, folder=folder, warmup=warmup)


def files_under(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    for directory, _, names in os.walk(path):
        for name in sorted(names):
            yield Path(directory) / name


def settle_and_warm(path: Path) -> None:
    """Flush earlier writes to disk, then read every input byte once."""
    os.sync()
    for file in files_under(path):
        with file.open("rb") as handle:
            while handle.read(CHUNK):
                pass


def timed(action: Callable[..., object], *args: Any) -> float:
    started = time.perf_counter()
    action(*args)
    return time.perf_counter() - started


# -- floor -------------------------------------------------------------------


def blake3_tree(path: Path) -> str:
    digests = blake3.blake3(max_threads=1)
    for file in files_under(path):
        hasher = blake3.blake3(max_threads=1)
        if file.stat().st_size >= CHUNK:
            hasher.update_mmap(file)
        else:
            hasher.update(file.read_bytes())
        digests.update(hasher.digest())
    return str(digests.hexdigest())


def measure_floor(inputs: Inputs, workdir: Path) -> tuple[dict[str, float], list[str]]:
    workdir.mkdir()
    seconds: dict[str, float] = {}
    notes = []
    for key, source, flags in (("big", inputs.big, []), ("many", inputs.folder, ["-r"])):
        settle_and_warm(source)
        target = workdir / source.name
        copy_s = timed(subprocess.check_call, ["cp", *flags, str(source), str(target)])
        hash_s = timed(blake3_tree, target)
        seconds[key] = copy_s + hash_s
        notes.append(f"cp {copy_s:.3f} s + blake3 {hash_s:.3f} s")
    return seconds, [f"floor {', '.join(notes)}"]


# -- DVC ---------------------------------------------------------------------


def dvc(anchor: Anchor, repo: Path, *args: str) -> str:
    return anchor.run_command(["dvc", *args], cwd=repo, env=QUIET_DVC)


def measure_dvc(anchor: Anchor, inputs: Inputs, repo: Path) -> tuple[dict[str, float], list[str]]:
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    dvc(anchor, repo, "init", "-q")
    dvc(anchor, repo, "config", "core.analytics", "false")
    shutil.copyfile(inputs.big, repo / inputs.big.name)
    shutil.copytree(inputs.folder, repo / inputs.folder.name)
    cache_type = dvc(anchor, repo, "config", "cache.type").strip() or "default (reflink,copy)"
    startup_s = timed(dvc, anchor, repo, "status", "-q")
    seconds: dict[str, float] = {}
    for key, name in (("big", inputs.big.name), ("many", inputs.folder.name)):
        settle_and_warm(repo / name)
        seconds[key] = timed(dvc, anchor, repo, "add", "-q", name)
    big = repo / inputs.big.name
    link = "symlink" if big.is_symlink() else "hardlink" if big.stat().st_nlink > 1 else "copy"
    notes = [
        f"DVC {anchor.version}: cache.type = {cache_type}; workspace file after add is a {link}",
        f"DVC CLI start + repo open (dvc status) {startup_s:.3f} s, included in each dvc add",
    ]
    return seconds, notes


# -- prodml ------------------------------------------------------------------


def measure_prodml(inputs: Inputs, workdir: Path) -> tuple[dict[str, float], list[str]]:
    workdir.mkdir()
    home = workdir / ".prodml"
    seconds: dict[str, float] = {}
    notes = []
    for key, path in (("big", inputs.big), ("many", inputs.folder)):
        settle_and_warm(path)
        warmup = "" if home.exists() else str(inputs.warmup)
        args = [key, str(path), warmup]
        result: dict[str, Any] = run_prodml_python(PRODML_WORKER, args, home=home, cwd=workdir)
        seconds[key] = float(result["seconds"])
        notes.append(f"prodml {key} returned {result['version']}")
    stored = sum(file.stat().st_size for file in files_under(home))
    count = sum(1 for _ in files_under(home))
    notes.append(f"prodml home holds {count:,} files, {stored / 1e6:,.1f} MB after both calls")
    return seconds, notes


Measure = Callable[[Path], tuple[dict[str, float], list[str]]]


def repeated(measure: Measure, label: str, root: Path, repeats: int) -> dict[str, float]:
    """Median seconds per input over ``repeats`` attempts, each in a fresh folder."""
    samples: dict[str, list[float]] = {}
    for attempt in range(repeats):
        workdir = root / f"{label}-{attempt}"
        seconds, notes = measure(workdir)
        shutil.rmtree(workdir)
        for key, value in seconds.items():
            samples.setdefault(key, []).append(value)
        if attempt == 0:
            for note in notes:
                print(note, flush=True)
    for key, values in samples.items():
        listed = ", ".join(f"{value:.3f}" for value in values)
        print(f"{label} {key}: {listed} s; median {statistics.median(values):.3f} s", flush=True)
    return {key: statistics.median(values) for key, values in samples.items()}


# -- report ------------------------------------------------------------------


def cell(seconds: float | None, nbytes: int) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds:.3f} s ({nbytes / 1e6 / seconds:,.0f} MB/s)"


def report(timings: Timings, sizes: Sizes) -> None:
    rows = []
    labels = {
        "big": (f"one {sizes.big_bytes / 1024**2:,.0f} MiB file", sizes.big_bytes),
        "many": (
            f"{sizes.small_files:,} files x {sizes.small_bytes // 1024} KiB",
            sizes.folder_bytes,
        ),
    }
    for key, (label, nbytes) in labels.items():
        prodml = timings.prodml.get(key)
        dvc = timings.dvc.get(key)
        floor = timings.floor.get(key)
        vs_dvc = dvc / prodml if prodml and dvc else None
        vs_floor = prodml / floor if prodml and floor else None
        goal = f"DVC >= {DVC_RATIO_GOAL:.0f}x"
        met = None if vs_dvc is None else vs_dvc >= DVC_RATIO_GOAL
        if key == "big":
            goal += f", floor <= {FLOOR_RATIO_GOAL}x"
            met = (
                None
                if vs_dvc is None or vs_floor is None
                else (met is True and vs_floor <= FLOOR_RATIO_GOAL)
            )
        rows.append(
            [
                label,
                cell(prodml, nbytes),
                cell(dvc, nbytes),
                cell(floor, nbytes),
                "n/a" if vs_dvc is None else f"{vs_dvc:.1f}x faster",
                "n/a" if vs_floor is None else f"{vs_floor:.2f}x floor",
                goal,
                {True: "yes", False: "NO", None: "-"}[met],
            ]
        )
    headers = ["input", "prodml", "dvc add", "floor (cp + blake3)", "vs DVC", "vs floor"]
    print_table([*headers, "goal", "met"], rows)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256 MiB and 5,000 files")
    parser.add_argument(
        "--only",
        action="append",
        choices=("floor", "dvc", "prodml"),
        help="measure only these (repeatable); default all",
    )
    parser.add_argument(
        "--repeats", type=int, help="attempts per step, median reported (default 3, quick 1)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated inputs")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    sizes = QUICK if options.quick else FULL
    repeats = options.repeats or (1 if options.quick else 3)
    wanted = set(options.only or ("floor", "dvc", "prodml"))
    print(
        f"versioning benchmark, {datetime.date.today().isoformat()}, Python"
        f" {platform.python_version()}, {platform.platform()}, {os.cpu_count()} CPUs"
        + (" (quick)" if options.quick else "")
        + f", median of {repeats}"
    )
    if warning := load_warning():
        print(warning)
    anchor = ensure_anchor("dvc") if "dvc" in wanted else None
    root = Path(tempfile.mkdtemp(prefix="prodml-bench-versioning-", dir=REPO.parent))
    timings = Timings(floor={}, dvc={}, prodml={})
    try:
        started = time.perf_counter()
        inputs = make_inputs(root / "data", sizes)
        print(f"made inputs in {root} in {time.perf_counter() - started:.1f} s", flush=True)
        if "floor" in wanted:
            floor = partial(measure_floor, inputs)
            timings.floor = repeated(floor, "floor", root, repeats)
        if anchor is not None:
            dvc_add = partial(measure_dvc, anchor, inputs)
            timings.dvc = repeated(dvc_add, "dvc", root, repeats)
        if "prodml" in wanted:
            log_dataset = partial(measure_prodml, inputs)
            timings.prodml = repeated(log_dataset, "prodml", root, repeats)
    except (AnchorError, BenchmarkError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if options.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print()
    report(timings, sizes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
