"""Monitoring records in the SQL store, on each database: evaluated windows (stored
once per model, kind and start), alerts and the decisions on them, incidents, and
ids given by prefix. Every decision is an event written with the change."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from prodml.client import Client
from prodml.domain.monitoring import Alert, AlertClass, AlertState, Incident, Signal, Window, at
from prodml.errors import InvalidInputError, NotFoundError

OCT_1 = datetime(2026, 10, 1, tzinfo=UTC).timestamp()
HOUR = 3600.0


def _model() -> str:
    """A model name no other test uses, so tests never read each other's records."""
    return f"store-{uuid.uuid4().hex[:10]}"


def _window(model: str, hour: int, kind: str = "traffic", rows: int = 300) -> Window:
    start = OCT_1 + hour * HOUR
    return Window(
        model=model,
        kind=kind,
        start=start,
        end=start + HOUR,
        rows=rows,
        profile=None,
        stats={"rows": rows, "hour": hour},
    )


def _alert(
    model: str, first: int, last: int | None = None, state: str = "open", alert_id: str = ""
) -> Alert:
    """An alert over the windows of hours ``first`` to ``last`` of Oct 1."""
    last = first if last is None else last
    drift = Signal(
        monitor="inputs",
        subject="distance",
        statistic="mean",
        kind=AlertClass.DRIFT,
        observed=None,
        expected=None,
        message="",
    )
    return Alert(
        id=alert_id or uuid.uuid4().hex,
        model=model,
        kind=AlertClass.SOFT,
        severity="high",
        title=f"inputs changed: hour {first}",
        signals=(drift,),
        window_start=at(OCT_1 + first * HOUR),
        window_end=at(OCT_1 + (last + 1) * HOUR),
        windows=last - first + 1,
        state=AlertState(state),
        created_at=at(OCT_1 + (last + 1) * HOUR + 60),
    )


def _add(client: Client, alert: Alert) -> str:
    assert client.metadata.add_alert(alert, 3) == alert
    return alert.id


def _incident(incident_id: str, model: str, title: str, alert_ids: tuple[str, ...]) -> Incident:
    return Incident(
        id=incident_id,
        model=model,
        title=title,
        state="open",
        opened_at=at(OCT_1 + 4 * HOUR),
        opened_by="tester",
        alert_ids=alert_ids,
    )


def _events(client: Client, action: str, subject_id: str) -> list[Any]:
    return [
        e
        for e in client.metadata.list_events(subject=(action.split(".")[0], subject_id))
        if e.action == action
    ]


def test_a_window_is_stored_once_per_model_kind_and_start(client: Client) -> None:
    store, model = client.metadata, _model()
    first = _window(model, 3)

    assert store.add_window(first) is True
    again = dataclasses.replace(first, rows=1, stats={})
    assert store.add_window(again) is False  # a second process
    assert store.add_window(_window(model, 3, kind="labels", rows=120)) is True
    assert store.add_window(_window(_model(), 3)) is True  # another model's window

    (kept,) = store.windows(model, "traffic")
    assert kept == dataclasses.replace(first, evaluated_at=kept.evaluated_at)
    assert kept.evaluated_at is not None and kept.alert_id is None
    assert [w.rows for w in store.windows(model, "labels")] == [120]
    assert store.last_window(model, "traffic") == OCT_1 + 3 * HOUR
    assert store.last_window(model, "quality") is None
    assert store.last_window(_model(), "traffic") is None


