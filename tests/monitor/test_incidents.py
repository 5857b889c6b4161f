"""Incidents through the SDK: an upstream unit change raises one alert, an incident
takes it on, each response does what it says and is recorded on the incident, a
closed incident takes no more responses, and the shift report tells the story
(escaped, as a web page)."""

from __future__ import annotations

import math
import shlex
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.client import Client
from prodml.domain.monitoring import Incident
from prodml.errors import InvalidInputError, NotFoundError
from prodml.predictions.segments import table_of, write_segment

sys.path.insert(0, str(Path(__file__).parents[1] / "predictions"))
from log_rows import log_row

NAME = "fraud"
ROWS = 60  # requests per hourly window
NORMAL, BROKEN = 10, 2  # hours of normal traffic, then hours where input "a" comes x1000
WRONG_EVERY = 8  # of the broken hours' requests, every 8th gets a label it did not predict


@dataclass(frozen=True)
class Scenario:
    home: Path  # the store after the monitor ran: copied for each test
    epoch: float  # start of the first hour of traffic
    new_alerts: list[str]  # ids of the alerts the monitor run raised
    inputs: dict[str, dict[str, float]]  # request id -> its inputs
    outputs: dict[str, float]  # request id -> the output logged


def _client(home: Path) -> Client:
    return Client(home=str(home), user="tester", flush_interval=0.05, auth="off", token="")


def _register(client: Client) -> None:
    """v1 then v2 of a tiny classifier, each made champion in turn."""
    generator = np.random.default_rng(3)
    frame = pd.DataFrame({"a": generator.normal(size=100), "b": generator.normal(size=100)})
    labels = (frame["a"] > 0).to_numpy().astype(int)
    with prodml.start_run("fit", client=client) as run:
        for c in (1.0, 3.0):
            run.log_model(LogisticRegression(C=c).fit(frame, labels), NAME, frame.head())
    prodml.promote(NAME, 1, force=True, why="first release", client=client)
    prodml.promote(NAME, 2, force=True, why="v2 is fresher", client=client)


