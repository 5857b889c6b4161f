"""What ``serving.py`` uses to put one server under load: server processes pinned
to one CPU, wrk and hey pinned to the other, and how much of the server's CPU
other processes took meanwhile. A request is a body and its headers (JSON by
default; any bytes, such as the Open Inference Protocol's binary tensors)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _harness import fmt_rate

SERVER_CPU = "0"
LOAD_CPU = "1"
CONNECTIONS = 32
JSON = {"Content-Type": "application/json"}
WARMUP_SECONDS = 3
OTHERS_LIMIT = 0.05  # warn when other processes take more of the server's CPU than this


class BenchmarkFailure(RuntimeError):
    pass


@dataclass(frozen=True)
class Figures:
    """One server under load: wrk's throughput, hey's latency distribution."""

    server: str
    rate: float  # requests/s, wrk
    wrk_requests: int
    wrk_p99_ms: float | None
    bad_wrk: int  # non-2xx responses and socket errors, wrk
    p50_ms: float | None  # hey
    p99_ms: float | None  # hey
    hey_rate: float | None
    bad_hey: int
    sent: int  # every request of the warm-up, wrk and hey runs
    others: float  # the largest share of CPU 0 other processes took during wrk or hey
    cpu_us: float | None  # CPU the server (all its threads) used per request under wrk


# --- servers -----------------------------------------------------------------------


class Servers:
    """Server processes, each in its own session so that it and its children stop
    together; all are stopped when the ``with`` block exits, even on error."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *exc: object) -> None:
        for name in list(self.running):
            self.stop(name)

    def start(
        self, name: str, args: Sequence[str], env: dict[str, str], cwd: Path
    ) -> subprocess.Popen[bytes]:
        log = self.logs / f"{name}.log"
        with log.open("wb") as handle:
            process = subprocess.Popen(
                ["taskset", "-c", SERVER_CPU, *args],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running[name] = (process, log)
        return process

    def log_tail(self, name: str, chars: int = 3000) -> str:
        log = self.logs / f"{name}.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""

    def stop(self, name: str) -> None:
        process, _ = self.running.pop(name)
        for sig, grace in ((signal.SIGINT, 15.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # any child left behind
            os.killpg(process.pid, signal.SIGKILL)


def cpu_ticks(cpu: str) -> int:
    """Busy clock ticks of one CPU so far (Linux /proc/stat; 0 elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            for line in stat:
                if line.startswith(f"cpu{cpu} "):
                    fields = [int(v) for v in line.split()[1:]]
                    return sum(fields) - fields[3] - fields[4]  # less idle and iowait
    except OSError:
        pass
    return 0


def group_ticks(group: int) -> int:
    """Clock ticks used so far by every process in a process group (all threads)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp; then utime and stime are fields 12 and 13
            total += int(fields[11]) + int(fields[12])
    return total


class Interference:
    """Share of CPU 0 that processes other than the server used meanwhile."""

    def __init__(self, group: int) -> None:
        self.group = group
        self.cpu = cpu_ticks(SERVER_CPU)
        self.own = group_ticks(group)
        self.started = time.monotonic()

    def measure(self) -> tuple[float, float]:
        """The share of CPU 0 others took so far, and the server's own CPU seconds."""
        elapsed = time.monotonic() - self.started
        own = group_ticks(self.group) - self.own
        others = (cpu_ticks(SERVER_CPU) - self.cpu) - own
        hertz = os.sysconf("SC_CLK_TCK")
        return (max(0.0, others / (elapsed * hertz)) if elapsed else 0.0), own / hertz


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def post(
    url: str, body: bytes, timeout: float = 10.0, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers or JSON, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_ready(
    servers: Servers,
    name: str,
    url: str,
    body: bytes,
    timeout: float = 180.0,
    headers: dict[str, str] | None = None,
) -> bytes:
    """The first 200 answer to ``body``, polling until the server is up."""
    process = servers.running[name][0]
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkFailure(
                f"{name} server exited with {process.returncode}:\n{servers.log_tail(name)}"
            )
        try:
            status, answer = post(url, body, timeout=5.0, headers=headers)
        except (OSError, urllib.error.URLError) as error:
            last = str(error)
        else:
            if status == 200:
                return answer
            raise BenchmarkFailure(f"{name} answered {status}: {answer[:500]!r}")
        time.sleep(0.2)
    raise BenchmarkFailure(
        f"{name} not ready after {timeout:.0f} s ({last}):\n{servers.log_tail(name)}"
    )


# --- load ----------------------------------------------------------------------------


def wrk_script(body: bytes, headers: dict[str, str]) -> str:
    """A wrk Lua script sending ``body`` with ``headers``; every byte that is not
    plain printable ASCII is written as a decimal escape, so any body fits."""
    lines = ['wrk.method = "POST"']
    lines += [f'wrk.headers["{key}"] = "{value}"' for key, value in headers.items()]
    lines.append(f'wrk.body = "{_lua(body)}"')
    return "\n".join(lines) + "\n"


def _lua(raw: bytes) -> str:
    plain = {c for c in range(32, 127)} - {ord("\\"), ord('"')}
    return "".join(chr(c) if c in plain else f"\\{c:03d}" for c in raw)


def _duration_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(url: str, script: Path, seconds: int) -> dict[str, Any]:
    args = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s"]
    args += ["--latency", "-s", str(script), url]
    completed = subprocess.run(args, capture_output=True, text=True, check=False)
    out = completed.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if completed.returncode != 0 or rate is None or total is None:
        raise BenchmarkFailure(f"wrk failed ({completed.returncode}):\n{out}\n{completed.stderr}")
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s|m)\b", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    bad = int(non_2xx.group(1)) if non_2xx else 0
    bad += sum(int(n) for n in sockets.groups()) if sockets else 0
    return {
        "rate": float(rate.group(1)),
        "requests": int(total.group(1)),
        "p99_ms": _duration_ms(*p99.groups()) if p99 else None,
        "bad": bad,
    }


def run_hey(url: str, body: Path, headers: dict[str, str], seconds: int) -> dict[str, Any]:
    args = ["taskset", "-c", LOAD_CPU, "hey", "-z", f"{seconds}s", "-c", str(CONNECTIONS)]
    args += ["-m", "POST", "-D", str(body)]
    for key, value in headers.items():
        args += ["-T", value] if key.lower() == "content-type" else ["-H", f"{key}: {value}"]
    args.append(url)
    completed = subprocess.run(args, capture_output=True, text=True, check=False)
    out = completed.stdout
    if completed.returncode != 0 or "Latency distribution" not in out:
        raise BenchmarkFailure(f"hey failed ({completed.returncode}):\n{out}\n{completed.stderr}")
    lines = dict(re.findall(r"(\d+)%+ in ([\d.]+) secs", out))
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    statuses = {int(k): int(v) for k, v in re.findall(r"\[(\d+)\]\s+(\d+) responses", out)}
    errors = re.search(r"Error distribution:\n((?:\s+\[\d+\].*\n?)+)", out)
    failed = sum(int(n) for n in re.findall(r"\[(\d+)\]", errors.group(1))) if errors else 0
    return {
        "rate": float(rate.group(1)) if rate else None,
        "p50_ms": float(lines["50"]) * 1000 if "50" in lines else None,
        "p99_ms": float(lines["99"]) * 1000 if "99" in lines else None,
        "requests": sum(statuses.values()),
        "bad": sum(n for code, n in statuses.items() if code != 200) + failed,
    }


def load(
    name: str,
    url: str,
    body: bytes,
    seconds: int,
    workdir: Path,
    group: int,
    warmup: int = WARMUP_SECONDS,
    headers: dict[str, str] | None = None,
) -> Figures:
    """wrk for ``warmup`` seconds, then wrk and hey for ``seconds`` each, while
    watching how much of the server's CPU the rest of the machine took."""
    headers = headers or JSON
    script = workdir / f"{name}.lua"
    script.write_text(wrk_script(body, headers))
    sent = workdir / f"{name}.body"
    sent.write_bytes(body)
    warm = run_wrk(url, script, warmup)
    watch = Interference(group)
    wrk = run_wrk(url, script, seconds)
    wrk_others, own = watch.measure()
    watch = Interference(group)
    hey = run_hey(url, sent, headers, seconds)
    hey_others, _ = watch.measure()
    figures = Figures(
        server=name,
        rate=wrk["rate"],
        wrk_requests=wrk["requests"],
        wrk_p99_ms=wrk["p99_ms"],
        bad_wrk=wrk["bad"] + warm["bad"],
        p50_ms=hey["p50_ms"],
        p99_ms=hey["p99_ms"],
        hey_rate=hey["rate"],
        bad_hey=hey["bad"],
        sent=warm["requests"] + wrk["requests"] + hey["requests"],
        others=max(wrk_others, hey_others),
        cpu_us=own * 1e6 / wrk["requests"] if wrk["requests"] else None,
    )
    if figures.bad_wrk or figures.bad_hey:
        print(
            f"warning: {name} gave {figures.bad_wrk} failed responses under wrk and"
            f" {figures.bad_hey} under hey; its figures count failures as answers"
        )
    print(
        f"{name}: wrk {fmt_rate(figures.rate)} ({figures.wrk_requests:,} requests in"
        f" {seconds} s, p99 {ms(figures.wrk_p99_ms)}); hey {fmt_rate(figures.hey_rate)},"
        f" p50 {ms(figures.p50_ms)}, p99 {ms(figures.p99_ms)}; CPU {micros(figures.cpu_us)} a"
        f" request; other processes took"
        f" {wrk_others:.0%} / {hey_others:.0%} of CPU {SERVER_CPU}",
        flush=True,
    )
    if figures.others > OTHERS_LIMIT:
        print(
            f"warning: other processes took {figures.others:.0%} of the server's CPU during"
            f" {name}'s run; its figures are skewed"
        )
    return figures


def ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} ms"


def micros(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} us"
