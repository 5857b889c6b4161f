"""The runs pages in-process: search with the filter language (chosen columns, sort
links, pages, parallel coordinates), a run's page with everything it links to, and
runs compared side by side with their curves overlaid; bad input fails alone."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from seed import DATASET, MODEL
from starlette.testclient import TestClient

import prodml
from prodml.client import Client


def _charts(page: str) -> list[dict[str, Any]]:
    found = re.findall(r'<script type="application/json">(.*?)</script>', page, re.S)
    return [json.loads(text) for text in found]


def _table_ids(page: str) -> list[str]:
    body = page.split('id="runs"')[1].split("</table>")[0]
    return re.findall(r'name="id" value="([0-9a-f]{32})"', body)


@pytest.fixture
def sweep(sqlite_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Twelve runs: depth cycles 4, 6, 8; auc rises with the run's number."""
    monkeypatch.chdir(tmp_path)  # no code diff of this checkout
    ids = []
    for number in range(12):
        config = {"depth": 4 + 2 * (number % 3), "opt": {"name": ("adam", "sgd")[number % 2]}}
        with prodml.start_run(
            "sweep", config=config, hypothesis=f"run {number} <b>bold</b>", client=sqlite_client
        ) as run:
            run.log_metric("auc", 0.5 + number / 100)
            ids.append(run.id)
    return ids


def test_search_filters_sorts_and_shows_the_chosen_columns(
    dashboard: TestClient, sweep: list[str]
) -> None:
    query = {
        "filter": "config.depth = 6 and metrics.auc > 0.52",
        "order": "metrics.auc",
        "desc": "1",
        "columns": "config.depth,metrics.auc",
    }
    page = dashboard.get("/runs", params=query)
    assert page.status_code == 200
    assert _table_ids(page.text) == [sweep[10], sweep[7], sweep[4]]  # depth 6, auc desc
    assert "Runs 1-3 of 3." in page.text
    assert '<td class="num">0.6</td>' in page.text  # run 10's auc in its column
    headers = re.findall(r'<th class="num"><a href="([^"]+)">([^<]+)</a>', page.text)
    assert [name for _, name in headers] == ["config.depth", "metrics.auc"]
    flipped = parse_qs(
        urlparse(html.unescape(dict((n, h) for h, n in headers)["metrics.auc"])).query
    )
    assert flipped["order"] == ["metrics.auc"] and "desc" not in flipped  # ascending next
    assert "&lt;b&gt;bold&lt;/b&gt;" in page.text and "<b>bold</b>" not in page.text


def test_pages_follow_the_next_link_to_the_end(dashboard: TestClient, sweep: list[str]) -> None:
    first = dashboard.get("/runs", params={"order": "metrics.auc", "limit": "10"})
    assert _table_ids(first.text) == sweep[:10]
    following = re.search(r'<a href="([^"]+)" id="next-page">', first.text)
    assert following is not None
    second = dashboard.get(html.unescape(following.group(1)))
    assert _table_ids(second.text) == sweep[10:]
    assert "Runs 11-12 of 12." in second.text and 'id="next-page"' not in second.text


def test_parallel_coordinates_draw_varying_config_against_the_metric(
    dashboard: TestClient, sweep: list[str]
) -> None:
    page = dashboard.get("/runs", params={"order": "metrics.auc", "desc": "1"})
    (spec,) = _charts(page.text)
    lines = spec["layer"][0]["data"]["values"]
    axes = {value["axis"] for value in lines}
    assert axes == {"config.depth", "config.opt.name", "metrics.auc"}
    assert {value["run"] for value in lines} == {run_id[:12] for run_id in sweep}
    top = [v for v in lines if v["axis"] == "metrics.auc" and v["run"] == sweep[11][:12]]
    assert top[0]["at"] == 1.0  # the best run sits at the top of the metric's axis


@pytest.mark.parametrize(
    "filter_text,message",
    [
        ("metrics.auc >", "expected a value"),
        ("config.depth = 6'); DROP TABLE runs; --", "never closed"),
        ("<script>alert(1)</script> = 1", "expected a field"),
        ("metrics.auc > 0.5 or " * 300, "longer than 4096 characters"),
    ],
)
def test_a_bad_filter_is_shown_beside_the_form_and_changes_nothing(
    dashboard: TestClient, sweep: list[str], filter_text: str, message: str
) -> None:
    page = dashboard.get("/runs", params={"filter": filter_text})
    assert page.status_code == 400
    assert 'id="problem"' in page.text and message in page.text
    assert "<script>alert" not in page.text
    assert 'name="filter"' in page.text  # the form is still there to fix it
    assert "Runs 1-12 of 12." in dashboard.get("/runs").text


@pytest.mark.parametrize(
    "query",
    [{"columns": "metrics.auc;drop"}, {"limit": "7"}, {"order": "x" * 400}, {"page": "bogus"}],
)
def test_bad_parameters_are_refused_alone(
    dashboard: TestClient, sweep: list[str], query: dict[str, str]
) -> None:
    assert dashboard.get("/runs", params=query).status_code == 400
    assert dashboard.get("/runs").status_code == 200


