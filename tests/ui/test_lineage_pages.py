"""The lineage page: a model version's graph reaches its run and dataset, aliases
resolve, "as of" leaves out what came later, hostile references fail cleanly."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from small_store import DATASET, MODEL, Built, build
from starlette.testclient import TestClient

from prodml.client import Client
from prodml.ui.app import create_app


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Built, TestClient]]:
    client = Client(home=str(tmp_path_factory.mktemp("lineage") / ".prodml"), user="tester")
    made = build(client)
    with TestClient(create_app(client), base_url="http://ui.test") as pages:
        yield made, pages
    client.close()


def _links(page: str, heading: str) -> set[str]:
    section = page.split(heading)[1].split("</table>")[0]
    return set(re.findall(r'<td><a href="([^"]+)">', section))


def test_a_model_versions_lineage_reaches_its_run_and_dataset(
    built: tuple[Built, TestClient],
) -> None:
    made, pages = built
    page = pages.get("/lineage", params={"ref": f"{MODEL}@1"})
    assert page.status_code == 200
    upstream = _links(page.text, "Upstream:")
    assert {f"/runs/{made.run_id}", f"/datasets/{DATASET}/1"} <= upstream
    assert f'<a href="/datasets/{DATASET}/1">' in page.text.split("<svg")[1]  # a node in the graph


def test_an_alias_in_the_reference_resolves_to_its_version(
    built: tuple[Built, TestClient],
) -> None:
    made, pages = built
    page = pages.get("/lineage", params={"ref": f"{MODEL}@champion"})
    assert page.status_code == 200 and f"model {MODEL}@1" in page.text
    assert f"/runs/{made.run_id}" in _links(page.text, "Upstream:")


def test_as_of_before_the_run_leaves_out_the_run_and_model_downstream(
    built: tuple[Built, TestClient],
) -> None:
    made, pages = built
    now = pages.get("/lineage", params={"ref": f"{DATASET}@1"}).text
    assert {f"/runs/{made.run_id}", f"/models/{MODEL}/1"} <= _links(now, "Downstream:")
    then = pages.get(
        "/lineage", params={"ref": f"{DATASET}@1", "as_of": made.before_run.isoformat()}
    )
    assert then.status_code == 200
    downstream = then.text.split("Downstream:")[1]
    assert f"/runs/{made.run_id}" not in downstream and f"/models/{MODEL}/1" not in downstream


@pytest.mark.parametrize("ref", ["../../etc", "<script>alert(1)</script>", "x@<b>y</b>"])
def test_a_hostile_reference_gets_a_clean_page_with_the_text_escaped(
    built: tuple[Built, TestClient], ref: str
) -> None:
    _, pages = built
    page = pages.get("/lineage", params={"ref": ref})
    assert page.status_code in (400, 404)
    assert "<script>alert" not in page.text and "<b>y</b>" not in page.text
    assert "Traceback" not in page.text and 'role="alert"' in page.text


def test_a_bad_time_or_an_overlong_reference_is_a_400_naming_the_field(
    built: tuple[Built, TestClient],
) -> None:
    _, pages = built
    bad_time = pages.get("/lineage", params={"ref": f"{MODEL}@1", "as_of": "soon"})
    assert bad_time.status_code == 400 and "As of &#39;soon&#39; is not a time" in bad_time.text
    assert pages.get("/lineage", params={"ref": "x" * 400}).status_code == 400


def test_open_finds_a_versions_page_from_its_id(built: tuple[Built, TestClient]) -> None:
    made, pages = built
    model = pages.get(f"/open/model/{made.model.id}", follow_redirects=False)
    assert model.headers["location"] == f"/models/{MODEL}/1"
    dataset = pages.get(f"/open/dataset/{made.dataset.id}", follow_redirects=False)
    assert dataset.headers["location"] == f"/datasets/{DATASET}/1"
    assert pages.get("/open/planet/earth").status_code == 404
