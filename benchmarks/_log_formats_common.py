"""What the prediction-log format benchmark shares: a moto S3 server on loopback, the
log's rows, and the settings each library needs to reach that server."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa

BUCKET = "prodml-log"
MODEL = "flights"
HOSTS = 3  # gateway hosts writing side by side
ROWS = 200  # rows a flush
INPUTS = pa.struct([(f"x{i}", pa.float64()) for i in range(4)])
SCHEMA = pa.schema(
    [
        ("row_id", pa.string()),
        ("request_id", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("model", pa.string()),
        ("version", pa.int64()),
        ("variant", pa.string()),
        ("latency_ms", pa.float64()),
        ("output", pa.float64()),
        ("inputs", INPUTS),
    ]
)


def dummy_aws(endpoint: str) -> dict[str, str]:
    """The environment every client here reads: dummy keys and the moto endpoint."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_REQUEST = re.compile(rb'"(?:\x1b\[[0-9;]*m)*(GET|PUT|POST|HEAD|DELETE) ')  # colours: 2xx/4xx
_LOG = Path(tempfile.gettempdir()) / f"prodml-log-formats-moto-{os.getpid()}.log"


def requests() -> dict[str, int]:
    """S3 requests the moto server has answered so far, by method (from its access log)."""
    counts: dict[str, int] = {}
    with _LOG.open("rb") as log:
        for found in _REQUEST.finditer(log.read()):
            method = found.group(1).decode()
            counts[method] = counts.get(method, 0) + 1
    return counts


def since(before: dict[str, int]) -> dict[str, int]:
    now = requests()
    return {k: now[k] - before.get(k, 0) for k in now if now[k] - before.get(k, 0)}


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server in server mode on loopback, with the bucket made; yields its URL
    and sets the AWS variables in this process (child processes inherit them). Its
    access log (one line a request) is kept to count requests."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = _LOG.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=log,
    )
    try:
        os.environ.update(dummy_aws(endpoint))
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.1)
        filesystem().mkdir(BUCKET)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        _LOG.unlink(missing_ok=True)


def filesystem() -> object:
    """An s3fs filesystem on the moto server (a new one: no listing cache shared)."""
    import s3fs

    return s3fs.S3FileSystem(
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        key="testing",
        secret="testing",
        use_listings_cache=False,
        skip_instance_cache=True,
    )


def delta_options() -> dict[str, str]:
    """deltalake's storage options: plain HTTP to moto, and commits made safe between
    writers by a conditional put (``If-None-Match: *`` on the log entry), which AWS S3
    and moto both honour, instead of a DynamoDB lock."""
    return {
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
        "aws_conditional_put": "etag",
    }


def batch(host: int, flush: int, at: float, rows: int = ROWS, seed: int = 0) -> pa.Table:
    """One flush of ``rows`` served rows of one host, their times spread over the second
    before ``at`` (epoch seconds); row ids are unique across hosts and flushes."""
    rng = np.random.default_rng([seed, host, flush])
    base = uuid.uuid4().hex[:8]
    ids = [f"{host}-{flush}-{base}-{i}" for i in range(rows)]
    micros = (at * 1e6 - rng.uniform(0, 1e6, rows)).astype("int64")
    inputs = pa.StructArray.from_arrays(
        [pa.array(rng.normal(size=rows)) for _ in range(4)], fields=list(INPUTS)
    )
    columns = [
        pa.array(ids),
        pa.array([f"r{i}" for i in ids]),
        pa.array(micros, pa.timestamp("us", tz="UTC")),
        pa.array([MODEL] * rows),
        pa.array(rng.integers(1, 4, rows)),
        pa.array(np.where(rng.uniform(size=rows) < 0.1, "candidate", "champion")),
        pa.array(rng.gamma(2.0, 3.0, rows)),
        pa.array(rng.uniform(size=rows)),
        inputs,
    ]
    return pa.Table.from_arrays(columns, schema=SCHEMA)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")
