"""What the steps of a pipeline run made so far: each finished step's outputs, kept in
memory as the step returned them and read from the store only when a later step needs
one it does not hold, and the profiles of its tables, made in a background thread while
the next steps run."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from prodml.client import Client
from prodml.domain.steps import StepOutput
from prodml.errors import InvalidInputError

if TYPE_CHECKING:
    from prodml.data.pending_profiles import PendingProfiles, ProfileFailure


class Produced:
    """The outputs and pending profiles of one pipeline run's steps."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.records: dict[str, dict[str, StepOutput]] = {}
        self.values: dict[tuple[str, str], Any] = {}
        self._profiles: PendingProfiles | None = None

    def profiles(self) -> PendingProfiles:
        """Where the steps' tables are profiled (made on first use: a run whose steps
        are all cached loads no table library)."""
        if self._profiles is None:
            from prodml.data.pending_profiles import PendingProfiles

            self._profiles = PendingProfiles(self.client)
        return self._profiles

    def finish_profiles(self) -> list[ProfileFailure]:
        """Wait for the tables' profiles and store them; those that failed."""
        return [] if self._profiles is None else self._profiles.finish()

    def record(self, step: str, stored: Collection[StepOutput], values: Mapping[str, Any]) -> None:
        self.records[step] = {o.name: o for o in stored}
        self.values.update({(step, name): value for name, value in values.items()})

    def output(self, source: str) -> StepOutput:
        step, _, name = source.partition(".")
        found = self.records[step]
        if name in found:
            return found[name]
        if not name and len(found) == 1:
            return next(iter(found.values()))
        choices = ", ".join(f"{step}.{n}" if n else step for n in found) or "none"
        raise InvalidInputError(
            f"Step {step!r} has no output {source!r}; its outputs: {choices}. Name one of "
            "them in the inputs of the pipeline file."
        )

    def value(self, source: str) -> Any:
        from prodml.pipelines import outputs

        stored = self.output(source)
        step = source.partition(".")[0]
        if (step, stored.name) not in self.values:
            self.values[(step, stored.name)] = outputs.load(self.client, stored)
        return self.values[(step, stored.name)]
