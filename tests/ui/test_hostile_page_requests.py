"""What a careless or hostile browser sends the dashboard: names holding '/', digits
that are not ASCII, forms too large to declare their length. Each gets a page that
says what is wrong (never a 500), and the names' pages are reachable from their links."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from starlette.testclient import TestClient

import prodml
from prodml.client import Client


@pytest.fixture
def slashed(sqlite_client: Client) -> Client:
    """A dataset team/flights and a model team/churn logged from it, beside a dataset
    flights and a model team (whose version 1 the other's name could be mistaken for)."""
    rows = pd.DataFrame({"id": np.arange(50), "x": np.linspace(-1, 1, 50)})
    rows["y"] = (rows["x"] > 0).astype("int64")
    data = prodml.log_dataset("team/flights", rows, key="id", client=sqlite_client)
    prodml.log_dataset("flights", rows, key="id", client=sqlite_client)
    with prodml.start_run("fit", inputs=[data], client=sqlite_client) as run:
        model = LogisticRegression().fit(rows[["x"]], rows["y"])
        run.log_model(model, "team/churn", example=rows[["x"]].head())
        run.log_model(model, "team", example=rows[["x"]].head())
    return sqlite_client


def _links(page: str, prefix: str) -> list[str]:
    return re.findall(rf'href="({re.escape(prefix)}[^"?#]*)"', page)


def test_a_name_holding_a_slash_has_pages_its_links_reach(
    slashed: Client, dashboard: TestClient
) -> None:
    models = dashboard.get("/models").text
    assert "/models/team%2Fchurn" in _links(models, "/models/")
    page = dashboard.get("/models/team%2Fchurn")
    assert page.status_code == 200, page.text[:300]
    assert "team/churn" in page.text
    version = dashboard.get("/models/team%2Fchurn/1")
    assert version.status_code == 200 and "team/churn" in version.text
    other = dashboard.get("/models/team/1")  # model team, version 1: a name without '/'
    assert other.status_code == 200
    datasets = dashboard.get("/datasets").text
    assert "/datasets/team%2Fflights" in _links(datasets, "/datasets/")
    for path in ("/datasets/team%2Fflights", "/datasets/team%2Fflights/1"):
        shown = dashboard.get(path)
        assert shown.status_code == 200, (path, shown.text[:300])
        assert "team/flights" in shown.text


@pytest.mark.parametrize(
    "path",
    [
        "/runs?limit=%C2%B2",
        "/models/team/%C2%B2",
        "/models/team%2Fchurn/%C2%B2",
        "/models/team/compare?a=1&b=%C2%B2",
        "/datasets/flights/%C2%B2",
        "/datasets/flights/diff?a=%C2%B2&b=1",
        "/datasets/flights/diff/rows?a=%C2%B2&b=1",
        "/lineage?ref=team%40%C2%B2",
    ],
)
def test_digits_that_are_not_ascii_are_refused_not_crashed(
    slashed: Client, dashboard: TestClient, path: str
) -> None:
    response = dashboard.get(path)  # the test client raises on a server error
    assert response.status_code in (400, 404), (path, response.status_code)
    assert "failed" not in response.text.lower()


def test_a_chunked_form_past_the_limit_is_refused_before_it_is_parsed(
    dashboard: TestClient,
) -> None:
    dashboard.get("/login")

    def body() -> Iterator[bytes]:  # no length declared: sent chunked
        yield b"token=x&csrf=y&pad="
        for _ in range(64):
            yield b"a" * 4_096

    response = dashboard.post(
        "/login", content=body(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    assert "too large" in response.text
