"""The rollout plan document as a typed model (read by :mod:`prodml.deploy.plan`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from prodml.documents import Document, Duration, Name

Share = Annotated[float, Field(ge=0, le=1)]
Limit = Annotated[float, Field(ge=0)]
Percent = Annotated[float, Field(gt=0, lt=100)]


class CriteriaDocument(Document):
    """Limits a step must be certainly within; null leaves that check out. A stage's
    criteria override the plan's, field by field."""

    model_config = ConfigDict(title="Criteria")

    max_error_rate: Share | None = Field(None, description="share of failed requests (0.01)")
    max_p99_ms: Limit | None = Field(None, description="99th percentile latency, milliseconds")
    max_p99_ratio: Limit | None = Field(None, description="p99 latency over the champion's")
    min_agreement: Share | None = Field(
        None, description="share of answers equal to the champion's"
    )
    max_distance: Share | None = Field(
        None, description="distance between the candidate's and the champion's answers"
    )
    metric: Literal["accuracy", "error_rate", "mae", "rmse", "mse"] | None = Field(
        None, description="judged once labels arrive, against the champion"
    )
    max_metric_drop: Limit | None = Field(None, description="how far the metric may fall")
    min_labels: Annotated[int, Field(ge=1)] | None = Field(
        None, description="labels needed before the metric is judged (100)"
    )
    confidence: Share | None = Field(
        None, description="of each check, over every look at a step (0.95)"
    )


class StageDocument(Document):
    """One stage; a canary stage with several steps becomes one step per share."""

    model_config = ConfigDict(title="Stage")

    stage: Literal["shadow", "canary", "full"] = Field(
        description="shadow: the candidate answers in the background; canary: a share of "
        "requests; full: every request"
    )
    steps: Annotated[list[Percent], Field(min_length=1)] | None = Field(
        None, description="canary only: rising percentages of traffic, e.g. [5, 25, 50] (10)"
    )
    min_duration: Duration = Field(60.0, description="least time at each step (1m)")
    min_requests: Annotated[int, Field(ge=1)] = Field(
        100, description="least requests seen at each step"
    )
    max_duration: Duration | None = Field(
        None, description="longest a step may stay inconclusive before the rollout is rolled back"
    )
    criteria: CriteriaDocument | None = Field(None, description="overrides of the plan's criteria")

    @field_validator("steps")
    @classmethod
    def _rising(cls, steps: list[float] | None) -> list[float] | None:
        if steps is not None and steps != sorted(steps):
            raise ValueError("give rising percentages between 0 and 100, e.g. [5, 25, 50]")
        return steps

    @model_validator(mode="after")
    def _steps_only_on_a_canary(self) -> StageDocument:
        if self.steps is not None and self.stage != "canary":
            raise ValueError("has 'steps', which only a canary stage has")
        return self

    def shares(self) -> list[float]:
        if self.stage != "canary":
            return [0.0 if self.stage == "shadow" else 1.0]
        return [step / 100.0 for step in self.steps or [10.0]]


class RoutingKeyDocument(Document):
    """Where a request's sticky key is read: {header: NAME} or {field: NAME}."""

    model_config = ConfigDict(title="Routing key", json_schema_extra={"maxProperties": 1})

    header: Name | None = Field(None, description="an HTTP header, e.g. x-user-id")
    field: Name | None = Field(None, description="an input field, e.g. user_id")

    @model_validator(mode="after")
    def _one_source(self) -> RoutingKeyDocument:
        if (self.header is None) == (self.field is None):
            raise ValueError("must be {header: NAME} or {field: NAME}, e.g. {header: x-user-id}")
        return self


class PlanDocument(Document):
    """A rollout plan: stages, traffic steps, minimum evidence and criteria."""

    model_config = ConfigDict(title="Rollout plan")

    stages: Annotated[list[StageDocument], Field(min_length=1)] = Field(
        description="in order: shadow, canary steps from small to large, then full"
    )
    criteria: CriteriaDocument | None = Field(None, description="defaults for every stage")
    routing_key: RoutingKeyDocument | None = Field(
        None, description="sticky canary assignment: {header: x-user-id} or {field: user_id}"
    )

    @model_validator(mode="after")
    def _shares_never_fall(self) -> PlanDocument:
        shares = [share for stage in self.stages for share in stage.shares()]
        if shares != sorted(shares):
            raise ValueError(
                "stages must not lower the candidate's share: order them shadow, canary "
                "steps from small to large, then full"
            )
        _metric_with_its_drop(self.criteria, None, "criteria")
        for index, stage in enumerate(self.stages):
            _metric_with_its_drop(stage.criteria, self.criteria, f"stages[{index}].criteria")
        return self


def _metric_with_its_drop(
    criteria: CriteriaDocument | None, base: CriteriaDocument | None, where: str
) -> None:
    """A metric is judged against a drop: the two come together, once a stage's criteria
    are laid over the plan's."""
    given = [
        getattr(criteria if _sets(criteria, key) else base, key, None)
        for key in ("metric", "max_metric_drop")
    ]
    if (given[0] is None) != (given[1] is None):
        raise ValueError(
            f"field {where} needs 'metric' and 'max_metric_drop' together "
            "(e.g. metric: accuracy, max_metric_drop: 0.02)"
        )


def _sets(criteria: CriteriaDocument | None, key: str) -> bool:
    """Whether the document writes ``key`` (an explicit null sets it to nothing)."""
    return criteria is not None and key in criteria.model_fields_set
