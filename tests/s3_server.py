"""A real S3 API on loopback: moto's server in a child process, with signatures checked.

The server gets a free port on 127.0.0.1, an IAM user whose access key may do anything
on S3, and then enforces authentication: a request signed with any other secret is
refused as AWS would refuse it. Clients reach it through the usual AWS environment
(``AWS_ENDPOINT_URL`` and friends, see :meth:`S3Server.env`), never through a file.

Used by the ``s3_server`` and ``s3_bucket`` fixtures of ``tests/conftest.py`` and by
``benchmarks/scale_blobs.py``::

    with start_s3_server() as server:
        bucket = server.create_bucket()
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

REGION = "us-east-1"
# Variables that would make a client read credentials or settings from elsewhere.
AWS_OVERRIDES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL_S3",
    "FSSPEC_S3",
    "FSSPEC_S3_ENDPOINT_URL",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class S3Server:
    """A running moto server and the credentials it accepts."""

    endpoint: str
    access_key: str
    secret_key: str
    process: subprocess.Popen[bytes]
    log: Path
    region: str = REGION
    buckets: list[str] = field(default_factory=list)
    _clients: dict[str, Any] = field(default_factory=dict)

    def env(self, **changes: str) -> dict[str, str]:
        """The AWS variables a client needs to reach this server, with ``changes``."""
        values = {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
            # The server is local: a refused connection is final, not worth five tries.
            "AWS_MAX_ATTEMPTS": "2",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        values.update(changes)
        return values

    def client(self, service: str = "s3") -> Any:
        """A botocore client on this server with the valid credentials (made once)."""
        if service not in self._clients:
            import botocore.session

            self._clients[service] = botocore.session.Session().create_client(
                service,
                region_name=self.region,
                endpoint_url=self.endpoint,
                aws_access_key_id=self.access_key,
                aws_secret_access_key=self.secret_key,
            )
        return self._clients[service]

    def create_bucket(self, name: str | None = None) -> str:
        bucket = name or f"prodml-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=bucket)
        self.buckets.append(bucket)
        return bucket

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.running:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        with contextlib.suppress(OSError):
            self.log.unlink()

    def __enter__(self) -> S3Server:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _post(endpoint: str, path: str, body: bytes) -> None:
    request = urllib.request.Request(
        f"{endpoint}{path}", data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        json.loads(answer.read())


def _launch(timeout: float) -> tuple[str, subprocess.Popen[bytes], Path]:
    """Start the server on a free port and wait until it answers; a port taken in
    between by another program is tried again on another port."""
    for _ in range(3):
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        handle, name = tempfile.mkstemp(prefix="moto-", suffix=".log")
        log = Path(name)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
        with os.fdopen(handle, "wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            if _answers(endpoint):
                return endpoint, process, log
            time.sleep(0.05)
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
            raise RuntimeError(f"moto's server did not answer in {timeout:.0f} s: {log}")
        if "Address already in use" not in log.read_text(errors="replace"):
            raise RuntimeError(f"moto's server stopped at start:\n{log.read_text()[-2000:]}")
        log.unlink()
    raise RuntimeError("moto's server found no free port in 3 tries")


def start_s3_server(timeout: float = 60, auth: bool = True) -> S3Server:
    """moto's S3 on a free loopback port, answering only requests signed by its user
    (with ``auth=False``, any key: quicker to start, for a server that is stopped soon)."""
    endpoint, process, log = _launch(timeout)
    server = S3Server(endpoint, "testing", "testing-secret", process, log)
    if not auth:
        return server
    try:
        import botocore.session

        # Until authentication is turned on, any key may set up the user.
        iam = botocore.session.Session().create_client(
            "iam",
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )
        iam.create_user(UserName="prodml-tests")
        everything = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.put_user_policy(
            UserName="prodml-tests", PolicyName="s3", PolicyDocument=json.dumps(everything)
        )
        key = iam.create_access_key(UserName="prodml-tests")["AccessKey"]
        server.access_key, server.secret_key = key["AccessKeyId"], key["SecretAccessKey"]
        _post(endpoint, "/moto-api/reset-auth", b"0")
    except BaseException:
        server.stop()
        raise
    return server
