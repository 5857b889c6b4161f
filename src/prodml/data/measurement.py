"""One statistic of a batch beside the values it took on past batches, and how it is
judged: against the bound calibrated on that history, and, for statistics a few rows
can move (a mean, a standard deviation), only if the same statistic without the
batch's most extreme values moved the same way."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from prodml.data.calibration import Bound, Scale, judge
from prodml.domain.validation import FindingKind


@dataclass
class Measurement:
    column: str | None
    statistic: str
    kind: FindingKind
    history: list[float]
    observed: float
    scale: Scale
    floor: float
    min_effect: float
    sides: int
    center_if_alone: float | None = None
    examples: list[str] = field(default_factory=list)
    noise_points: int = 0  # for gaps: how many standardised errors the maximum is over
    robust: Measurement | None = None  # its trimmed twin, which must confirm a change

    def judge(self, tests: int, observed: float | None = None) -> Bound:
        """The bound of this statistic among ``tests`` tests, and how ``observed``
        (the batch's value unless given) compares with it.

        A breach the robust twin does not confirm (the twin within its own bound, or
        out on the other side) is no breach: one or two wild rows moved the statistic,
        not the bulk of the column. The pair is one test: both must breach, which is
        rarer than either alone."""
        bound = self.bound(tests, observed)
        if self.robust is None or observed is not None or not bound.breached:
            return bound
        twin = self.robust.judge(tests)
        if twin.breached and (twin.z > 0) == (bound.z > 0):
            return bound
        return dataclasses.replace(bound, breached=False)

    def bound(self, tests: int, observed: float | None = None) -> Bound:
        """The calibrated bound alone, without the twin's confirmation."""
        return judge(
            self.history,
            self.observed if observed is None else observed,
            self.scale,
            self.floor,
            self.min_effect,
            self.sides,
            tests,
            self.center_if_alone,
            self.noise_points,
        )

    def describe(self, bound: Bound) -> str | None:
        """A message of its own for the finding, or None for the usual one."""
        return None