def test_windows_come_newest_first_with_the_state_of_the_alert_they_raised(
    client: Client,
) -> None:
    store, model = client.metadata, _model()
    for hour in (2, 0, 4, 1, 3):
        store.add_window(_window(model, hour, rows=0 if hour == 1 else 300))
    acked, ignored = _add(client, _alert(model, 2)), _add(client, _alert(model, 3))
    store.mark_windows(model, "traffic", [OCT_1 + 2 * HOUR], acked)
    store.mark_windows(model, "traffic", [OCT_1 + 3 * HOUR], ignored)
    store.mark_windows(model, "labels", [OCT_1 + 4 * HOUR], acked)  # no such labels window
    store.decide_alert(acked, AlertState.ACKED, "real upstream change")
    store.decide_alert(ignored, AlertState.IGNORED, "planned backfill")

    listed = store.windows(model, "traffic")

    hours = [round((w.start - OCT_1) / HOUR) for w in listed]
    assert hours == [4, 3, 2, 1, 0]
    assert [(w.alert_id, w.alert_state) for w in listed] == [
        (None, None),
        (ignored, "ignored"),
        (acked, "acked"),
        (None, None),
        (None, None),
    ]
    assert [w.rows for w in listed] == [300, 300, 300, 0, 300]
    before = store.windows(model, "traffic", before=OCT_1 + 3 * HOUR, limit=2)
    assert [round((w.start - OCT_1) / HOUR) for w in before] == [2, 1]
    since = store.windows(model, "traffic", since=OCT_1 + 3 * HOUR)
    assert [round((w.start - OCT_1) / HOUR) for w in since] == [4, 3]
    assert store.windows(model, "labels") == []


def test_alerts_filter_by_model_state_and_time_newest_first(client: Client) -> None:
    store, model, other = client.metadata, _model(), _model()
    early = _add(client, _alert(model, 1, 2))  # windows 01:00-03:00
    middle = _add(client, _alert(model, 5, state="acked"))  # 05:00-06:00
    late = _add(client, _alert(model, 9, 11, state="ignored"))  # 09:00-12:00
    elsewhere = _add(client, _alert(other, 5))

    def ids(**query: Any) -> list[str]:
        return [alert.id for alert in store.alerts(**query)]

    assert ids(model=model) == [late, middle, early]
    assert set(ids()) >= {late, middle, early, elsewhere}
    assert ids(model=other) == [elsewhere]
    assert ids(model=model, states=("open",)) == [early]
    assert ids(model=model, states=("acked", "ignored")) == [late, middle]
    assert ids(model=model, since=OCT_1 + 6 * HOUR) == [late, middle]  # ends at or after
    assert ids(model=model, since=OCT_1 + 6 * HOUR + 1) == [late]
    assert ids(model=model, until=OCT_1 + 5 * HOUR) == [early]  # starts before
    assert ids(model=model, until=OCT_1 + 5 * HOUR + 1) == [middle, early]
    assert ids(model=model, since=OCT_1 + 3 * HOUR, until=OCT_1 + 9 * HOUR) == [middle, early]
    assert ids(model=model, since=OCT_1 + 4 * HOUR, until=OCT_1 + 9 * HOUR) == [middle]
    assert ids(model=model, limit=1) == [late]
    assert ids(model=_model()) == []
    assert ids(ids=[early, elsewhere]) == [elsewhere, early]  # an incident's, in one query
    assert ids(ids=[early, elsewhere], model=model) == [early]
    assert ids(ids=["no-such-alert"]) == []


def test_an_alert_is_updated_in_place_leaving_the_decision_on_it(client: Client) -> None:
    store, model = client.metadata, _model()
    alert = _alert(model, 4)
    _add(client, alert)
    store.decide_alert(alert.id, AlertState.ACKED, "looking into it")
    folded = dataclasses.replace(
        alert, windows=3, window_end=at(OCT_1 + 7 * HOUR), severity="critical", title="worse"
    )

    assert store.update_alert(folded) == folded

    stored = store.alert(alert.id)
    assert (stored.windows, stored.window_end, stored.severity, stored.title) == (
        3,
        at(OCT_1 + 7 * HOUR),
        "critical",
        "worse",
    )
    assert (stored.window_start, stored.state) == (at(OCT_1 + 4 * HOUR), AlertState.ACKED)


