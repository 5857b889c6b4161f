"""The model pages on the seeded store: every model, a model's versions with the
champion and its alias history (forced moves marked), a version's evaluation, gate
and sign-off, "as of" a past time, and approving from the dashboard."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from seed import HOLDOUT, MODEL, Seeded, seed
from sklearn.linear_model import LogisticRegression
from starlette.testclient import TestClient
from ui_forms import csrf_of

import prodml
from prodml.client import Client
from prodml.ui.app import create_app


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, Seeded]]:
    client = Client(home=str(tmp_path_factory.mktemp("models") / ".prodml"), user="tester")
    made = seed(client)
    yield client, made
    client.close()


@pytest.fixture
def pages(seeded: tuple[Client, Seeded]) -> Iterator[TestClient]:
    with TestClient(
        create_app(seeded[0]), base_url="http://ui.test", follow_redirects=False
    ) as client:
        yield client


def _charts(page: str) -> list[dict[str, object]]:
    found = re.findall(r'<script type="application/json">(.*?)</script>', page, re.S)
    return [json.loads(text) for text in found]


def _aliases(page: str) -> dict[str, str]:
    section = page.split('id="aliases"')[1].split("</dl>")[0]
    return dict(re.findall(r"<dt>([^<]+)</dt><dd><a [^>]+>[^@<]+@(\d+)</a>", section))


def test_the_models_list_names_each_model_with_its_champion(pages: TestClient) -> None:
    page = pages.get("/models")
    assert page.status_code == 200
    assert f'href="/models/{MODEL}"' in page.text
    assert f'href="/models/{MODEL}/2">v2</a>' in page.text  # the champion


def test_a_model_page_shows_the_champion_versions_and_alias_history(
    seeded: tuple[Client, Seeded], pages: TestClient
) -> None:
    (forced_move,) = [m for m in prodml.model_history(MODEL, client=seeded[0]).moves if m.forced]
    page = pages.get(f"/models/{MODEL}").text

    assert _aliases(page) == {"challenger": "3", "champion": "2"}
    versions = page.split('id="versions"')[1].split("</table>")[0]
    assert [f"{MODEL}@3", f"{MODEL}@2", f"{MODEL}@1"] == re.findall(r">(fraud@\d)</a>", versions)
    moves = page.split('id="moves"')[1].split("</table>")[0]
    forced_row = moves.split('class="changed"')[1].split("</tr>")[0]
    assert str(forced_move.reason) in forced_row and "forced" in forced_row
    (timeline,) = [c for c in _charts(page) if "layer" in c]
    spans, _, forced = (layer["data"]["values"] for layer in timeline["layer"])  # type: ignore[index]
    champion = [(s["version"], s["by"]) for s in spans if s["alias"] == "champion"]
    assert champion == [("v1", "tester"), ("v2", "tester")]
    assert [(m["alias"], m["version"]) for m in forced] == [("champion", "v2")]


def test_as_of_a_time_before_the_forced_move_shows_the_alias_then(
    seeded: tuple[Client, Seeded], pages: TestClient
) -> None:
    client = seeded[0]
    first, second = [m for m in prodml.model_history(MODEL, client=client).moves][:2]
    between = datetime.fromtimestamp((first.at.timestamp() + second.at.timestamp()) / 2, UTC)

    page = pages.get(f"/models/{MODEL}", params={"as_of": between.isoformat()}).text
    assert _aliases(page) == {"champion": "1"}
    assert "forced" not in page.split('id="moves"')[1]
    version = pages.get(f"/models/{MODEL}/champion", params={"as_of": between.isoformat()})
    assert f"Model {MODEL}@1" in version.text and "is v1" in version.text
    early = pages.get(f"/models/{MODEL}", params={"as_of": "2001-01-01"}).text
    assert "No alias named a version then" in early
    before_any = pages.get(f"/models/{MODEL}/3", params={"as_of": "2001-01-01"}).text
    assert "Not evaluated yet" in before_any and "Never compared" in before_any
    refused = pages.get(f"/models/{MODEL}", params={"as_of": "last tuesday"})
    assert refused.status_code == 400 and "is not a time" in refused.text


def test_a_version_page_shows_its_evaluation_with_intervals_and_the_gate(
    pages: TestClient,
) -> None:
    page = pages.get(f"/models/{MODEL}/3").text

    scores = page.split('id="scores"')[1].split("</table>")[0]
    assert "large" in scores and "region" in scores and "[" in scores
    (estimates,) = [c for c in _charts(page) if "facet" in c]
    rows = estimates["data"]["values"]  # type: ignore[index]
    assert all(r["low"] <= r["value"] <= r["high"] for r in rows)
    assert {r["metric"] for r in rows} == {"auc", "accuracy"}
    gate = page.split('id="gate"')[1].split("</div>")[0]
    assert "accuracy" in gate and re.search(r"badge (ok|bad|warn)\">(pass|fail|inconclusive)", gate)


def test_compare_shows_champion_and_challenger_differences_per_slice(pages: TestClient) -> None:
    page = pages.get(f"/models/{MODEL}/compare").text

    assert f"{MODEL}@2 vs {MODEL}@3" in page
    assert "Compared on the same rows" in page
    differences = page.split('id="differences"')[1].split("</table>")[0]
    assert "large" in differences and "accuracy" in differences
    (estimates,) = [c for c in _charts(page) if "facet" in c]
    sides = {r["side"] for r in estimates["data"]["values"]}  # type: ignore[index]
    assert sides == {f"{MODEL}@2", f"{MODEL}@3"}


def _login(pages: TestClient, token: str) -> None:
    form = pages.get("/login").text
    done = pages.post("/login", data={"token": token, "csrf": csrf_of(form)})
    assert done.status_code == 303


def test_approving_in_the_dashboard_records_the_logged_in_user_and_enables_promotion(
    tmp_path: Path,
) -> None:
    client = Client(home=str(tmp_path / ".prodml"), user="tester")
    try:
        seed(client)
        prodml.require_approval(MODEL, "alice", client=client)
        token = prodml.create_token("alice", "deployer", client=client)
        app = create_app(client)
        with TestClient(app, base_url="http://ui.test", follow_redirects=False) as pages:
            before = pages.get(f"/models/{MODEL}/3").text
            assert "Log in</a> as alice to approve" in before
            with pytest.raises(prodml.ProdmlError, match="alice has not approved"):
                prodml.promote(MODEL, 3, force=True, why="canary went well", client=client)

            _login(pages, token)
            page = pages.get(f"/models/{MODEL}/3").text
            assert "Approve v3 as alice" in page
            approved = pages.post(
                f"/models/{MODEL}/3/approve",
                data={"csrf": csrf_of(page), "why": "slices look right"},
            )
            assert approved.status_code == 303
            after = pages.get(f"/models/{MODEL}/3").text

        (approval,) = prodml.approvals(MODEL, 3, client=client).given
        assert (approval.approver, approval.reason) == ("alice", "slices look right")
        assert "sign-off complete" in after
        prodml.promote(MODEL, 3, force=True, why="canary went well", client=client)
        assert prodml.get_model(f"{MODEL}@champion", client=client).version == 3
    finally:
        client.close()


def test_a_read_only_dashboard_refuses_to_approve_with_403(
    seeded: tuple[Client, Seeded],
) -> None:
    with TestClient(create_app(seeded[0], read_only=True), base_url="http://ui.test") as pages:
        page = pages.get(f"/models/{MODEL}/3")
        csrf = re.search(r'name="csrf" value="([^"]*)"', page.text)
        refused = pages.post(
            f"/models/{MODEL}/3/approve", data={"csrf": csrf.group(1) if csrf else "x"}
        )
    assert refused.status_code == 403 and "read-only" in refused.text
    assert "Approve v3" not in page.text and "Promote v3" not in page.text


def test_approving_without_logging_in_is_refused(pages: TestClient) -> None:
    page = pages.get(f"/models/{MODEL}/3").text
    refused = pages.post(f"/models/{MODEL}/3/approve", data={"csrf": csrf_of(page)})
    assert refused.status_code == 403 and "Log in with your token to approve" in refused.text


def test_hostile_names_and_versions_fail_alone_with_a_clear_page(pages: TestClient) -> None:
    missing = pages.get("/models/no-such-model")
    assert missing.status_code == 404 and "Traceback" not in missing.text
    script = pages.get(f"/models/{MODEL}/<script>alert(1)</script>")
    assert script.status_code == 404 and "<script>alert(1)" not in script.text
    long = pages.get(f"/models/{MODEL}", params={"as_of": "x" * 100})
    assert long.status_code == 400


def test_a_version_page_shows_its_guardrails_as_attached(sqlite_client: Client) -> None:
    frame = pd.DataFrame({"a": [0.1, -0.2, 0.3, -0.4], "b": [1.0, 2.0, 3.0, 4.0]})
    with prodml.start_run("fit", client=sqlite_client) as run:
        run.log_model(LogisticRegression().fit(frame, [1, 0, 1, 0]), "m", frame)
    rules = {"rules": [{"name": "unsure", "confidence_below": 0.6, "abstain": True}]}
    with TestClient(create_app(sqlite_client), base_url="http://ui.test") as pages:
        without = pages.get("/models/m/1").text
        prodml.attach_guardrails("m@1", rules, client=sqlite_client)
        page = pages.get("/models/m/1").text

    assert "none" in without.split('id="guardrails"')[1].split("</dd>")[0]
    shown = page.split('id="guardrails"')[1].split("</dd>")[0]
    assert "version 1" in shown and "confidence_below: 0.6" in shown


def test_a_comparison_stored_without_its_checks_still_shows_its_verdict(
    seeded_copy: Client,
) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(seeded_copy.settings.metadata_url)
    with engine.begin() as connection:
        for row_id, text in connection.execute(sa.text("SELECT id, result FROM evaluations")):
            result = json.loads(text)
            result.pop("gate", None)  # as comparisons were stored before they kept it
            connection.execute(
                sa.text("UPDATE evaluations SET result = :r WHERE id = :i"),
                {"r": json.dumps(result), "i": row_id},
            )
    engine.dispose()
    with TestClient(create_app(seeded_copy), base_url="http://ui.test") as pages:
        page = pages.get(f"/models/{MODEL}/3")
    assert page.status_code == 200
    assert "stored without its checks" in page.text


def test_a_backfilled_metric_does_not_replace_the_suites_report_on_a_version_page(
    tmp_path: Path,
) -> None:
    client = Client(home=str(tmp_path / ".prodml"), user="tester")
    seed(client)
    prodml.backfill_metric("brier", MODEL, f"{HOLDOUT}@latest", client=client)
    with TestClient(create_app(client), base_url="http://ui.test") as pages:
        page = pages.get(f"/models/{MODEL}/3").text
    client.close()

    (estimates,) = [c for c in _charts(page) if "facet" in c]
    assert {r["metric"] for r in estimates["data"]["values"]} == {"auc", "accuracy"}  # type: ignore[index]
