"""A sweep's search space as a typed model (read by :mod:`prodml.pipelines.sweep`)::

objective: auc            # a metric the pipeline logs
direction: maximize
sampler: tpe              # grid, random or tpe (Optuna's samplers)
pruner: median            # none, median or hyperband, on the intermediate metric
intermediate: valid_auc   # logged by a step with steps: pruned trials stop early
parameters:
  train.max_depth: {int: [3, 10]}
  train.learning_rate: {float: [0.01, 0.3], log: true}
  features.carriers: {choice: [4, 6, 8]}
"""

from __future__ import annotations

import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from prodml.documents import Document, Name

Finite = Annotated[float, Field(allow_inf_nan=False)]
Bounds = Annotated[list[Finite], Field(min_length=2, max_length=2)]
# what Optuna stores for a categorical value (a number finite: a config holds no NaN)
Choice = bool | int | Annotated[float, Field(allow_inf_nan=False)] | str | None
MAX_SEED = 2**32 - 1  # NumPy's, which Optuna's samplers seed


class ParameterDocument(Document):
    """One config key to search: a range of whole numbers, of numbers, or choices."""

    model_config = ConfigDict(title="Parameter")

    whole: Annotated[list[int], Field(min_length=2, max_length=2)] | None = Field(
        None, alias="int", title="Int", description="[low, high] whole numbers, both included"
    )
    number: Bounds | None = Field(None, alias="float", title="Float", description="[low, high]")
    choice: Annotated[list[Choice], Field(min_length=1)] | None = Field(
        None, description="the values to choose from: numbers, text, true, false or null"
    )
    log: bool = Field(False, description="search the range on a log scale")
    step: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        None, description="spacing of the values tried (a grid needs it for a float range)"
    )

    @field_validator("choice", mode="before")
    @classmethod
    def _dates_as_text(cls, value: object) -> object:
        """A date (``2013-03-15`` unquoted) is its ISO text, as in the pipeline's config."""
        if isinstance(value, list):
            return [v.isoformat() if isinstance(v, datetime.date) else v for v in value]
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> ParameterDocument:
        kinds = [k for k in ("whole", "number", "choice") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "give exactly one of int: [low, high], float: [low, high], choice: [...]"
            )
        if self.whole is not None and self.step is not None and self.step != int(self.step):
            raise ValueError(f"step of an int range is a whole number, not {self.step:g}")
        bounds = self.whole or self.number
        if bounds is not None and not bounds[0] < bounds[1]:
            raise ValueError(f"needs low < high, not {bounds}")
        if self.log and (bounds is None or bounds[0] <= 0):
            raise ValueError("log: true needs a range of positive numbers")

        return self


class SpaceDocument(Document):
    """What a sweep searches and what it optimises."""

    model_config = ConfigDict(title="Search space")

    objective: Name = Field(description="the metric the pipeline logs that trials are ranked by")
    direction: Literal["maximize", "minimize"] = Field(
        "maximize", description="whether a larger objective is better"
    )
    sampler: Literal["grid", "random", "tpe"] = Field("tpe", description="Optuna's sampler")
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = Field(
        0, description="the sampler's seed: the same seed, the same trials"
    )
    pruner: Literal["none", "median", "hyperband"] = Field(
        "none", description="Optuna's pruner: stops trials whose intermediate metric lags"
    )
    intermediate: Name | None = Field(
        None, description="a metric a step logs with steps, judged by the pruner as it grows"
    )
    parameters: Annotated[dict[Name, ParameterDocument], Field(min_length=1)] = Field(
        description="config keys (train.max_depth) and the values each may take"
    )

    @model_validator(mode="after")
    def _log_steps(self) -> SpaceDocument:
        """Optuna's samplers search a log scale without a step (a grid lists the values
        of a range by its step and has no scale)."""
        for key, p in self.parameters.items():
            stepped = p.step is not None and (p.whole is None or p.step != 1)
            if self.sampler != "grid" and p.log and stepped:
                raise ValueError(
                    f"parameters[{key!r}] has log: true and step: {p.step:g}, which the "
                    f"{self.sampler} sampler cannot take together; search the range on a log "
                    "scale without a step, or give evenly spaced values with step and no log"
                )
        return self

    @model_validator(mode="after")
    def _pruning(self) -> SpaceDocument:
        if self.pruner != "none" and self.intermediate is None:
            raise ValueError("a pruner needs intermediate: the metric a step logs as it trains")
        return self