def _traffic(client: Client, epoch: float) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """One log segment per hour; in the last BROKEN hours "a" arrives in grams, not kg."""
    generator = np.random.default_rng(11)
    inputs, outputs = {}, {}
    for hour in range(NORMAL + BROKEN):
        rows = []
        for i in range(ROWS):
            request = f"h{hour}-{i}"
            a = float(generator.normal()) * (1000 if hour >= NORMAL else 1)
            inputs[request] = {"a": a, "b": float(generator.normal())}
            outputs[request] = float(a > 0)
            at = datetime.fromtimestamp(epoch + hour * 3600 + i * 50, UTC)
            rows.append(log_row(request, ts=at, model=NAME, version=2, assigned=2,
                                inputs=inputs[request], output=outputs[request]))  # fmt: skip
        table = table_of(rows, ("output", "shadow_output"))
        write_segment(Path(client.settings.log_url), NAME, table, at=epoch + hour * 3600)
    return inputs, outputs


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Built once: the traffic starts the hour after the models were registered (so the
    alert's context holds the champion moves before it) and the monitor runs as of the
    end of that traffic."""
    folder = tmp_path_factory.mktemp("incidents")
    epoch = math.ceil(time.time() / 3600) * 3600 + 3600
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # runs capture no code diff of this checkout
        client = _client(folder / "home")
        try:
            _register(client)
            prodml.set_monitor(
                NAME, {"window": "1h", "warmup": 6, "labels": {"wait": "1h"}}, client=client
            )
            inputs, outputs = _traffic(client, epoch)
            end = epoch + (NORMAL + BROKEN) * 3600 + 600
            ran = prodml.run_monitors(NAME, now=end, notify=False, client=client)
        finally:
            client.close()
    new = [o.alert.id for o in ran if o.new and o.alert is not None]
    return Scenario(folder / "home", epoch, new, inputs, outputs)


@pytest.fixture
def client(scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """A client on a fresh copy of the scenario's store and prediction log."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(scenario.home, tmp_path / "home")
    made = _client(tmp_path / "home")
    yield made
    made.close()


def _open(client: Client, scenario: Scenario, title: str | None = None) -> Incident:
    return prodml.open_incident(scenario.new_alerts, title=title, client=client)


def _champion(client: Client) -> int:
    return prodml.get_model(f"{NAME}@champion", client=client).version


def _timeline(client: Client, incident: Incident) -> list[tuple[str, str]]:
    moments = prodml.get_incident(incident.id, client=client)["timeline"]
    return [(m.what, m.text) for m in moments]


def test_the_unit_change_raises_one_alert_over_the_broken_windows(
    scenario: Scenario, client: Client
) -> None:
    (alert_id,) = scenario.new_alerts
    alert = prodml.get_alert(alert_id, client=client)

    assert alert.title == "inputs changed: a"
    assert alert.windows == BROKEN
    assert alert.window_start.timestamp() == scenario.epoch + NORMAL * 3600
    assert alert.window_end.timestamp() == scenario.epoch + (NORMAL + BROKEN) * 3600
    assert [a.id for a in prodml.list_alerts(NAME, client=client)] == [alert_id]


def test_an_incident_takes_the_alert_and_no_second_incident_can(
    scenario: Scenario, client: Client
) -> None:
    incident = _open(client, scenario)

    assert (incident.state, incident.model, incident.opened_by) == ("open", NAME, "tester")
    assert incident.title == "inputs changed: a"  # the alert's, when none is given
    assert [i.id for i in prodml.list_incidents(state="open", client=client)] == [incident.id]
    assert prodml.get_alert(scenario.new_alerts[0], client=client).incident_id == incident.id
    with pytest.raises(InvalidInputError, match=f"belongs to incident {incident.id[:8]} already"):
        _open(client, scenario)
    assert len(prodml.list_incidents(client=client)) == 1


def test_rollback_moves_champion_back_and_the_timeline_shows_it(
    scenario: Scenario, client: Client
) -> None:
    incident = _open(client, scenario)

    said = prodml.respond_to_incident(incident.id, "rollback", why="v2 suspect", client=client)

    assert said == "rolled back: champion v2 -> v1"
    assert _champion(client) == 1
    timeline = _timeline(client, incident)
    moves = [t for w, t in timeline if w == "model.alias_moved"]
    assert moves == [
        f"{NAME}@champion: v2 -> v1 (rollback: incident {incident.id[:8]}: v2 suspect)"
    ]
    assert (
        "incident.response",
        "rollback: rolled back: champion v2 -> v1 (v2 suspect)",
    ) in timeline
    kinds = [w for w, _ in timeline]
    assert (
        kinds.index("alert.raised")
        < kinds.index("incident.opened")
        < kinds.index("model.alias_moved")
    )


def test_each_response_shows_once_on_the_timeline(scenario: Scenario, client: Client) -> None:
    incident = _open(client, scenario)
    prodml.respond_to_incident(incident.id, "rollback", why="v2 suspect", client=client)

    responses = [t for w, t in _timeline(client, incident) if w == "incident.response"]

    # Known bug in monitor/incidents.py: timeline() reads incident.response events both
    # through context.changes() (text: the reason only) and from the incident's events.
    assert responses == ["rollback: rolled back: champion v2 -> v1 (v2 suspect)"], (
        f"the rollback shows {len(responses)} times on the timeline: {responses}"
    )


def test_alias_moves_on_the_timeline_read_plainly(scenario: Scenario, client: Client) -> None:
    prodml.set_alias(f"{NAME}@1", "fallback", client=client)  # no reason given
    incident = _open(client, scenario)

    moves = [t for w, t in _timeline(client, incident) if w.startswith("model.alias_")]

    # Known bug in monitor/incidents.py: _moment() formats a missing version as "vNone"
    # and a missing reason as "()".
    assert moves[0].startswith(f"{NAME}@champion: ") and moves[0].endswith("v1 (first release)")
    assert not [m for m in moves if "vNone" in m or m.endswith("()")], f"alias moves read {moves}"


def test_fallback_needs_the_alias_then_serves_it(scenario: Scenario, client: Client) -> None:
    incident = _open(client, scenario)

    with pytest.raises(NotFoundError) as refused:
        prodml.respond_to_incident(incident.id, "fallback", client=client)
    assert "no 'fallback' alias" in str(refused.value)
    assert f"prodml models alias {NAME}@VERSION fallback" in str(refused.value)
    assert _champion(client) == 2

    prodml.set_alias(f"{NAME}@1", "fallback", reason="the cautious one", client=client)
    said = prodml.respond_to_incident(incident.id, "fallback", why="a is off", client=client)

    assert said == "champion v2 -> fallback v1"
    assert _champion(client) == 1
    assert ("incident.response", f"fallback: {said} (a is off)") in _timeline(client, incident)


def test_retrain_runs_the_command_and_records_its_exit_code(
    scenario: Scenario, client: Client
) -> None:
    incident = _open(client, scenario)
    script = (
        "import os, sys; open('cause.txt', 'w').write(os.environ['PRODML_INCIDENT']); sys.exit(3)"
    )
    command = f"{shlex.quote(sys.executable)} -c {shlex.quote(script)}"

    said = prodml.respond_to_incident(incident.id, "retrain", command=command, client=client)

    assert f"`{command}` exited 3 after" in said and said.endswith("runs: none")
    assert Path("cause.txt").read_text() == incident.id  # the run can name its cause
    (event,) = [e for e in prodml.events(client=client) if e.action == "incident.response"]
    assert (event.details["action"], event.details["exit"]) == ("retrain", 3)


def test_add_failures_appends_exactly_the_wrong_predictions_of_the_incident(
    scenario: Scenario, client: Client
) -> None:
    incident = _open(client, scenario)
    options = {"valset": "fraud-failures", "label_as": "is_fraud"}
    with pytest.raises(InvalidInputError, match="ingest the labels first"):
        prodml.respond_to_incident(incident.id, "add-failures", client=client, **options)

    broken = [f"h{h}-{i}" for h in range(NORMAL, NORMAL + BROKEN) for i in range(ROWS)]
    wrong = broken[::WRONG_EVERY]
    labels = {r: scenario.outputs[r] for r in broken}
    labels.update({r: 1.0 - scenario.outputs[r] for r in [*wrong, "h3-7"]})  # h3: no incident
    table = pa.table({"request_id": list(labels), "label": list(labels.values())})
    assert prodml.ingest_labels(table, client=client).matched == len(broken) + 1

    said = prodml.respond_to_incident(incident.id, "add-failures", client=client, **options)

    assert said == f"{len(wrong)} failing predictions added to fraud-failures@1 (0 known)"
    added = prodml.load_table("fraud-failures", client=client).to_pylist()
    assert len(added) == len(wrong) == math.ceil(ROWS * BROKEN / WRONG_EVERY)
    assert sorted(r["a"] for r in added) == sorted(scenario.inputs[r]["a"] for r in wrong)
    assert {r["is_fraud"] for r in added} == {1.0 - scenario.outputs[r] for r in wrong}


def test_closing_needs_a_reason_and_a_closed_incident_takes_no_response(
    scenario: Scenario, client: Client
) -> None:
    incident = _open(client, scenario)

    with pytest.raises(InvalidInputError, match="Say how it was resolved"):
        prodml.close_incident(incident.id, "  ", client=client)
    closed = prodml.close_incident(incident.id, "upstream fixed the units", client=client)

    assert (closed.state, closed.resolution) == ("closed", "upstream fixed the units")
    assert closed.closed_at is not None and closed.closed_at >= closed.opened_at
    assert prodml.list_incidents(state="open", client=client) == []
    with pytest.raises(InvalidInputError, match=f"Incident {incident.id[:8]} is closed"):
        prodml.respond_to_incident(incident.id, "rollback", client=client)
    with pytest.raises(InvalidInputError, match="closed already"):
        prodml.close_incident(incident.id, "again", client=client)
    assert _champion(client) == 2


def test_the_markdown_report_tells_what_fired_what_was_done_and_how_it_ended(
    scenario: Scenario, client: Client
) -> None:
    incident = _open(client, scenario)
    prodml.respond_to_incident(incident.id, "rollback", why="v2 suspect", client=client)
    prodml.close_incident(incident.id, "upstream fixed the units", client=client)

    text = prodml.incident_report([incident.id[:8]], client=client)

    assert f"## Incident {incident.id[:8]}: inputs changed: a" in text
    assert "- **Closed:** " in text and ": upstream fixed the units" in text
    assert f"### Alert {scenario.new_alerts[0][:8]}: inputs changed: a" in text
    assert f"({BROKEN} windows)" in text
    assert f"{NAME}@champion: v1 -> v2 (v2 is fresher)" in text  # the change before it
    assert 'SELECT request_id, ts, version, inputs."a", output FROM predictions' in text
    assert "rollback by tester: rolled back: champion v2 -> v1 (why: v2 suspect)" in text
    assert "| Time | What | Text | Actor |" in text
    assert "- **Alerts fired:** 1" in text and "- **Acked:** 1" in text  # taken on: acted on


def test_the_html_report_is_a_page_with_every_text_escaped(
    scenario: Scenario, client: Client, tmp_path: Path
) -> None:
    incident = _open(client, scenario, title="<script>alert('pwned')</script> units & grams")

    page = prodml.incident_report(
        [incident.id], format="html", path=tmp_path / "shift.html", client=client
    )

    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt; units &amp; grams" in page
    assert "inputs.&quot;a&quot;" in page  # the sample query too
    assert (tmp_path / "shift.html").read_text() == page


def test_the_report_since_the_shift_start_names_alerts_outside_incidents(
    scenario: Scenario, client: Client
) -> None:
    shift = datetime.now(UTC) - timedelta(hours=8)
    prodml.ignore_alert(scenario.new_alerts[0], "grams are expected: a migration", client=client)

    text = prodml.incident_report(since=shift, format="md", client=client)

    assert "No incident in the period." in text
    row = next(
        line for line in text.splitlines() if line.startswith(f"| {scenario.new_alerts[0][:8]}")
    )
    assert "| inputs changed: a |" in row and "| ignored | grams are expected: a migration |" in row
    assert "- **Ignored:** 1" in text and "- **Undecided:** 0" in text


def test_the_report_needs_incidents_or_a_start_and_a_known_format(client: Client) -> None:
    with pytest.raises(InvalidInputError, match="Give incident IDs to report on, or --since"):
        prodml.incident_report(client=client)
    with pytest.raises(InvalidInputError, match="markdown, md, html; not 'pdf'"):
        prodml.incident_report(since=datetime.now(UTC), format="pdf", client=client)
