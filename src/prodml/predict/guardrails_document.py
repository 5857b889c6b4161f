"""The guardrails document as a typed model (read by :mod:`prodml.predict.guardrails`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, model_validator

from prodml.documents import Document, Name

Scalar = str | int | float | bool | None
ACTIONS = ("set", "abstain", "clip")


class RuleDocument(Document):
    """A rule applied to every prediction in order; exactly one action: set, abstain or
    clip. Without when or confidence_below it applies to every answer."""

    model_config = ConfigDict(title="Guardrail rule")

    name: Name = Field(description="the rule's name in reports and counts")
    when: (
        Annotated[str, Field(pattern=r"\S")]
        | Annotated[dict[str, Scalar | list[Scalar]], Field(min_length=1)]
        | None
    ) = Field(
        None,
        description='SQL over the input row (e.g. "amount > 10000") or column to value',
    )
    confidence_below: Annotated[float, Field(gt=0, le=1)] | None = Field(
        None, description="only answers whose predicted class has less probability than this"
    )
    set: Any = Field(None, description="action: replace the answer with this value")
    abstain: bool = Field(False, description="action: withhold the answer (served as null)")
    clip: Annotated[list[float], Field(min_length=2, max_length=2)] | None = Field(
        None, description="action: bound a number to [low, high], e.g. [0, 600]"
    )

    @model_validator(mode="after")
    def _one_action(self) -> RuleDocument:
        actions = [key for key in ACTIONS if key in self.model_fields_set]
        if len(actions) != 1:
            raise ValueError(
                f"({self.name}) needs exactly one action: set, abstain or clip"
                + (f"; it has {' and '.join(actions)}" if actions else "")
            )
        return self


class GuardrailsDocument(Document):
    """Post-prediction filters and overrides kept beside a model version, applied the
    same when serving and when evaluating."""

    model_config = ConfigDict(title="Guardrails")

    rules: list[RuleDocument] = Field(description="applied in order to every prediction")

    @model_validator(mode="after")
    def _names_once(self) -> GuardrailsDocument:
        names = [rule.name for rule in self.rules]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(
                f"rule names must be unique: {', '.join(map(repr, repeated))} is repeated; "
                "rename one"
            )
        return self
