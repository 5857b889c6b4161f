"""``prodml evaluate``, ``prodml evaluate compare`` and ``prodml suites``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

import prodml
from prodml.cli.output import console, emit_json
from prodml.domain.evaluation import (
    Comparison,
    Difference,
    Estimate,
    Evaluation,
    GateResult,
    Verdict,
)
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


def evaluate(
    refs: Annotated[
        list[str],
        typer.Argument(
            help="MODEL@VERSION, or: compare MODEL A B", metavar="MODEL@VERSION | compare MODEL A B"
        ),
    ],
    html: Annotated[Path | None, typer.Option("--html", help="Write an HTML report here.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    executor: Annotated[
        str, typer.Option("--executor", help="Where the models answer: local or ray.")
    ] = "local",
    partitions: Annotated[
        int | None,
        typer.Option(
            "--partitions", min=1, help="Parts of each validation set (default: Ray's CPUs)."
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option("--address", help="Ray cluster: auto or ray://HOST:10001 (default: local)."),
    ] = None,
) -> None:
    """Run a model's suite: metrics per validation set and slice with 95% intervals.

    `prodml evaluate compare MODEL A B` scores A (baseline: a version or alias such as
    champion) and B on the same rows, shows each difference with its interval, marks
    certain regressions and judges the gate; it exits 1 unless the gate passes.
    With --executor ray the models answer large validation sets in parts on Ray; every
    figure is the same as in one process."""
    parted: dict[str, Any] = {"executor": executor, "partitions": partitions, "address": address}
    if refs[0] == "compare":
        if len(refs) != 4:
            raise InvalidInputError(
                "Usage: prodml evaluate compare MODEL A B (versions or aliases)."
            )
        with console.status(f"Comparing {refs[1]} {refs[2]} and {refs[3]} ..."):
            subject: Evaluation | Comparison = prodml.compare_models(
                refs[1], refs[2], refs[3], **parted
            )
    elif len(refs) == 1:
        with console.status(f"Evaluating {refs[0]} ..."):
            subject = prodml.evaluate_model(refs[0], **parted)
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
    try:
        path.write_text(prodml.evaluation_report(subject), encoding="utf-8")
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
        Text.assemble(("Compare ", "bold"), f"A = {base} with B = {comparison.candidate.model}")
    )
    console.print(
        "Cells: B - A ± half its 95% interval; red: certainly worse, green: certainly better."
    )
    for valset in comparison.candidate.valsets:
        diffs = [d for d in comparison.differences if d.valset == valset]
        metrics = list(dict.fromkeys(d.metric for d in diffs))
        found = {(d.slice, d.metric): d for d in diffs}
        overall = ", ".join(
            f"{d.metric} {_number(d.baseline)} -> {_number(d.candidate)}"
            for d in diffs
            if d.slice == "all"
        )
        table = Table("slice", "rows", *metrics, title=f"{valset}: {overall}")
        for name in dict.fromkeys(d.slice for d in diffs):
            rows = max(d.diff.rows for d in diffs if d.slice == name)
            cells = [_change(found.get((name, metric))) for metric in metrics]
            table.add_row(name, f"{rows:,}", *cells)
        console.print(table)
    _findings(comparison.candidate)
    if comparison.gate:
        _gate(comparison.gate)


def _change(difference: Difference | None) -> Text:
    if difference is None:
        return Text("-")
    d = difference.diff
    if not math.isfinite(d.value):
        return Text("n/a")
    text = f"{d.value:+.3g}" + (f" ±{(d.high - d.low) / 2:.1g}" if math.isfinite(d.low) else "")
    if difference.certain_regression:
        return Text(text + " worse", style="bold red")
    return Text(text + " better", style="green") if _certain_gain(difference) else Text(text)


def _certain_gain(d: Difference) -> bool:
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

    number, document = prodml.get_suite(name, version)
    console.print(f"# suite version {number} of {name}")
    console.print(yaml.safe_dump(document, sort_keys=False), end="")


def register_commands(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
    app.add_typer(suites_app, name="suites")
