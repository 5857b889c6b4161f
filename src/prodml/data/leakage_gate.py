"""The leakage check before a training step: inputs named as logged versions
(``"flights@3"``) are read from the store and the check is recorded as an event on each
(``dataset.leakage_checked``); hard findings refuse the step unless forced with a
reason, which the events carry (and ``run.leakage_forced`` on the run, when given)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from prodml.client import Client
from prodml.data import tables
from prodml.data.leakage import check_leakage
from prodml.data.refs import get_dataset
from prodml.data.stored_tables import load_table
from prodml.domain.dataset import DatasetVersion
from prodml.domain.leakage import LeakageDeclarations, LeakageResult
from prodml.domain.validation import FindingKind
from prodml.errors import InvalidInputError

Input = tuple[pa.Table, str, DatasetVersion | None]  # the table, its name, its version


def guard(
    client: Client | None,
    train: Any,
    valid: Any,
    declared: LeakageDeclarations,
    *,
    force: str | None = None,
    block: bool = True,
    run_id: str | None = None,
) -> LeakageResult:
    """Check ``train`` against ``valid`` (each a DatasetVersion, ``NAME@V``, a table
    file, or a table: Arrow, pandas, polars) and record the check on each logged version.

    With ``block``, hard findings raise :class:`InvalidInputError` unless ``force`` gives
    a reason; forced, the result carries the reason and the events record it."""
    _check_reason(force)
    training = read_input(client, train, "the training set")
    validation = read_input(client, valid, "the validation set")
    result = check_leakage(training[0], validation[0], declared, training[1], validation[1])
    if result.blocked and force is not None:
        result = replace(result, forced=force)
    if client is not None:
        _record(client, result, training[2], validation[2], run_id)
    if block and result.refused:
        raise InvalidInputError(refusal(result))
    return result


def read_input(client: Client | None, data: Any, what: str) -> Input:
    """The table of one input, the name messages use for it, and its version if logged."""
    if isinstance(data, DatasetVersion | str) and not _is_file(data):
        if client is None:
            raise InvalidInputError(
                f"{what.capitalize()} is given as {_ref(data)!r}, a dataset version, but no "
                "store is open. Pass a client, or pass the table itself."
            )
        version = data if isinstance(data, DatasetVersion) else get_dataset(client, data)
        return load_table(client, version), version.ref, version
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        return tables.read_table(path), path.name, None
    return tables.to_arrow(data, what), what, None


def hard_findings(result: LeakageResult) -> str:
    """The hard findings, named: "key_overlap of x; time_order of when"."""
    return "; ".join(f"{f.statistic} of {f.column}" for f in result.of_kind(FindingKind.HARD))


def refusal(result: LeakageResult) -> str:
    """Why a training step was refused, and how to go on."""
    return (
        f"Leakage between {result.train} and {result.valid}: {hard_findings(result)}. "
        "Fix the split and check again, or train anyway with force='why' (prodml datasets "
        "leakage ... --force 'why'), which is recorded."
    )


def _record(
    client: Client,
    result: LeakageResult,
    train: DatasetVersion | None,
    valid: DatasetVersion | None,
    run_id: str | None,
) -> None:
    details = {
        "train": result.train,
        "valid": result.valid,
        "train_id": train.id if train else None,
        "valid_id": valid.id if valid else None,
        "checks": list(result.checks),
        "blocked": result.blocked,
        "forced": result.forced is not None,
        "findings": [
            {"kind": f.kind.value, "column": f.column, "statistic": f.statistic}
            for f in result.findings
        ],
    }
    for role, version in (("train", train), ("valid", valid)):
        if version is not None:
            client.metadata.record_event(
                "dataset.leakage_checked",
                ("dataset", version.id),
                result.forced,
                {**details, "role": role},
            )
    if run_id is not None and result.forced is not None:
        client.metadata.record_event("run.leakage_forced", ("run", run_id), result.forced, details)


def _check_reason(force: str | None) -> None:
    if force is not None and (not isinstance(force, str) or not force.strip()):
        raise InvalidInputError("force needs a reason: say why training may use these sets.")


def _is_file(data: DatasetVersion | str) -> bool:
    return isinstance(data, str) and Path(data).suffix.lower() in tables.TABLE_SUFFIXES


def _ref(data: DatasetVersion | str) -> str:
    return data.ref if isinstance(data, DatasetVersion) else data
