"""A monitor reading the log of several gateway hosts from an object store: when the
requests of one host fail and the other's do not, the alert fires on the traffic of
both and names the host whose requests failed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_monitoring import (
    BROKEN,
    described,
    failing,
    monitored,
    requests,
    run_through,
    start_of,
    the_alert,
)

from prodml.client import Client
from prodml.predictions.segments import table_of, write_segment

WINDOWS = 12


@pytest.fixture
def client(s3_bucket: str, tmp_path: Path) -> Iterator[Client]:
    """A store whose blobs and prediction log are on S3 (the log beside the blobs)."""
    made = Client(
        home=str(tmp_path / "home"), artifact_url=f"s3://{s3_bucket}/prodml", user="tester"
    )
    yield made
    made.close()


def test_failures_on_one_host_alert_and_the_alert_names_that_host(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.log_files.remote
    monitored(client, "split")
    for window in range(WINDOWS):
        rows = requests("split", window)
        if window == BROKEN:
            for row in rows[1::2]:
                failing(1.0)(row)  # every request that reached gateway-b failed
        for host, share in (("gateway-a", rows[0::2]), ("gateway-b", rows[1::2])):
            monkeypatch.setenv("PRODML_HOST", host)  # as each host names its segments
            table = table_of(share, ("output", "shadow_output"))
            write_segment(client.log_files, "split", table, at=start_of(window))

    run_through(client, "split", WINDOWS)

    alert = the_alert(client, "split")
    (rate,) = [s for s in alert.signals if s.subject == "failure_rate"]
    assert rate.observed == pytest.approx(0.5, abs=0.01), described([alert])
    processes = {p["process"].split(".")[0]: p for p in alert.context["processes"]}
    assert set(processes) == {"gateway_a", "gateway_b"}
    assert processes["gateway_b"]["failure_rate"] == 1.0
    assert processes["gateway_a"]["failure_rate"] == 0.0
