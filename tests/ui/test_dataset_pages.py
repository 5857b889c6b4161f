"""Dataset pages: versions, schema, profile charts, diff, validation and its report."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from starlette.testclient import TestClient

import prodml
from prodml.client import Client
from prodml.ui.app import create_app

NAME = "transactions"


def _rows(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "amount": rng.normal(shift, 1.0, n).round(3),
            "region": rng.choice(["north", "south", "east"], size=n),
        }
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """v1; v2 with ``amount`` moved by three standard deviations and a new column."""
    client = Client(home=str(tmp_path_factory.mktemp("datasets") / ".prodml"), user="tester")
    prodml.log_dataset(NAME, _rows(400, 1), key="id", client=client)
    changed = _rows(500, 2, shift=3.0)
    changed["channel"] = "web"
    prodml.log_dataset(NAME, changed, key="id", client=client)
    prodml.validate(f"{NAME}@2", NAME, client=client)
    folder = tmp_path_factory.mktemp("scans")
    (folder / "a.txt").write_text("first")
    (folder / "b<i>.txt").write_text("second file")
    prodml.log_dataset("scans", folder, client=client)
    yield client
    client.close()


@pytest.fixture(scope="module")
def pages(store: Client) -> Iterator[TestClient]:
    with TestClient(create_app(store), base_url="http://ui.test") as client:
        yield client


def _charts(page: str) -> list[dict[str, Any]]:
    found = re.findall(r'<script type="application/json">(.*?)</script>', page, re.S)
    return [json.loads(text) for text in found]


def test_the_index_lists_each_dataset_with_its_latest_version(pages: TestClient) -> None:
    page = pages.get("/datasets")
    assert page.status_code == 200
    assert f'href="/datasets/{NAME}/2"' in page.text and ">2</td>" in page.text


def test_the_versions_page_marks_each_validated_version_with_its_verdict(
    store: Client, pages: TestClient
) -> None:
    recorded = prodml.latest_validation(f"{NAME}@2", client=store)
    assert recorded is not None
    word = "blocked" if recorded.result.blocked else "needs attention"
    rows = pages.get(f"/datasets/{NAME}").text.split("<tbody>")[1].split("</tr>")
    assert f">{word}</a>" in rows[0] and f"{NAME}@2" in rows[0]
    assert "#validation" not in rows[1] and f"{NAME}@1" in rows[1]


def test_a_version_page_shows_its_schema_and_a_chart_of_each_column(pages: TestClient) -> None:
    page = pages.get(f"/datasets/{NAME}/2")
    assert page.status_code == 200
    schema = page.text.split('<table class="schema">')[1].split("</table>")[0]
    for column, kind in (("amount", "double"), ("region", "string"), ("channel", "string")):
        assert re.search(rf"<code>{column}</code>.*?<td>\w*{kind}</td>", schema, re.S), column
    charts = _charts(page.text)
    histogram = next(c for c in charts if c.get("description") == "Distribution of amount")
    shares = [bar["share"] for bar in histogram["data"]["values"]]
    assert len(shares) == 20 and sum(shares) == pytest.approx(1.0, abs=0.01)
    lows = [bar["low"] for bar in histogram["data"]["values"]]
    assert 0.5 < float(np.median(lows)) < 5.5  # the amounts of v2, centred near 3
    top = next(c for c in charts if c.get("description") == "Distribution of region")
    assert {bar["value"] for bar in top["data"]["values"]} == {"north", "south", "east"}


def test_the_diff_shows_the_new_column_and_the_shifted_one_first(pages: TestClient) -> None:
    page = pages.get(f"/datasets/{NAME}/diff", params={"a": "1", "b": "2"})
    assert page.status_code == 200
    assert f'hx-get="/datasets/{NAME}/diff/rows?a=1&amp;b=2"' in page.text
    rows = pages.get(f"/datasets/{NAME}/diff/rows", params={"a": "1", "b": "2"})
    schema = rows.text.split('<table class="schema-changes">')[1].split("</table>")[0]
    assert "<code>channel</code>" in schema and "added" in schema
    assert re.search(r"<dt>Added</dt><dd>100</dd>", rows.text)  # ids 400..499 are new
    fragment = pages.get(
        f"/datasets/{NAME}/diff/rows", params={"a": "1", "b": "2"}, headers={"hx-request": "true"}
    )
    assert fragment.text.startswith('<div class="diff-rows">') and "<html" not in fragment.text
    shifts = page.text.split('<table class="shifts">')[1].split("</table>")[0]
    first = shifts.split("<tr")[2]  # after the header row
    assert "<code>amount</code>" in first and 'class="changed"' in first
    assert float(re.findall(r'class="num">([0-9.]+)<', first)[0]) > 0.8
    assert any(c["encoding"].get("xOffset") for c in _charts(page.text))


def test_the_latest_validation_is_shown_with_its_findings(store: Client, pages: TestClient) -> None:
    recorded = prodml.latest_validation(f"{NAME}@2", client=store)
    assert recorded is not None and recorded.result.findings
    page = pages.get(f"/datasets/{NAME}/2").text
    assert "blocked" in page or "needs attention" in page
    findings = page.split('<table class="findings">')[1].split("</table>")[0]
    first = recorded.result.findings[0]
    assert first.statistic in findings and str(first.column) in findings
    assert "not validated" in pages.get(f"/datasets/{NAME}/1").text.lower()


def test_the_report_is_served_under_a_sandboxing_csp(pages: TestClient) -> None:
    report = pages.get(f"/datasets/{NAME}/2/report")
    assert report.status_code == 200
    policies = report.headers.get_list("content-security-policy")
    assert any(p.startswith("sandbox") for p in policies)
    assert "Validation of transactions@2" in report.text and "<svg" in report.text
    never = pages.get(f"/datasets/{NAME}/1/report")
    assert never.status_code == 404 and "prodml validate transactions@1" in never.text


def test_a_set_of_files_lists_its_files_by_path(pages: TestClient) -> None:
    page = pages.get("/datasets/scans/1")
    assert page.status_code == 200
    files = page.text.split('<table class="files">')[1].split("</table>")[0]
    assert "<code>a.txt</code>" in files and "<code>b&lt;i&gt;.txt</code>" in files
    assert '<td class="num">11</td>' in files


@pytest.mark.parametrize(
    "path", ["/datasets/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/datasets/..%2F..%2Fetc/1"]
)
def test_a_hostile_name_gets_a_clean_404_with_the_text_escaped(
    pages: TestClient, path: str
) -> None:
    page = pages.get(path)
    assert page.status_code == 404
    assert "<script>alert" not in page.text and "Traceback" not in page.text


def test_an_overlong_name_or_version_is_refused_with_400(pages: TestClient) -> None:
    assert pages.get("/datasets/" + "x" * 500).status_code == 400
    assert pages.get(f"/datasets/{NAME}/{'1' * 100}").status_code == 400
    assert pages.get(f"/datasets/{NAME}/diff", params={"a": "9"}).status_code == 404
