"""Starting a run: the hypothesis, config, inputs and code state are stored first."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from prodml.client import Client
from prodml.data.refs import resolve_input
from prodml.domain.artifact import Artifact
from prodml.domain.dataset import DatasetVersion
from prodml.domain.ids import new_id, utcnow
from prodml.domain.run import Run, RunStatus
from prodml.errors import InvalidInputError
from prodml.names import check_name
from prodml.track import active
from prodml.track.environment import run_environment
from prodml.track.run import ActiveRun


def start_run(
    client: Client,
    experiment: str,
    config: Mapping[str, Any] | None = None,
    hypothesis: str | None = None,
    inputs: Iterable[DatasetVersion | str] = (),
    force_inputs: str | None = None,
    parent: ActiveRun | Run | str | None = None,
    builds_on: ActiveRun | Run | str | None = None,
    tags: Mapping[str, str] | None = None,
) -> ActiveRun:
    check_name(experiment, "experiment")
    marks, links = _family(client, parent, builds_on)
    document = _config(config)
    if hypothesis is not None and not isinstance(hypothesis, str):
        raise InvalidInputError(f"hypothesis must be text, not {type(hypothesis).__name__}.")
    if isinstance(inputs, str | DatasetVersion):
        inputs = [inputs]
    versions = [resolve_input(client, item) for item in inputs]
    forced = _gate(client, versions, force_inputs)
    recorded, code = run_environment()
    run = Run(
        id=new_id(),
        experiment=experiment,
        status=RunStatus.RUNNING,
        author=client.settings.user,
        started_at=utcnow(),
        hypothesis=hypothesis,
        config=document,
        environment=recorded,
        git_commit=code.commit,
        tags={**_tags(tags), **marks},
    )
    client.metadata.insert_run(
        run, [v.id for v in versions], _diff_artifact(client, run, code.diff), links
    )
    for version, validation in forced:
        client.metadata.record_event(
            "run.input_forced",
            ("run", run.id),
            force_inputs,
            {"dataset": version.ref, "version_id": version.id, "validation": validation},
        )
    started = ActiveRun(client, run.id, experiment)
    active.started(started)
    return started


def _family(
    client: Client, parent: ActiveRun | Run | str | None, builds_on: ActiveRun | Run | str | None
) -> tuple[dict[str, str], list[tuple[tuple[str, str], str]]]:
    """Tags and lineage edges for the run a new run is a child of and the one it
    builds on (a sweep's trials build on the run whose cached steps they reuse)."""
    marks: dict[str, str] = {}
    links: list[tuple[tuple[str, str], str]] = []
    for field, given, relation in (
        ("parent", parent, "child"),
        ("builds_on", builds_on, "builds_on"),
    ):
        if given is None:
            continue
        if isinstance(given, ActiveRun | Run):
            ident = given.id
        elif isinstance(given, str):
            ident = client.metadata.get_run(given).id
        else:
            raise InvalidInputError(
                f"{field} must be a run, an active run or a run id, not {type(given).__name__}."
            )
        marks[f"prodml.{field}"] = ident
        links.append((("run", ident), relation))
    return marks, links


def _tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise InvalidInputError("tags must map names to text, e.g. {'team': 'search'}.")
    return dict(tags)


def _gate(
    client: Client, versions: list[DatasetVersion], why: str | None
) -> list[tuple[DatasetVersion, str]]:
    """Inputs whose latest validation found hard problems are refused unless forced
    with a reason; returns the forced ones with their validation ids."""
    if why is not None and (not isinstance(why, str) or not why.strip()):
        raise InvalidInputError("force_inputs needs a reason: say why the run may use the inputs.")
    blocked = []
    for version in versions:
        latest = client.metadata.latest_validation(version.id)
        if latest is not None and latest.blocked:
            blocked.append((version, latest))
    if blocked and why is None:
        lines = "; ".join(
            f"{v.ref} (validation {r.id[:12]}: "
            + ", ".join(
                f"{f['statistic']} of {f['column']}"
                for f in r.result["findings"]
                if f["kind"] == "hard"
            )
            + ")"
            for v, r in blocked
        )
        raise InvalidInputError(
            f"Inputs failed validation with hard findings: {lines}. Fix the data and log it "
            "again, or use them anyway with start_run(..., force_inputs='why')."
        )
    return [(v, r.id) for v, r in blocked]


def _config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise InvalidInputError(f"config must be a mapping (a dict), not {type(config).__name__}.")
    try:
        return dict(json.loads(json.dumps(dict(config), sort_keys=True)))
    except (TypeError, ValueError) as error:
        raise InvalidInputError(
            f"config cannot be stored as JSON: {error}. Use numbers, text, lists and dicts."
        ) from None


def _diff_artifact(client: Client, run: Run, diff: bytes) -> Artifact | None:
    if not diff:
        return None
    digest, size = client.artifacts.put_bytes(diff)
    return Artifact(
        id=new_id(),
        owner_kind="run",
        owner_id=run.id,
        name="code.diff",
        digest=digest,
        size=size,
        media_type="text/x-diff",
        created_at=run.started_at,
    )
