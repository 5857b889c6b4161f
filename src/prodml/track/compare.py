"""Comparing two runs: config, params, input datasets, code and metrics side by side."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from prodml.client import Client
from prodml.domain.run import Run, flatten_config


@dataclass(frozen=True)
class Difference:
    name: str
    left: Any
    right: Any
    delta: float | None = None


@dataclass(frozen=True)
class CodeChange:
    left_commit: str | None
    right_commit: str | None
    left_diff: str
    right_diff: str

    @property
    def same(self) -> bool:
        return self.left_commit == self.right_commit and self.left_diff == self.right_diff


@dataclass(frozen=True)
class RunComparison:
    left: Run
    right: Run
    config: tuple[Difference, ...]
    params: tuple[Difference, ...]
    inputs: tuple[Difference, ...]
    metrics: tuple[Difference, ...]
    code: CodeChange

    def _repr_html_(self) -> str:
        """The two runs side by side in a notebook: what differs, and every metric."""
        from prodml.domain import display

        left, right = self.left.id[:12], self.right.id[:12]

        def section(title: str, rows: tuple[Difference, ...]) -> str:
            shown = [(d.name, d.left, d.right, d.delta) for d in rows]
            header = ("name", left, right, "change")
            return f"<h4>{title}</h4>" + display.table(header, shown) if rows else ""

        code = "same code" if self.code.same else (
            f"code differs: {self.code.left_commit or '-'} / {self.code.right_commit or '-'}"
        )  # fmt: skip
        return display.page(
            f"Run {left} ({self.left.experiment}) against {right} ({self.right.experiment})",
            f'<p class="muted">{display.text(code)}</p>',
            section("Metrics", self.metrics),
            section("Config that differs", self.config),
            section("Params that differ", self.params),
            section("Inputs that differ", self.inputs),
        )


def _differences(left: dict[str, Any], right: dict[str, Any]) -> tuple[Difference, ...]:
    keys = list(left) + [key for key in right if key not in left]
    return tuple(
        Difference(key, left.get(key), right.get(key))
        for key in keys
        if left.get(key) != right.get(key)
    )


def _metrics(left: Run, right: Run) -> tuple[Difference, ...]:
    rows = []
    for key in sorted(left.metrics.keys() | right.metrics.keys()):
        a, b = left.metrics.get(key), right.metrics.get(key)
        delta = b - a if a is not None and b is not None and not math.isnan(b - a) else None
        rows.append(Difference(key, a, b, delta))
    return tuple(rows)


def _inputs(client: Client, run: Run) -> dict[str, Any]:
    """Input versions by dataset name (a run may use several versions of one name)."""
    named: dict[str, list[str]] = {}
    for digest in run.inputs:
        for version in client.metadata.dataset_versions_by_digest(digest):
            named.setdefault(version.name, []).append(f"{version.ref} [{digest[:12]}]")
    return {name: ", ".join(sorted(refs)) for name, refs in named.items()}


def _diff_summary(client: Client, run: Run) -> str:
    """'+A -B in N files' for the run's uncommitted changes, or 'clean'."""
    for artifact in client.metadata.list_artifacts("run", run.id):
        if artifact.name == "code.diff":
            text = client.read_blob(artifact.digest).decode(errors="replace")
            lines = text.splitlines()
            files = sum(1 for line in lines if line.startswith("diff --git"))
            added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
            removed = sum(
                1 for line in lines if line.startswith("-") and not line.startswith("---")
            )
            return f"+{added} -{removed} in {files} file(s) [{artifact.digest[:12]}]"
    return "clean" if run.git_commit else "not a git checkout"


def compare_runs(client: Client, left_id: str, right_id: str) -> RunComparison:
    left, right = client.metadata.get_run(left_id), client.metadata.get_run(right_id)
    return RunComparison(
        left=left,
        right=right,
        config=_differences(flatten_config(left.config), flatten_config(right.config)),
        params=_differences(left.params, right.params),
        inputs=_differences(_inputs(client, left), _inputs(client, right)),
        metrics=_metrics(left, right),
        code=CodeChange(
            left.git_commit,
            right.git_commit,
            _diff_summary(client, left),
            _diff_summary(client, right),
        ),
    )
