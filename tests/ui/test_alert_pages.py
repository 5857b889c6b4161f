"""Alert and incident pages on the seeded store: the queue and its filters, an alert
with its context and sample rows, ack and ignore through the form (refused when
read-only or without the session's CSRF token), an incident's timeline and its
one-click responses (needing a deployer's login while auth is on), and the report."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from seed import SeededStore
from starlette.testclient import TestClient
from ui_forms import csrf_of

import prodml
from prodml.client import Client
from prodml.ui.app import create_app


@pytest.fixture
def changing(seeded_copy: Client) -> Iterator[TestClient]:
    """The dashboard on a copy of the seeded store, for tests that change it."""
    with TestClient(create_app(seeded_copy), base_url="http://ui.test") as client:
        yield client


def test_the_queue_filters_by_state_and_severity(
    seeded_dashboard: TestClient, seeded_store: SeededStore
) -> None:
    seeded = seeded_store.seeded

    every = seeded_dashboard.get("/alerts").text
    still_open = seeded_dashboard.get("/alerts?state=open&model=fraud").text
    high = seeded_dashboard.get("/alerts?severity=high").text

    assert f'data-alert="{seeded.open_alert}"' in every
    assert f'data-alert="{seeded.incident_alert}"' in every
    assert f'data-alert="{seeded.open_alert}"' in still_open
    assert f'data-alert="{seeded.incident_alert}"' not in still_open  # acked by its incident
    assert f'data-alert="{seeded.open_alert}"' not in high  # critical, not high
    refused = seeded_dashboard.get("/alerts?state=sleeping")
    assert refused.status_code == 400 and "open, acked, ignored" in refused.text


def test_an_alert_page_runs_its_sample_query_and_shows_the_rows(
    seeded_dashboard: TestClient, seeded_store: SeededStore
) -> None:
    page = seeded_dashboard.get(f"/alerts/{seeded_store.seeded.open_alert[:8]}")

    assert page.status_code == 200
    assert "SELECT request_id, ts, version, inputs.&#34;a&#34;" in page.text
    assert "<td>h15-07</td>" in page.text  # a failed request of the slow hour
    assert "roll back or switch to the fallback" in page.text
    assert 'action="/alerts/' in page.text and "/ack" in page.text


def test_a_missing_alert_is_a_404_page_naming_the_id(seeded_dashboard: TestClient) -> None:
    for missing in ("0123abcd", "not-an-id"):
        page = seeded_dashboard.get(f"/alerts/{missing}")

        assert page.status_code == 404
        assert f"No alert &#39;{missing}&#39;" in page.text and "Traceback" not in page.text


def test_ack_with_a_reason_changes_the_alert_in_the_store(
    changing: TestClient, seeded_copy: Client, seeded_store: SeededStore
) -> None:
    alert = seeded_store.seeded.open_alert
    page = changing.get(f"/alerts/{alert}").text

    done = changing.post(
        f"/alerts/{alert}/ack",
        data={"csrf": csrf_of(page), "why": "real: upstream sends grams"},
        follow_redirects=False,
    )

    assert done.status_code == 303 and done.headers["location"] == f"/alerts/{alert}"
    stored = prodml.get_alert(alert, client=seeded_copy)
    assert (stored.state, stored.why) == ("acked", "real: upstream sends grams")
    shown = changing.get(f"/alerts/{alert}").text
    assert "acked by tester" in shown and 'action="/alerts/' not in shown


def test_ignore_needs_a_reason(changing: TestClient, seeded_store: SeededStore) -> None:
    alert = seeded_store.seeded.open_alert
    page = changing.get(f"/alerts/{alert}").text

    refused = changing.post(f"/alerts/{alert}/ignore", data={"csrf": csrf_of(page), "why": " "})

    assert refused.status_code == 400 and "Say why" in refused.text


def test_a_forged_csrf_token_is_refused_and_nothing_changes(
    changing: TestClient, seeded_copy: Client, seeded_store: SeededStore
) -> None:
    alert = seeded_store.seeded.open_alert
    changing.get(f"/alerts/{alert}")

    refused = changing.post(f"/alerts/{alert}/ack", data={"csrf": "forged", "why": "x"})

    assert refused.status_code == 403 and "CSRF" in refused.text
    assert prodml.get_alert(alert, client=seeded_copy).state == "open"


def test_read_only_refuses_the_ack_with_403(seeded_copy: Client, seeded_store: SeededStore) -> None:
    alert = seeded_store.seeded.open_alert
    with TestClient(create_app(seeded_copy, read_only=True), base_url="http://ui.test") as ui:
        page = ui.get(f"/alerts/{alert}").text
        assert 'action="/alerts/' not in page  # no form to fill in

        refused = ui.post(f"/alerts/{alert}/ack", data={"csrf": "any", "why": "x"})

    assert refused.status_code == 403 and "read-only" in refused.text
    assert prodml.get_alert(alert, client=seeded_copy).state == "open"


def test_an_incident_page_shows_its_alerts_and_timeline(
    seeded_dashboard: TestClient, seeded_store: SeededStore
) -> None:
    seeded = seeded_store.seeded

    page = seeded_dashboard.get(f"/incidents/{seeded.incident}").text

    assert "b arrives in grams" in page and f'href="/alerts/{seeded.incident_alert}"' in page
    assert "fraud@champion: v1 -&gt; v2 (hotfix: b is unreliable upstream)" in page
    assert page.index("alert.raised") < page.index("incident.opened")
    listed = seeded_dashboard.get("/incidents?state=open").text
    assert f'href="/incidents/{seeded.incident}"' in listed


def test_rollback_needs_a_deployer_login_while_auth_is_on_then_ends_the_rollout(
    changing: TestClient, seeded_copy: Client, seeded_store: SeededStore
) -> None:
    incident = seeded_store.seeded.incident
    token = prodml.enable_auth("admin", client=seeded_copy).token
    page = changing.get(f"/incidents/{incident}").text

    refused = changing.post(
        f"/incidents/{incident}/respond/rollback", data={"csrf": csrf_of(page), "why": "v3 odd"}
    )
    assert refused.status_code == 403 and "deployer" in refused.text

    login = changing.get("/login").text
    changing.post("/login", data={"csrf": csrf_of(login), "token": token})
    page = changing.get(f"/incidents/{incident}").text
    done = changing.post(
        f"/incidents/{incident}/respond/rollback",
        data={"csrf": csrf_of(page), "why": "v3 odd"},
        follow_redirects=False,
    )

    assert done.status_code == 303
    assert done.headers["location"] == f"/incidents/{incident}#timeline"
    (rollout, _), *_ = prodml.rollout_status("fraud", client=seeded_copy)
    assert rollout.state == "rolled_back"
    timeline = changing.get(f"/incidents/{incident}").text
    assert "rollback: rolled back" in timeline and "(v3 odd)" in timeline


def test_the_shift_report_names_the_incident_and_the_open_alert(
    seeded_dashboard: TestClient, seeded_store: SeededStore
) -> None:
    seeded = seeded_store.seeded

    page = seeded_dashboard.get("/report?since=1d")
    shared = seeded_dashboard.get("/report/page?since=1d")

    assert page.status_code == 200
    assert f"Incident {seeded.incident[:8]}: b arrives in grams" in page.text
    assert f"| {seeded.open_alert[:8]} |" in page.text
    assert shared.headers["content-security-policy"].startswith("sandbox")
    assert shared.text.startswith("<!DOCTYPE html>")


def test_a_signals_expected_range_reads_as_a_bound(
    seeded_dashboard: TestClient, seeded_store: SeededStore
) -> None:
    page = seeded_dashboard.get(f"/alerts/{seeded_store.seeded.open_alert}").text

    assert '<td class="num">&lt;= 3</td>' in page  # extreme rows: at most 3 expected
    assert "[None" not in page


def test_responses_without_what_they_need_are_refused_naming_it(
    changing: TestClient, seeded_store: SeededStore
) -> None:
    incident = seeded_store.seeded.incident
    page = changing.get(f"/incidents/{incident}").text
    csrf = csrf_of(page)

    no_valset = changing.post(f"/incidents/{incident}/respond/add-failures", data={"csrf": csrf})
    no_alias = changing.post(f"/incidents/{incident}/respond/fallback", data={"csrf": csrf})
    retrain = changing.post(f"/incidents/{incident}/respond/retrain", data={"csrf": csrf})

    assert no_valset.status_code == 400 and "Give the validation set." in no_valset.text
    assert no_alias.status_code == 404 and "no &#39;fallback&#39; alias" in no_alias.text
    assert retrain.status_code == 400 and "rollback, fallback, add-failures" in retrain.text


def test_an_ack_after_login_is_recorded_as_the_logged_in_person(
    changing: TestClient, seeded_copy: Client, seeded_store: SeededStore
) -> None:
    alert = seeded_store.seeded.open_alert
    token = prodml.create_token("alice", "deployer", client=seeded_copy)
    login = changing.get("/login").text
    changing.post("/login", data={"csrf": csrf_of(login), "token": token})
    page = changing.get(f"/alerts/{alert}").text

    changing.post(f"/alerts/{alert}/ack", data={"csrf": csrf_of(page), "why": "on it"})

    assert prodml.get_alert(alert, client=seeded_copy).decided_by == "alice"
    assert "acked by alice" in changing.get(f"/alerts/{alert}").text
