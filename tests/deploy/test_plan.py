"""Rollout plans: canary steps become one step each, durations read as 30s or 5m,
criteria inherit from the plan's defaults, and every mistake names its field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prodml.deploy import plan as plans
from prodml.domain.rollout import Criteria, RoutingKey
from prodml.errors import InvalidInputError


def test_canary_steps_expand_into_one_step_per_share() -> None:
    plan = plans.parse(
        {
            "stages": [
                {"stage": "shadow", "min_duration": "30s", "min_requests": 200},
                {"stage": "canary", "steps": [5, 25, 50], "min_duration": "5m"},
                {"stage": "full", "max_duration": "2h"},
            ]
        }
    )

    assert [s.label for s in plan.steps] == [
        "shadow",
        "canary 5%",
        "canary 25%",
        "canary 50%",
        "full",
    ]
    assert [s.share for s in plan.steps] == [0.0, 0.05, 0.25, 0.5, 1.0]
    assert [s.min_duration for s in plan.steps] == [30.0, 300.0, 300.0, 300.0, 60.0]
    assert [s.min_requests for s in plan.steps] == [200, 100, 100, 100, 100]
    assert [s.max_duration for s in plan.steps] == [None, None, None, None, 7200.0]
    assert plan.routing_key is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("250ms", 0.25),
        ("1.5m", 90.0),
        (" 10 ", 10.0),
        (45, 45.0),
        (0, 0.0),
        (2.5, 2.5),
    ],
)
def test_durations_read_as_seconds(text: Any, seconds: float) -> None:
    plan = plans.parse({"stages": [{"stage": "shadow", "min_duration": text}]})
    assert plan.steps[0].min_duration == seconds


@pytest.mark.parametrize("bad", ["5 minutes", "m5", "-3s", "", -1, True, None, [30]])
def test_a_bad_duration_names_its_field(bad: Any) -> None:
    with pytest.raises(InvalidInputError, match=r"stages\[0\]\.min_duration is .*30s, 5m, 2h"):
        plans.parse({"stages": [{"stage": "shadow", "min_duration": bad}]})


def test_criteria_inherit_the_plans_defaults_and_a_stage_overrides_them() -> None:
    plan = plans.parse(
        {
            "criteria": {"max_error_rate": 0.02, "max_p99_ms": 50},
            "stages": [
                {"stage": "shadow", "criteria": {"min_agreement": 0.9}},
                {"stage": "full", "criteria": {"max_error_rate": 0.005, "max_p99_ms": None}},
            ],
        }
    )

    shadow, full = (s.criteria for s in plan.steps)
    assert shadow == Criteria(max_error_rate=0.02, max_p99_ms=50.0, min_agreement=0.9)
    assert full == Criteria(max_error_rate=0.005, max_p99_ms=None)
    assert plans.parse({"stages": [{"stage": "full"}]}).steps[0].criteria == Criteria()


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ({"header": "X-User-Id"}, RoutingKey("header", "x-user-id")),
        ({"field": "user_id"}, RoutingKey("field", "user_id")),
    ],
)
def test_a_routing_key_is_a_header_or_a_field(key: Any, expected: RoutingKey) -> None:
    plan = plans.parse({"routing_key": key, "stages": [{"stage": "canary", "steps": [10]}]})
    assert plan.routing_key == expected


BAD: list[tuple[Any, str]] = [
    ("just text", "is 'just text'; give a mapping with the fields criteria, routing_key, stages"),
    ({"stages": {"stage": "shadow"}}, "stages is {'stage': 'shadow'}; give a list"),
    ({"stages": []}, "stages is []; give at least 1 item"),
    (
        {"stages": [{"stage": "shadow"}], "rollback": True},
        "rollback is not a known field; known: criteria, routing_key, stages",
    ),
    (
        {"stages": [{"stage": "blue"}]},
        "stages[0].stage is 'blue'; use 'shadow', 'canary' or 'full'",
    ),
    ({"stages": ["shadow"]}, "stages[0] is 'shadow'; give a mapping with the fields criteria"),
    (
        {"stages": [{"stage": "shadow", "min_requets": 5}]},
        "stages[0].min_requets is not a known field; known: criteria, max_duration",
    ),
    (
        {"stages": [{"stage": "canary", "steps": [25, 5]}]},
        "stages[0].steps is [25, 5]; give rising",
    ),
    ({"stages": [{"stage": "canary", "steps": [5, 100]}]}, "stages[0].steps[1] is 100; give a num"),
    (
        {"stages": [{"stage": "canary", "steps": [0, 5]}]},
        "stages[0].steps[0] is 0; give a number > 0",
    ),
    ({"stages": [{"stage": "canary", "steps": []}]}, "stages[0].steps is []; give at least 1 item"),
    ({"stages": [{"stage": "canary", "steps": "5,25"}]}, "stages[0].steps is '5,25'; give a list"),
    ({"stages": [{"stage": "canary", "steps": [True]}]}, "stages[0].steps[0] is True; give a num"),
    ({"stages": [{"stage": "shadow", "steps": [5]}]}, "stages[0] has 'steps', which only a canary"),
    ({"stages": [{"stage": "full"}, {"stage": "shadow"}]}, "must not lower the candidate's share"),
    (
        {"stages": [{"stage": "canary", "steps": [50]}, {"stage": "canary", "steps": [10]}]},
        "must not lower",
    ),
    (
        {"stages": [{"stage": "shadow", "min_requests": 0}]},
        "stages[0].min_requests is 0; give a whole number >= 1",
    ),
    ({"stages": [{"stage": "shadow", "min_requests": 2.5}]}, "min_requests is 2.5; give a whole"),
    ({"stages": [{"stage": "shadow", "max_duration": "soon"}]}, "stages[0].max_duration is 'soon'"),
    (
        {"criteria": {"metric": "accuracy"}, "stages": [{"stage": "shadow"}]},
        "field criteria needs 'metric' and 'max_metric_drop' together",
    ),
    (
        {"stages": [{"stage": "shadow", "criteria": {"max_metric_drop": 0.1}}]},
        "field stages[0].criteria needs 'metric' and 'max_metric_drop' together",
    ),
    (
        {
            "criteria": {"metric": "accuracy", "max_metric_drop": 0.1},
            "stages": [{"stage": "full", "criteria": {"metric": None}}],
        },
        "field stages[0].criteria needs 'metric' and 'max_metric_drop' together",
    ),
    (
        {"criteria": {"metric": "auc", "max_metric_drop": 0.1}, "stages": [{"stage": "full"}]},
        "criteria.metric is 'auc'; use 'accuracy', 'error_rate'",
    ),
    (
        {"criteria": {"max_error_rate": 1.5}, "stages": [{"stage": "full"}]},
        "criteria.max_error_rate is 1.5; give a number <= 1",
    ),
    (
        {"criteria": {"max_p99_ms": -1}, "stages": [{"stage": "full"}]},
        "criteria.max_p99_ms is -1; give a number >= 0",
    ),
    (
        {"criteria": {"max_p99_ms": "fast"}, "stages": [{"stage": "full"}]},
        "criteria.max_p99_ms is 'fast'; give a number",
    ),
    (
        {"criteria": {"min_labels": 0}, "stages": [{"stage": "full"}]},
        "criteria.min_labels is 0; give a whole number >= 1",
    ),
    (
        {"criteria": {"max_erorr_rate": 0.1}, "stages": [{"stage": "full"}]},
        "criteria.max_erorr_rate is not a known field; known: confidence, max_distance",
    ),
    ({"criteria": [0.1], "stages": [{"stage": "full"}]}, "criteria is [0.1]; give a mapping"),
    (
        {"routing_key": "user", "stages": [{"stage": "full"}]},
        "routing_key is 'user'; give a mapping with the fields field, header",
    ),
    (
        {"routing_key": {"cookie": "u"}, "stages": [{"stage": "full"}]},
        "routing_key.cookie is not a known field; known: field, header",
    ),
    (
        {"routing_key": {"header": ""}, "stages": [{"stage": "full"}]},
        "routing_key.header is ''; give non-blank text",
    ),
    (
        {"routing_key": {"header": "a", "field": "b"}, "stages": [{"stage": "full"}]},
        "routing_key must be",
    ),
]


@pytest.mark.parametrize(("document", "words"), BAD)
def test_a_bad_plan_is_refused_naming_its_field(document: Any, words: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        plans.parse(document)
    assert words in str(refused.value)


def test_plans_load_from_yaml_text_a_file_a_mapping_or_the_default(tmp_path: Path) -> None:
    text = "stages:\n  - {stage: shadow, min_duration: 30s}\n  - {stage: canary, steps: [10]}\n"
    path = tmp_path / "plan.yaml"
    path.write_text(text)

    from_text, from_file = plans.load(text), plans.load(path)
    from_mapping = plans.load(
        {"stages": [{"stage": "shadow", "min_duration": 30}, {"stage": "canary", "steps": [10]}]}
    )

    assert from_text == from_file == from_mapping
    assert from_file.document == {
        "stages": [{"stage": "shadow", "min_duration": "30s"}, {"stage": "canary", "steps": [10]}]
    }
    default = plans.load(None)
    assert [s.label for s in default.steps] == [
        "shadow",
        "canary 5%",
        "canary 25%",
        "canary 50%",
        "full",
    ]
    with pytest.raises(InvalidInputError, match=r"missing\.yaml does not exist"):
        plans.load(tmp_path / "missing.yaml")


def test_a_long_yaml_text_is_read_as_yaml_not_mistaken_for_a_file_name() -> None:
    """Bug: load() asked Path(text).is_file(), which fails with ENAMETOOLONG for a text
    longer than a file name may be, so a long plan given as text raised an OSError."""
    text = "stages:\n" + "".join(f"  - {{stage: canary, steps: [{i + 1}]}}\n" for i in range(30))
    assert len(text) > 255

    assert [step.share for step in plans.load(text).steps] == [(i + 1) / 100 for i in range(30)]


def test_a_mistake_in_a_plan_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("stages:\n  - {stage: shadow, min_requests: 0}\n")

    with pytest.raises(InvalidInputError) as refused:
        plans.load(path)

    assert str(refused.value) == (
        f"Rollout plan {path}: stages[0].min_requests is 0; give a whole number >= 1."
    )
