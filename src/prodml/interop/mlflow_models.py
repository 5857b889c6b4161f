"""MLflow's registry as prodml's: each registered model version becomes the prodml model
version of the same name and number, linked to the run that logged it, its MLflow
folder served through its flavor (:mod:`prodml.interop.mlflow_model`); its stage,
description and tags become model tags, and the registered model's aliases prodml
aliases. A version already imported keeps its id (derived from the MLflow version), so
a second import only updates its stage and tags and moves aliases that moved."""

from __future__ import annotations

import json
import pickle
import platform
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodml import yaml_text
from prodml.client import Client
from prodml.domain.artifact import ModelVersion
from prodml.domain.ids import from_epoch, utcnow
from prodml.domain.run import Run, RunStatus
from prodml.errors import InvalidInputError, NotFoundError
from prodml.interop import mlflow_runs
from prodml.interop.mlflow_model import MlflowModel, pack
from prodml.names import check_name

PAGE = 200
TRUST = "loads through mlflow.pyfunc, which runs the model's own code: trust it as a pickle"
# MLflow's column types as the Arrow type names of prodml signatures
TYPES = {
    "double": "double", "float": "float", "long": "int64", "integer": "int32",
    "boolean": "bool", "string": "string", "binary": "binary", "datetime": "timestamp[ns]",
}  # fmt: skip


@dataclass
class ModelCounts:
    imported: int = 0
    skipped: int = 0
    aliases: int = 0
    refused: tuple[str, ...] = ()  # MLflow models whose names prodml does not accept


def version_id(name: str, version: Any, created: Any) -> str:
    """The prodml id of an MLflow model version: the same on every import."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"mlflow-model-version:{name}/{version}/{created}").hex


def registered_models(mlflow: Any) -> Iterator[Any]:
    token = None
    while True:
        page = mlflow.search_registered_models(max_results=PAGE, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def versions_of(mlflow: Any, name: str) -> list[Any]:
    quoted = name.replace("'", "\\'")
    found: list[Any] = []
    token = None
    while True:
        page = mlflow.search_model_versions(
            f"name = '{quoted}'", max_results=PAGE, page_token=token
        )
        found.extend(page)
        token = page.token
        if not token:
            return sorted(found, key=lambda version: int(version.version))


def import_registry(mlflow: Any, client: Client, source: str, prefix: str = "") -> ModelCounts:
    counts = ModelCounts()
    refused = []
    for registered in registered_models(mlflow):
        name = prefix + registered.name
        try:
            check_name(name, "model")
        except InvalidInputError:
            refused.append(registered.name)
            continue
        ids = _import_versions(mlflow, client, registered, name, source, counts)
        counts.aliases += _move_aliases(client, registered, name, ids, source)
    counts.refused = tuple(refused)
    return counts


def _import_versions(
    mlflow: Any, client: Client, registered: Any, name: str, source: str, counts: ModelCounts
) -> dict[int, str]:
    """Store the versions not imported yet and set every version's tags; the prodml id of
    each version by number."""
    store = client.metadata
    models: list[ModelVersion] = []
    tags: dict[str, dict[str, str]] = {}
    ids: dict[int, str] = {}
    for found in versions_of(mlflow, registered.name):
        if str(found.status or "READY") != "READY":
            continue  # still registering (or failed to): a later import takes it when ready
        model_id = version_id(registered.name, found.version, found.creation_timestamp)
        ids[int(found.version)] = model_id
        tags[model_id] = _tags(found, registered, source)
        try:
            store.get_model_by_id(model_id)
            counts.skipped += 1
        except NotFoundError:
            models.append(_version(mlflow, client, found, name, model_id, source))
    store.import_model_versions(models, tags, source)
    counts.imported += len(models)
    return ids


def _tags(found: Any, registered: Any, source: str) -> dict[str, str]:
    tags = {str(key): str(value) for key, value in (found.tags or {}).items()}
    tags["mlflow.version"] = f"{registered.name}/{found.version}"
    tags["import.source"] = "mlflow"
    tags["import.uri"] = source
    if found.current_stage and found.current_stage != "None":
        tags["mlflow.stage"] = str(found.current_stage)
    if found.description:
        tags["mlflow.description"] = str(found.description)
    return tags


def _version(
    mlflow: Any, client: Client, found: Any, name: str, model_id: str, source: str
) -> ModelVersion:
    """The version's folder downloaded, packed and stored; its run imported if it was not."""
    from mlflow.artifacts import download_artifacts

    location = mlflow.get_model_version_download_uri(found.name, found.version)
    with tempfile.TemporaryDirectory(prefix="prodml-mlflow-") as folder:
        # the client's server, not the process's tracking URI: a server that serves its
        # artifacts answers mlflow-artifacts:/ locations, read through its own URL
        local = Path(
            download_artifacts(
                artifact_uri=location, dst_path=folder, tracking_uri=str(mlflow.tracking_uri)
            )
        )
        described = _described(local)
        flavors = [key for key in described.get("flavors", {}) if key != "python_function"]
        flavor = flavors[0] if flavors else "python_function"
        ref = f"{found.name}/{found.version}"
        payload = pickle.dumps(MlflowModel(pack(local), flavor, ref), pickle.HIGHEST_PROTOCOL)
        requirements = _requirements(local / "requirements.txt")
    digest, _ = client.artifacts.put_bytes(payload)
    created = from_epoch(found.creation_timestamp / 1000) if found.creation_timestamp else utcnow()
    return ModelVersion(
        id=model_id,
        name=name,
        version=int(found.version),
        run_id=_run_of(mlflow, client, found, created, source),
        digest=digest,
        flavor=f"mlflow.{flavor}",
        author=found.user_id or "mlflow",
        created_at=created,
        signature=signature(described.get("signature") or {}),
        environment={
            "python": _python(described) or platform.python_version(),
            "packages": requirements,
            "format": "pickle",  # the blob: this folder in a pickled MlflowModel
            "loader": "mlflow.pyfunc",
            "needs": ["mlflow"],
            "trust": TRUST,
            "mlflow": {"model": ref, "source": str(found.source), "run_id": found.run_id},
        },
    )


