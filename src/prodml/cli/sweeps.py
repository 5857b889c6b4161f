"""``prodml sweep``: trials of a pipeline over a search space; the best of a sweep."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

import prodml
from prodml.cli.evaluation import _comparison as show_comparison
from prodml.cli.output import console, emit_json, errors
from prodml.domain.evaluation import Verdict
from prodml.errors import InvalidInputError, echoed


def sweep(
    target: Annotated[
        str, typer.Argument(help="The pipeline file, or `best` to show a sweep's best trial.")
    ],
    name: Annotated[str | None, typer.Argument(help="With `best`: the sweep's name.")] = None,
    space: Annotated[
        str | None, typer.Option("--space", help="The search space file (YAML).")
    ] = None,
    trials: Annotated[int, typer.Option("--trials", min=1, help="Trials to run.")] = 20,
    parallel: Annotated[int, typer.Option("--parallel", min=1, help="Trials at once.")] = 1,
    executor: Annotated[
        str, typer.Option("--executor", help="local (processes of this machine) or ray (Ray Tune).")
    ] = "local",
    address: Annotated[
        str | None, typer.Option("--address", help="Ray cluster (default: a local Ray).")
    ] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="Override the config of every trial: KEY=VALUE."),
    ] = None,
    sweep_name: Annotated[
        str | None, typer.Option("--name", help="Name of the sweep (default: made up).")
    ] = None,
    compare: Annotated[
        str | None,
        typer.Option(
            "--compare",
            metavar="MODEL",
            help="With `best`: compare its model on its suite (the suite of MODEL).",
        ),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option("--baseline", help="With --compare: the model to beat (MODEL@champion)."),
    ] = None,
    accept_leakage: Annotated[
        str | None,
        typer.Option(
            "--accept-leakage",
            metavar="WHY",
            help="Train although a step's leakage check found hard problems (every trial); "
            "the reason is recorded on each step's run.",
        ),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Run trials of a pipeline chosen by Optuna, or show the best trial of a sweep.

    prodml sweep pipeline.yaml --space space.yaml --trials 40 --parallel 4 runs the
    trials; prodml sweep best NAME [--compare SUITE] shows the best one and compares
    its model with the suite, against --baseline (default: the model's champion)."""
    if target == "best":
        if name is None:
            raise InvalidInputError("Name the sweep: prodml sweep best NAME.")
        if baseline is not None and compare is None:
            raise InvalidInputError(
                "--baseline is the model a comparison runs against; give the suite too: "
                f"prodml sweep best {name} --compare SUITE --baseline {baseline}."
            )
        if accept_leakage is not None:
            raise InvalidInputError(
                "--accept-leakage is for running a sweep's trials; prodml sweep best "
                "trains nothing."
            )
        _best(name, compare, baseline, json)
        return
    if name is not None:
        raise InvalidInputError(
            f"prodml sweep {target} takes one file; {name!r} is one argument too many. "
            f"For a sweep's best trial: prodml sweep best {name}."
        )
    for flag, given in (("--compare", compare), ("--baseline", baseline)):
        if given is not None:
            raise InvalidInputError(
                f"{flag} is for a finished sweep's best trial: run the sweep, then "
                f"prodml sweep best NAME {flag} {given}."
            )
    if space is None:
        raise InvalidInputError("Give the search space: prodml sweep PIPELINE --space SPACE.yaml.")

    def report(trial: Any) -> None:
        if json:
            return
        outcome = trial.outcome
        value = "-" if outcome.value is None else f"{outcome.value:.6g}"
        shown = ", ".join(
            f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.values.items()
        )
        errors.print(
            f"  trial {trial.number:>3} {outcome.state:<8} {value:>10}  {outcome.seconds:6.1f} s"
            f"  {shown}" + (f"  ({outcome.error})" if outcome.error else "")
        )

    result = prodml.sweep(
        target,
        space,
        trials,
        parallel,
        executor,
        settings or [],
        sweep_name,
        address,
        report,
        accept_leakage=accept_leakage,
    )
    if json:
        emit_json(result)
    else:
        _summary(result)
    if result.best is None:  # every trial failed or was pruned: a script must see it
        raise typer.Exit(1)


def _summary(result: Any) -> None:
    best = result.best
    console.print(
        f"sweep {result.name}: {len(result.trials)} trials in {result.seconds:.1f} s "
        f"(run {result.run_id[:12]})"
    )
    if best is None:
        errors.print(
            Text.assemble(
                ("Error:", "red"),
                f" no trial of sweep {result.name} completed; fix what the trials above "
                "report and run the sweep again.",
            )
        )
        return
    console.print(
        f"  best: trial {best.number}, {result.objective}={best.outcome.value:.6g}, "
        f"run {(best.outcome.run_id or '')[:12]}"
    )
    console.print(f"  compare it: prodml sweep best {result.name} --compare SUITE")


def _best(name: str, suite: str | None, baseline: str | None, json: bool) -> None:
    best = prodml.best_trial(name)
    models = prodml.trial_models(best)
    comparison = None
    if suite is not None:
        if not models:
            raise InvalidInputError(f"The best trial of {name!r} made no model to compare.")
        model = models[0].partition("@")[0]
        if suite != model:  # a suite is registered under its model's name
            raise InvalidInputError(
                f"--compare {echoed(suite)} is not the suite of the best trial's model "
                f"{model!r}: a model is compared on its own suite (prodml suites register "
                f"{model} FILE). Run: prodml sweep best {name} --compare {model}"
            )
        against = baseline or _champion(name, suite, models[0])
        comparison = prodml.compare_models(suite, against, models[0])
    if json:
        emit_json({"run": best, "models": models, "comparison": comparison})
    else:
        metrics = ", ".join(f"{k}={v:.6g}" for k, v in sorted(best.metrics.items()))
        trial = best.tags.get("prodml.trial")
        console.print(f"best trial {trial} of {name}: run {best.id[:12]}")
        console.print(f"  config: {best.config}")
        console.print(f"  metrics: {metrics}")
        console.print(f"  models: {', '.join(models) or 'none'}")
        if comparison is not None:  # as prodml evaluate compare shows it
            show_comparison(comparison)
    if comparison is not None and comparison.gate and comparison.gate.verdict is not Verdict.PASS:
        raise typer.Exit(1)  # as prodml evaluate compare: a script sees the gate


def _champion(name: str, suite: str, model: str) -> str:
    """The default model to compare with: the champion of the best trial's model."""
    from prodml.errors import NotFoundError

    champion = f"{model.partition('@')[0]}@champion"
    try:
        prodml.get_model(champion)
    except NotFoundError:
        raise InvalidInputError(
            f"Model {model.partition('@')[0]!r} has no champion to compare the best trial's "
            f"model with; name one: prodml sweep best {name} --compare {suite} --baseline "
            f"{model.partition('@')[0]}@VERSION."
        ) from None
    return champion


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
