"""A monitor spec in YAML: every field has a default, every bad field is refused with
a message that names it, and a stored spec reads back as the same spec."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from prodml.errors import InvalidInputError
from prodml.monitor.spec import MONITORS, Labels, MonitorSpec, Slo, load, parse

FULL = """
model: delays
window: 30m
history: 48
warmup: 12
since: 2026-09-01T00:00:00Z
settle: 10s
features: [distance, carrier]
ignore: [tailnum]
sensitivity: {inputs: 0.001, quality: 0.05}
dedupe: 12h
labels:
  wait: 6h
  metric: accuracy
  slice_by: [carrier]
  slices: {long-haul: "distance > 1500"}
  min_labels: 30
  top: 5
slos:
  - {name: accuracy-7d, metric: accuracy, min: 0.9, over: 7d}
  - {name: p99, metric: p99_ms, max: 50}
  - {metric: failure_rate, max: 0.01}
"""


def _refused(doc: dict[str, Any]) -> str:
    with pytest.raises(InvalidInputError) as refused:
        parse({"model": "delays", **doc})
    return str(refused.value)


def test_an_empty_spec_is_every_default() -> None:
    spec = load({}, model="delays")

    assert spec == MonitorSpec(model="delays")
    assert (spec.window, spec.history, spec.settle, spec.dedupe) == (3600.0, 168, 5.0, 86400.0)
    assert (spec.features, spec.ignore, spec.slos) == ((), (), ())
    assert spec.sensitivity == dict.fromkeys(MONITORS, 0.01)
    assert spec.labels == Labels(
        wait=86400.0, metric=None, slice_by=(), slices={}, min_labels=50, top=10
    )


@pytest.fixture
def full(tmp_path: Path) -> MonitorSpec:
    """The spec of FULL, read from a YAML file."""
    path = tmp_path / "monitor.yaml"
    path.write_text(FULL)
    return load(path)


def test_a_yaml_file_sets_every_field_and_unset_sensitivities_keep_their_default(
    full: MonitorSpec,
) -> None:
    spec = full

    assert (spec.model, spec.window, spec.history, spec.settle) == ("delays", 1800.0, 48, 10.0)
    assert (spec.warmup, spec.since) == (12, datetime(2026, 9, 1, tzinfo=UTC).timestamp())
    assert (spec.features, spec.ignore, spec.dedupe) == (
        ("distance", "carrier"),
        ("tailnum",),
        43200.0,
    )
    assert spec.sensitivity == {
        "inputs": 0.001,
        "predictions": 0.01,
        "operations": 0.01,
        "quality": 0.05,
    }
    assert spec.labels == Labels(
        21600.0, "accuracy", ("carrier",), {"long-haul": "distance > 1500"}, 30, 5
    )
    assert spec.slos == (
        Slo("accuracy-7d", "accuracy", 0.9, None, 7 * 86400.0),
        Slo("p99", "p99_ms", None, 50.0, 0.0),
        Slo("failure_rate", "failure_rate", None, 0.01, 0.0),  # unnamed: named by its metric
    )
    assert spec.slos[0].from_labels and not spec.slos[1].from_labels


def test_yaml_text_is_read_and_the_given_model_fills_a_missing_name() -> None:
    spec = load("window: 30m\nlabels: {wait: 6h, slice_by: [carrier]}\n", model="delays")

    assert spec == MonitorSpec(
        "delays", window=1800.0, labels=Labels(wait=21600.0, slice_by=("carrier",))
    )
    assert load("model: other", model="delays").model == "other"
    assert load("", model="delays") == MonitorSpec("delays")


@pytest.mark.parametrize(
    ("window", "warmup"), [("1h", 24), ("30m", 24), ("2h", 12), ("6h", 6), ("1d", 6)]
)
def test_the_warmup_is_a_day_of_windows_between_6_and_24(window: str, warmup: int) -> None:
    assert load({"window": window}, "delays").warmup == warmup
    assert load({"window": window, "warmup": 3}, "delays").warmup == 3


def test_since_is_an_iso_time_in_text_or_yaml() -> None:
    nov_1 = datetime(2026, 11, 1, tzinfo=UTC).timestamp()

    assert load({"since": "2026-11-01T00:00:00Z"}, "delays").since == nov_1
    assert load("since: 2026-11-01T00:00:00Z", "delays").since == nov_1
    assert load({"since": nov_1}, "delays").since == nov_1
    assert load({}, "delays").since is None


def test_a_single_sensitivity_applies_to_every_monitor() -> None:
    assert load({"sensitivity": 0.001}, "delays").sensitivity == dict.fromkeys(MONITORS, 0.001)


def test_a_file_given_by_name_is_read_and_a_missing_one_is_named(
    tmp_path: Path, full: MonitorSpec
) -> None:
    path = tmp_path / "unnamed.yaml"
    path.write_text(FULL.replace("model: delays\n", ""))

    assert load(str(path), model="delays") == full
    with pytest.raises(InvalidInputError, match=r"missing\.yaml does not exist"):
        load(str(tmp_path / "missing.yaml"), model="delays")


def test_a_long_yaml_text_is_read_as_yaml_not_mistaken_for_a_file_name() -> None:
    """Bug: load() asks Path(text).is_file(); for a text over 255 bytes without a '/'
    the OS answers ENAMETOOLONG and set_monitor(name, text) fails with an OSError."""
    ignored = ", ".join(f"free_text_column_{i}" for i in range(12))
    text = f"window: 1h\nhistory: 48\nignore: [{ignored}]\ndedupe: 1d\nlabels: {{wait: 6h}}\n"
    assert len(text) > 255 and "/" not in text

    try:
        spec = load(text, model="delays")
    except OSError as error:
        pytest.fail(f"a {len(text)}-character YAML spec was taken for a file name: {error}")

    assert len(spec.ignore) == 12 and spec.labels.wait == 21600.0


def test_to_json_and_from_json_round_trip(full: MonitorSpec) -> None:
    for spec in (load({}, "delays"), full):
        assert MonitorSpec.from_json(spec.to_json()) == spec
        assert MonitorSpec.from_json(spec.to_json()).to_json() == spec.to_json()


@pytest.mark.parametrize(
    ("doc", "named"),
    [
        ({"colour": "red"}, "colour"),
        ({"window": "soon"}, "window"),
        ({"window": "0s"}, "window"),
        ({"window": -5}, "window"),
        ({"history": 0}, "history"),
        ({"history": "a week"}, "history"),
        ({"settle": "later"}, "settle"),
        ({"dedupe": "often"}, "dedupe"),
        ({"features": "distance"}, "features"),
        ({"ignore": [""]}, "ignore"),
        ({"sensitivity": 0.7}, "sensitivity"),
        ({"sensitivity": 0}, "sensitivity"),
        ({"sensitivity": "high"}, "sensitivity"),
        ({"sensitivity": True}, "sensitivity"),
        ({"sensitivity": {"inputs": 0.9}}, "sensitivity.inputs"),
        ({"sensitivity": {"latency": 0.01}}, "sensitivity.latency"),
        ({"labels": {"metric": "f1"}}, "labels.metric"),
        ({"labels": {"wait": "eventually"}}, "labels.wait"),
        ({"labels": {"min_labels": 0}}, "labels.min_labels"),
        ({"labels": {"top": 2.5}}, "labels.top"),
        ({"labels": {"slice_by": "carrier"}}, "labels.slice_by"),
        ({"labels": {"slices": {"long": ""}}}, "labels.slices"),
        ({"labels": {"waiting": "1h"}}, "labels"),
        ({"labels": "1h"}, "labels"),
        ({"slos": [{"metric": "latency", "max": 5}]}, "slos[0].metric"),
        ({"slos": [{"name": "p99", "metric": "p99_ms", "max": 5}, {"max": 5}]}, "slos[1].metric"),
        ({"slos": [{"metric": "accuracy", "min": "high"}]}, "slos[0].min"),
        ({"slos": [{"metric": "accuracy", "min": True}]}, "slos[0].min"),
        ({"slos": [{"metric": "p99_ms", "max": [5]}]}, "slos[0].max"),
        ({"slos": [{"metric": "accuracy"}]}, "slos[0]"),
        ({"slos": [{"metric": "accuracy", "min": 0.9, "over": "ages"}]}, "slos[0].over"),
        ({"slos": ["p99_ms < 5"]}, "slos[0]"),
        ({"warmup": 1}, "warmup"),
        ({"warmup": "a day"}, "warmup"),
        ({"since": "yesterday"}, "since"),
        ({"slos": [{"metric": "p99_ms", "max": 5, "ovre": "3h"}]}, "ovre"),
    ],
)
def test_a_bad_field_is_refused_naming_it(doc: dict[str, Any], named: str) -> None:
    message = _refused(doc)

    assert message.startswith("Monitor spec") and named in message, message


def test_an_unknown_field_is_refused_with_the_known_ones() -> None:
    message = _refused({"windows": "1h"})

    assert "windows" in message and "window" in message.split("known:")[1]


def test_an_unknown_field_of_an_slo_is_refused() -> None:
    """Bug: the top level and labels refuse unknown fields, an SLO does not, so a typo
    such as ``ovre: 3h`` silently judges the SLO on one window instead of three hours."""
    doc = {
        "model": "delays",
        "slos": [{"name": "acc", "metric": "accuracy", "min": 0.9, "ovre": "3h"}],
    }
    try:
        spec = parse(doc)
    except InvalidInputError as refused:
        assert "ovre" in str(refused), str(refused)
    else:
        pytest.fail(f"an SLO with the unknown field 'ovre' was accepted as {spec.slos[0]}")


def test_a_missing_model_or_a_spec_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="model must name the model"):
        parse({"window": "1h"})
    with pytest.raises(
        InvalidInputError, match=r"Monitor spec is .*; give a mapping with the fields"
    ):
        load("- window: 1h", model="delays")