def _described(folder: Path) -> dict[str, Any]:
    path = folder / "MLmodel"
    if not path.is_file():
        return {}
    parsed = yaml_text.parse(path.read_text(), f"MLmodel of {folder.name}", "is")
    return parsed if isinstance(parsed, dict) else {}


def _python(described: dict[str, Any]) -> str | None:
    version = described.get("flavors", {}).get("python_function", {}).get("python_version")
    return str(version) if version else None


def _requirements(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    pinned = (line.split("==", 1) for line in path.read_text().splitlines() if "==" in line)
    return {name.strip(): version.strip() for name, version in pinned}


def signature(described: dict[str, Any]) -> dict[str, Any]:
    """MLflow's input signature as prodml's: columns with Arrow types, or a tensor."""
    inputs = json.loads(described["inputs"]) if described.get("inputs") else []
    if inputs and all(spec.get("type") == "tensor" for spec in inputs):
        tensor = inputs[0].get("tensor-spec", {})
        return {"kind": "tensor", "dtype": tensor.get("dtype"), "shape": tensor.get("shape")}
    named = [spec for spec in inputs if spec.get("name") and spec.get("type") in TYPES]
    if not inputs or len(named) != len(inputs):
        return {}
    return {
        "kind": "columns",
        "columns": [
            {"name": s["name"], "type": TYPES[s["type"]], "nullable": not s.get("required", True)}
            for s in named
        ],
    }


def _run_of(mlflow: Any, client: Client, found: Any, created: Any, source: str) -> str:
    """The prodml id of the run that logged the version: imported now if it was not (a
    deleted run too); a version registered from no run gets a stand-in run."""
    if found.run_id:
        prodml_id = mlflow_runs.run_id(found.run_id)
        if not client.metadata.list_runs(ids=[prodml_id]):
            run = mlflow.get_run(found.run_id)
            experiment = mlflow.get_experiment(run.info.experiment_id)
            names = {experiment.experiment_id: experiment.name}
            mlflow_runs.import_page(mlflow, client, [run], names, source)
        return prodml_id
    stand_in = Run(
        id=version_id(found.name, found.version, "run"),
        experiment="mlflow-registry",
        status=RunStatus.FINISHED,
        author=found.user_id or "mlflow",
        started_at=created,
        ended_at=created,
        hypothesis=f"Stands in for the run of MLflow model {found.name}/{found.version}, "
        "registered from no run.",
        tags={"import.source": "mlflow", "import.uri": source},
    )
    if not client.metadata.list_runs(ids=[stand_in.id]):
        client.metadata.import_runs([stand_in], [], [], source)
    return stand_in.id


def _move_aliases(
    client: Client, registered: Any, name: str, ids: dict[int, str], source: str
) -> int:
    """Point each alias as MLflow does; an alias already there is not moved again."""
    store = client.metadata
    current = store.aliases(name)
    moved = 0
    for alias, number in sorted(dict(registered.aliases or {}).items()):
        version = int(number)
        if current.get(alias) == version or version not in ids:
            continue
        store.move_alias(name, alias, version, ids[version], f"alias in MLflow at {source}")
        moved += 1
    return moved
