"""One-command responses to an incident, each recorded on it.

- ``rollback``: end the active rollout, or move champion back to the version before;
- ``fallback``: serve the version under the ``fallback`` alias (a simpler model or a
  rules model kept ready) as champion, without the gate: it is an emergency;
- ``retrain``: run the team's training command, with ``PRODML_INCIDENT`` set so the
  run can name its cause, and record its exit code and the runs it started;
- ``add-failures``: append the incident's wrong, labelled predictions to a
  validation set, so the next candidate is judged on what went wrong."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from datetime import UTC, datetime
from typing import Any

from prodml.client import Client
from prodml.deploy import tokens
from prodml.deploy.rollouts import rollback as roll_back
from prodml.domain.monitoring import Incident
from prodml.domain.registry import CHAMPION
from prodml.errors import InvalidInputError, NotFoundError
from prodml.evaluate import valsets
from prodml.monitor import incidents
from prodml.monitor.incidents import record_response, span
from prodml.predictions import query
from prodml.sql_text import identifier, literal

FALLBACK = "fallback"


def rollback(client: Client, incident: Incident, why: str | None) -> str:
    done = roll_back(client, incident.model, _why(incident, why))
    result = f"rolled back: {_describe(done)}"
    record_response(client, incident, "rollback", result, {}, why)
    return result


def fallback(client: Client, incident: Incident, version: int | None, why: str | None) -> str:
    store = client.metadata
    target = version if version is not None else store.alias_version(incident.model, FALLBACK)
    if target is None:
        raise NotFoundError(
            f"Model {incident.model!r} has no {FALLBACK!r} alias. Keep a simple model ready: "
            f"prodml models alias {incident.model}@VERSION {FALLBACK}, or give --to VERSION."
        )
    current = store.alias_version(incident.model, CHAMPION)
    if current == target:
        raise InvalidInputError(f"{incident.model}@{CHAMPION} is v{target} already.")
    model = store.get_model_version(incident.model, str(target))
    store.move_alias(
        incident.model, CHAMPION, target, model.id, f"fallback: {_why(incident, why)}",
        verdict="fallback", expected=current,
    )  # fmt: skip
    result = f"champion v{current} -> fallback v{target}"
    record_response(client, incident, "fallback", result, {"from": current, "to": target}, why)
    return result


def retrain(client: Client, incident: Incident, command: str, why: str | None) -> tuple[str, int]:
    argv = shlex.split(command)
    if not argv:
        raise InvalidInputError("Give the training command, e.g. --command 'python train.py'.")
    started = time.time()
    environment = {**os.environ, "PRODML_INCIDENT": incident.id}
    try:
        code = subprocess.run(argv, env=environment, check=False).returncode
    except OSError as error:
        raise InvalidInputError(f"Cannot run {argv[0]!r}: {error.strerror}.") from None
    runs = [r.id for r in client.metadata.list_runs() if r.started_at.timestamp() >= started]
    result = f"`{command}` exited {code} after {time.time() - started:.0f}s, runs: " + (
        ", ".join(r[:12] for r in runs) or "none"
    )
    record_response(client, incident, "retrain", result, {"command": command, "exit": code,
                                                          "runs": runs}, why)  # fmt: skip
    return result, code


def failures_query(client: Client, incident: Incident, label_as: str, where: str | None) -> str:
    start, end = span(client, incident)
    wrong = where or "output::VARCHAR <> label::VARCHAR"
    return (
        f"SELECT unnest(inputs), label AS {identifier(label_as)}, request_id AS _request_id "
        f"FROM labelled WHERE model = {literal(incident.model)} "
        f"AND ts >= TIMESTAMPTZ {literal(_iso(start))} AND ts < TIMESTAMPTZ {literal(_iso(end))} "
        f"AND ({wrong})"
    )


def add_failures(
    client: Client, incident: Incident, valset: str, label_as: str, where: str | None,
    why: str | None,
) -> tuple[str, int]:  # fmt: skip
    sql = failures_query(client, incident, label_as, where)
    rows = query.query(client.log_files, sql)
    if not rows.num_rows:
        raise InvalidInputError(
            f"No labelled wrong predictions of {incident.model!r} in the incident's windows "
            "yet: ingest the labels first (prodml labels ingest), or widen --where."
        )
    rows = rows.drop_columns(["_request_id"])
    if rows.column_names.count(label_as) > 1:
        raise InvalidInputError(
            f"--label-as {label_as!r} is also an input of {incident.model!r}; give the "
            "validation set's label column (e.g. the column the suite names as label)."
        )
    version, added = valsets.add(
        client, valset, rows, f"incident {incident.id[:8]}", fill_missing=True
    )
    result = f"{added} failing predictions added to {version.ref} ({rows.num_rows - added} known)"
    record_response(client, incident, "add-failures", result, {"valset": version.ref}, why)
    return result, added


RESPONSES = ("rollback", "fallback", "retrain", "add-failures")


def respond(
    client: Client, incident_id: str, action: str, why: str | None = None, **options: Any
) -> str:
    """Take one response and record it on the incident; what it did, in words."""
    incident = incidents.get(client, incident_id)
    if incident.state == "closed":
        raise InvalidInputError(
            f"Incident {incident.id[:8]} is closed; open a new one for a new response."
        )
    if action in ("rollback", "fallback"):
        tokens.require(client, "rollback")
    if action == "rollback":
        return rollback(client, incident, why)
    if action == "fallback":
        return fallback(client, incident, options.get("to"), why)
    if action == "retrain":
        return retrain(client, incident, str(options.get("command") or ""), why)[0]
    if action == "add-failures":
        if not options.get("valset") or not options.get("label_as"):
            raise InvalidInputError(
                "add-failures needs the validation set and its label column: "
                "--valset NAME --label-as COLUMN"
            )
        return add_failures(
            client, incident, options["valset"], options["label_as"], options.get("where"), why
        )[0]
    raise InvalidInputError(f"No response {action!r}; choose one of: {', '.join(RESPONSES)}.")


def _why(incident: Incident, why: str | None) -> str:
    return f"incident {incident.id[:8]}" + (f": {why}" if why else "")


def _describe(done: Any) -> str:
    if hasattr(done, "candidate"):
        return f"rollout of v{done.candidate} ended"
    return f"champion v{done.previous} -> v{done.version}"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
