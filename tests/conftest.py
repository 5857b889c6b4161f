"""Shared fixtures: a client on a fresh store, on SQLite always and on PostgreSQL
whenever ``PRODML_TEST_POSTGRES_URL`` is set (CI always sets it); a real S3 API
(moto's server on loopback) and fresh buckets on it."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prodml.client import Client
from prodml.stores.postgres_schema import throwaway_schema
from s3_server import AWS_OVERRIDES, S3Server, start_s3_server

POSTGRES_URL = os.environ.get("PRODML_TEST_POSTGRES_URL")


def _postgres_or_skip() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    if os.environ.get("CI"):
        pytest.fail("CI must test the PostgreSQL store: set PRODML_TEST_POSTGRES_URL.")
    pytest.skip("PRODML_TEST_POSTGRES_URL is not set; the PostgreSQL store is not tested.")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on a loopback port, started once per test process."""
    try:
        import moto.server  # noqa: F401
        import s3fs  # noqa: F401
    except ImportError as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test blobs on S3: {error}. Install the dev extras.")
        pytest.skip(f"{error}: blobs on S3 are not tested (pip install -e '.[dev]').")
    server = start_s3_server()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the test S3 server, the AWS environment pointing at it."""
    for name in AWS_OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server.create_bucket()


@pytest.fixture
def postgres_server() -> str:
    """The URL of the test PostgreSQL itself (its default schema)."""
    return _postgres_or_skip()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL to a fresh, empty schema on the test PostgreSQL, dropped afterwards."""
    with throwaway_schema(postgres_server, "t") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'prodml.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def client(tmp_path: Path, metadata_url: str) -> Iterator[Client]:
    """A client on a fresh store: metadata on each database, blobs in a temp folder."""
    made = Client(
        home=str(tmp_path / "home"),
        metadata_url=metadata_url,
        artifact_url=str(tmp_path / "blobs"),
        user="tester",
        flush_interval=0.05,
    )
    yield made
    made.close()


@pytest.fixture
def sqlite_client(tmp_path: Path) -> Iterator[Client]:
    """A client on the embedded default layout under a temp PRODML_HOME."""
    made = Client(home=str(tmp_path / ".prodml"), user="tester", flush_interval=0.05)
    yield made
    made.close()


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI must test batch work on Ray: install the dev extras (prodml[ray]).")
        pytest.skip(
            "Ray is not installed (pip install 'prodml[ray]'); batch work on Ray is untested."
        )
    return ray


@pytest.fixture
def ray_module() -> Any:
    """Ray's module: a test fails in CI, and is skipped elsewhere, where it is missing."""
    return _ray()


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray of 2 CPUs for the module's tests; yields its address."""
    ray = _ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
