"""The part of the metadata store that keeps the pipeline step cache (``sql_steps``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from prodml.domain.steps import CachedStep


class StepStore(Protocol):
    def cached_step(self, key: str) -> CachedStep | None:
        """The outputs a step with this key made, if any run made them."""

    def cache_step(self, entry: CachedStep, replace: bool = False) -> bool:
        """Keep a finished step's outputs under its key, with an event; False (and
        nothing changed) when the key was cached already, by this run or another,
        unless ``replace`` (a forced rerun: its outputs are reused from now on)."""

    def flag_nondeterministic(self, key: str, details: dict[str, object]) -> None:
        """Mark the step of ``key`` as giving different outputs for the same key."""

    def cached_steps(self, pipeline: str, step: str | None = None) -> Sequence[CachedStep]:
        """Every cache entry of a pipeline (or one of its steps), newest first."""
