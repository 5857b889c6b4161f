"""``prodml evaluate``, ``prodml evaluate compare`` and ``prodml suites``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

import prodml
from prodml.cli.output import console, emit_json
from prodml.domain.evaluation import Comparison, Estimate, Evaluation, GateResult, Verdict
from prodml.errors import InvalidInputError

suites_app = typer.Typer(help="Evaluation suites, one per model.", no_args_is_help=True)
STYLE = {Verdict.PASS: "green", Verdict.FAIL: "bold red", Verdict.INCONCLUSIVE: "yellow"}


def _interval(estimate: Estimate) -> str:
    """``0.8834 ±0.0053``: the value and half the width of its interval (the exact,
    possibly uneven, bounds are in --json and --html)."""
    if not math.isfinite(estimate.value):
        return "n/a"
    if not math.isfinite(estimate.low):
        return f"{estimate.value:.4g}"
    return f"{estimate.value:.4g} ±{(estimate.high - estimate.low) / 2:.2g}"


def _number(estimate: Estimate) -> str:
    return f"{estimate.value:.4g}" if math.isfinite(estimate.value) else "n/a"


def _bounds(estimate: Estimate) -> str:
    if not math.isfinite(estimate.value):
        return "n/a"
    if not math.isfinite(estimate.low):
        return f"{estimate.value:+.4g}"
    return f"{estimate.value:+.4g} [{estimate.low:+.3g}, {estimate.high:+.3g}]"


def evaluate(
    refs: Annotated[
        list[str],
        typer.Argument(
            help="MODEL@VERSION, or: compare MODEL A B", metavar="MODEL@VERSION | compare MODEL A B"
        ),
    ],
    html: Annotated[Path | None, typer.Option("--html", help="Write an HTML report here.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Run a model's suite: metrics per validation set and slice with 95% intervals.

    `prodml evaluate compare MODEL A B` scores A (baseline: a version or alias such as
    champion) and B on the same rows, shows each difference with its interval, marks
    certain regressions and judges the gate; it exits 1 unless the gate passes."""
    if refs[0] == "compare":
        if len(refs) != 4:
            raise InvalidInputError(
                "Usage: prodml evaluate compare MODEL A B (versions or aliases)."
            )
        with console.status(f"Comparing {refs[1]} {refs[2]} and {refs[3]} ..."):
            subject: Evaluation | Comparison = prodml.compare_models(refs[1], refs[2], refs[3])
    elif len(refs) == 1:
        with console.status(f"Evaluating {refs[0]} ..."):
            subject = prodml.evaluate_model(refs[0])
    else:
        raise InvalidInputError("Give one MODEL@VERSION, or: prodml evaluate compare MODEL A B.")
    if html is not None:
        _write_html(subject, html)
    if json:
        emit_json(subject)
    elif isinstance(subject, Comparison):
        _comparison(subject)
    else:
        _evaluation(subject)
    if html is not None and not json:
        console.print(f"Report: {html}")
    if (
        isinstance(subject, Comparison)
        and subject.gate
        and subject.gate.verdict is not Verdict.PASS
    ):
        raise typer.Exit(1)


def _write_html(subject: Evaluation | Comparison, path: Path) -> None:
    from prodml.evaluate.report import render_html

    try:
        path.write_text(render_html(subject), encoding="utf-8")
    except OSError as error:
        raise InvalidInputError(f"Cannot write the report to {path}: {error.strerror}.") from None


def _evaluation(evaluation: Evaluation) -> None:
    console.print(
        Text.assemble(
            (f"Evaluation of {evaluation.model}", "bold"),
            f"  suite v{evaluation.suite_version}, {evaluation.resamples} resamples, "
            f"id {evaluation.id[:12]}",
        )
    )
    for valset in evaluation.valsets:
        metrics = list(dict.fromkeys(s.metric for s in evaluation.scores if s.valset == valset))
        table = Table("slice", "rows", *metrics, title=valset)
        slices = dict.fromkeys(s.slice for s in evaluation.scores if s.valset == valset)
        for name in slices:
            cells = [evaluation.estimate(valset, name, m) for m in metrics]
            rows = max((c.rows for c in cells if c is not None), default=0)
            table.add_row(name, f"{rows:,}", *(_interval(c) if c else "-" for c in cells))
        console.print(table)
    _findings(evaluation)


def _comparison(comparison: Comparison) -> None:
    base = comparison.baseline.model if comparison.baseline else "nothing"
    console.print(
        Text.assemble(("Compare ", "bold"), f"{base} (A) with {comparison.candidate.model} (B)")
    )
    table = Table("set", "slice", "metric", "A", "B", "B - A [95% interval]", "")
    for d in comparison.differences:
        mark = (
            ("worse", "bold red")
            if d.certain_regression
            else ("better", "green")
            if _certain_gain(d)
            else ("", "")
        )
        table.add_row(
            d.valset,
            d.slice,
            d.metric,
            _number(d.baseline),
            _number(d.candidate),
            _bounds(d.diff),
            Text(mark[0], style=mark[1]),
        )
    console.print(table)
    _findings(comparison.candidate)
    if comparison.gate:
        _gate(comparison.gate)


def _certain_gain(d: object) -> bool:
    from prodml.domain.evaluation import Difference

    assert isinstance(d, Difference)
    if not d.diff.defined or not math.isfinite(d.diff.low):
        return False
    return d.diff.low > 0 if d.higher_is_better else d.diff.high < 0


def _gate(gate: GateResult) -> None:
    console.print(
        Text.assemble(
            "Gate: ",
            (gate.verdict.value.upper(), STYLE[gate.verdict]),
            f"  ({len(gate.checks)} checks: {len(gate.failing())} failed, "
            f"{len(gate.inconclusive())} inconclusive)",
        )
    )
    for check in [*gate.failing(), *gate.inconclusive()][:20]:
        console.print(
            Text.assemble("  ", (check.verdict.value, STYLE[check.verdict]), f": {check.why}")
        )
    for note in gate.notes:
        console.print(f"  note: {note}")


def _findings(evaluation: Evaluation) -> None:
    for finding in evaluation.findings:
        style = "yellow" if finding.kind in ("guardrail", "metric_unavailable") else "red"
        console.print(Text.assemble("  ", (finding.kind, style), f": {finding.message}"))


@suites_app.command("register")
def register(
    name: str, path: Annotated[Path, typer.Argument(help="The suite's YAML file.")]
) -> None:
    """Store the suite of model NAME; evaluations and promotions use the latest."""
    version = prodml.register_suite(name, path)
    console.print(f"Suite version {version} of {name} registered.")


@suites_app.command("show")
def show(name: str, version: Annotated[int | None, typer.Option("--version")] = None) -> None:
    """The suite document of model NAME (latest unless --version)."""
    import yaml

    from prodml.client import default_client

    number, document = default_client().metadata.get_suite(name, version)
    console.print(f"# suite version {number} of {name}")
    console.print(yaml.safe_dump(document, sort_keys=False), end="")


def register_commands(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
    app.add_typer(suites_app, name="suites")