def test_raising_and_deciding_an_alert_are_events(client: Client) -> None:
    store, model = client.metadata, _model()
    alert_id = _add(client, _alert(model, 4))

    decided = store.decide_alert(alert_id[:10], AlertState.ACKED, "rolled back v7")
    again = store.decide_alert(alert_id, AlertState.IGNORED, "it was the backfill after all")

    assert (decided.state, decided.why, decided.decided_by) == (
        AlertState.ACKED,
        "rolled back v7",
        "tester",
    )
    assert decided.decided_at is not None and decided.decided_at > at(OCT_1)
    assert (again.state, again.why) == (AlertState.IGNORED, "it was the backfill after all")
    (raised,) = _events(client, "alert.raised", alert_id)
    assert (raised.reason, raised.details, raised.actor) == (
        "inputs changed: hour 4",
        {
            "model": model,
            "class": "soft",
            "severity": "high",
            "window_start": at(OCT_1 + 4 * HOUR).isoformat(),
            "signals": 3,
        },
        "tester",
    )
    assert raised.at.timestamp() == pytest.approx(OCT_1 + 5 * HOUR + 60)
    (acked,) = _events(client, "alert.acked", alert_id)
    assert (acked.reason, acked.details) == ("rolled back v7", {"model": model, "was": "open"})
    (ignored,) = _events(client, "alert.ignored", alert_id)
    assert ignored.details == {"model": model, "was": "acked"}


def test_an_incident_opens_over_its_alerts_and_closes_once(client: Client) -> None:
    store, model = client.metadata, _model()
    first, second = _add(client, _alert(model, 1)), _add(client, _alert(model, 2))
    loose = _add(client, _alert(model, 3))
    incident_id = uuid.uuid4().hex
    opened = _incident(incident_id, model, "distance in metres", (first, second))

    store.add_incident(opened)

    assert [store.alert(a).incident_id for a in (first, second, loose)] == [
        incident_id,
        incident_id,
        None,
    ]
    assert store.incidents(model, state="open") == [opened]
    (event,) = _events(client, "incident.opened", incident_id)
    assert (event.reason, event.details) == (
        "distance in metres",
        {"model": model, "alerts": [first, second]},
    )

    closed = store.close_incident(incident_id[:8], "feed fixed upstream")

    assert (closed.state, closed.resolution) == ("closed", "feed fixed upstream")
    assert closed.closed_at is not None
    (event,) = _events(client, "incident.closed", incident_id)
    assert (event.reason, event.details) == ("feed fixed upstream", {"model": model})
    with pytest.raises(InvalidInputError, match="closed already"):
        store.close_incident(incident_id, "again")
    assert len(_events(client, "incident.closed", incident_id)) == 1
    assert store.incidents(model, state="open") == []
    assert store.incidents(model, state="closed") == [closed]
    assert store.incidents(model, since=closed.closed_at.timestamp() + 1) == []
    assert store.incidents(model, since=closed.closed_at.timestamp()) == [closed]


def test_ids_resolve_by_unique_prefix_and_name_the_list_command_otherwise(
    client: Client,
) -> None:
    store, model = client.metadata, _model()
    shared = uuid.uuid4().hex[:8]
    one = _add(client, _alert(model, 1, alert_id=shared + "0" + uuid.uuid4().hex[:23]))
    _add(client, _alert(model, 2, alert_id=shared + "1" + uuid.uuid4().hex[:23]))
    incident_id = uuid.uuid4().hex
    store.add_incident(_incident(incident_id, model, "t", ()))

    assert store.alert(one[:9]).id == one
    assert store.alert(one).id == one
    assert store.incident(incident_id[:6]).id == incident_id
    for prefix, ambiguous in (
        (shared, True),
        ("fff" + uuid.uuid4().hex, False),
        ("", False),
        (shared[:3] + "%", False),
        (shared[:3] + "_", False),
    ):
        with pytest.raises(NotFoundError) as missing:
            store.alert(prefix)
        message = str(missing.value)
        assert "prodml alerts list" in message, message
        assert ("ambiguous" in message) is ambiguous, message
    with pytest.raises(NotFoundError, match="prodml incidents list"):
        store.incident("0" * 12 if not incident_id.startswith("0") else "f" * 12)
