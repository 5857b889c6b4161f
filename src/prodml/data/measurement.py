"""One statistic of a batch beside the values it took on past batches, and how it is
judged: against the bound calibrated on that history, or, for statistics a few rows
can move (a mean, a standard deviation), by the same statistic without the batch's
most extreme values."""

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
    robust: Measurement | None = None  # its robust twin, which decides a change

    def judge(self, tests: int, observed: float | None = None) -> Bound:
        """The bound of this statistic among ``tests`` tests, and how ``observed``
        (the batch's value unless given) compares with it."""
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

    @property
    def twin_judges(self) -> bool:
        """A robust twin that moved in history, so can tell how far it may move."""
        return self.robust is not None and len(set(self.robust.history)) > 1

    def verdict(self, tests: int) -> tuple[Measurement, Bound]:
        """The measurement to report and its bound (breached or not).

        With a robust twin, the twin decides: a change it does not show was made by a
        few wild rows, not by the bulk of the column. When both breach, the statistic
        itself is reported (clamping can turn a wider spread into a narrower one when
        the whole column moves out of the clamping range); when only the twin does,
        the statistic swings too much from batch to batch to judge (wild rows in past
        batches) and the twin is reported. Either way the pair is one test. A twin
        that never moved in history (a column almost always 0, all clamped to 0)
        cannot judge: there the statistic decides alone."""
        bound = self.judge(tests)
        if not self.twin_judges or self.robust is None:
            return self, bound
        twin = self.robust.judge(tests)
        if not twin.breached:
            return self, dataclasses.replace(bound, breached=False)
        return (self, bound) if bound.breached else (self.robust, twin)

    def describe(self, bound: Bound) -> str | None:
        """A message of its own for the finding, or None for the usual one."""
        return None