@pytest.fixture
def seeded_pages(seeded_store: Any) -> Iterator[tuple[TestClient, tuple[str, ...]]]:
    from prodml.ui.app import create_app

    with TestClient(create_app(seeded_store.client), base_url="http://ui.test") as client:
        yield client, seeded_store.seeded.run_ids


def test_a_run_page_shows_hypothesis_config_inputs_models_and_curves(
    seeded_pages: tuple[TestClient, tuple[str, ...]],
) -> None:
    pages, run_ids = seeded_pages
    page = pages.get(f"/runs/{run_ids[0][:10]}")
    assert page.status_code == 200
    assert "With C=1.0 on a,b, accuracy stays above 0.8." in page.text
    assert "config.solver" in page.text and "lbfgs" in page.text
    assert f'href="/datasets/{DATASET}/2"' in page.text
    assert f'href="/models/{MODEL}/1"' in page.text
    assert 'id="lineage"' in page.text and f"ref={run_ids[0]}" in page.text
    (loss,) = [spec for spec in _charts(page.text) if spec["title"] == "loss"]
    assert len(loss["data"]["values"]) == 20
    assert "python" in page.text.split('id="environment"')[1]


def test_compare_marks_the_rows_that_differ_and_overlays_the_curves(
    seeded_pages: tuple[TestClient, tuple[str, ...]],
) -> None:
    pages, run_ids = seeded_pages
    page = pages.get("/runs/compare", params={"ids": ",".join(run_ids)})
    assert page.status_code == 200
    changed = re.findall(r'<tr class="changed"><td>([^<]+)</td>', page.text)
    assert "C" in changed and "features" in changed and "solver" not in changed
    (curves,) = _charts(page.text)
    assert curves["title"] == "loss"
    assert {v["run"] for v in curves["data"]["values"]} == {r[:12] for r in run_ids}
    only = pages.get("/runs/compare", params={"ids": ",".join(run_ids), "changes": "1"})
    assert "<td>solver</td>" not in only.text and "<td>C</td>" in only.text


@pytest.mark.parametrize(
    "query,message",
    [
        ({"ids": "abcdef1"}, "Compare 2 to 10 runs"),
        ({"ids": ",".join(f"{n:032x}" for n in range(11))}, "Compare 2 to 10 runs"),
        ({"ids": "zz'; drop,abcdef"}, "is not a run id"),
        ({"ids": "abcdef12,abcdef34"}, "No run"),
    ],
)
def test_compare_refuses_bad_selections_clearly(
    seeded_pages: tuple[TestClient, tuple[str, ...]], query: dict[str, str], message: str
) -> None:
    pages, _ = seeded_pages
    page = pages.get("/runs/compare", params=query)
    assert page.status_code in (400, 404)
    assert message in page.text


def test_a_run_that_does_not_exist_is_a_404(
    seeded_pages: tuple[TestClient, tuple[str, ...]],
) -> None:
    pages, _ = seeded_pages
    assert pages.get("/runs/abcdef0123").status_code == 404
    assert pages.get("/runs/not-hex").status_code == 400


def test_a_pipeline_run_lists_its_steps_and_a_step_links_back(
    sqlite_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa

    from prodml.ui.app import create_app

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "two_steps.py").write_text(
        "import pyarrow as pa\n"
        "def double(numbers):\n"
        "    return pa.table({'x': [v * 2 for v in numbers['x'].to_pylist()]})\n"
        "def score(table):\n    return {'total': float(sum(table['x'].to_pylist()))}\n"
    )
    (tmp_path / "pipeline.yaml").write_text(
        "name: doubling\nsteps:\n"
        "  - {name: double, function: 'two_steps:double', inputs: {numbers: numbers@latest}}\n"
        "  - {name: score, function: 'two_steps:score', inputs: {table: double}}\n"
    )
    prodml.log_dataset("numbers", pa.table({"x": [1, 2, 3]}), client=sqlite_client)
    prodml.run_pipeline(tmp_path / "pipeline.yaml", client=sqlite_client)
    again = prodml.run_pipeline(tmp_path / "pipeline.yaml", client=sqlite_client)

    with TestClient(create_app(sqlite_client), base_url="http://ui.test") as pages:
        page = pages.get(f"/runs/{again.run_id}").text
        step = pages.get(f"/runs/{again.steps[0].run_id}").text

    children = page.split('id="children"')[1].split("</table>")[0]
    assert [c.split("</td>")[0] for c in children.split("<td>")[2::5]] == ["double", "score"]
    assert children.count("reused") == 2 and "total=12" in children
    assert f'href="/runs/{again.run_id}" id="parent"' in step and "(step double)" in step
    assert f'href="/runs/{again.steps[0].reused_from}" id="builds-on"' in step
