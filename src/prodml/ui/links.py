"""The page of each kind of object, by what people type for it: one place that knows
the dashboard's URLs for runs, dataset and model versions, rollouts, alerts and
incidents (alerts, webhooks, reports and the CLI link to these)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from prodml.domain.ids import split_ref


def _part(text: object) -> str:
    return quote(str(text), safe="")


def page_of(kind: str, ref: str) -> str | None:
    """The page of a ``run`` (its id), a ``dataset`` or ``model`` (``NAME@VERSION``, or
    a bare name for all its versions), a ``rollout``, ``alert`` or ``incident`` (its id);
    None for kinds that have no page."""
    if kind in ("dataset", "model"):
        name, version = split_ref(ref)
        base = f"/{kind}s/{_part(name)}"
        return f"{base}/{_part(version)}" if version else base
    if kind == "model_name":
        return f"/models/{_part(ref)}"
    if kind in ("run", "rollout", "alert", "incident"):
        return f"/{kind}s/{_part(ref)}"
    return None


def lineage_of(ref: str, as_of: str | None = None) -> str:
    """The lineage page of anything the resolver understands (``churn@champion``)."""
    query = {"ref": ref, **({"as_of": as_of} if as_of else {})}
    return f"/lineage?{urlencode(query)}"


def opened(kind: str, ident: str) -> str:
    """A link that finds an object's page from its kind and id when the page's address
    needs more than the id (a dataset or model version is shown by name and version)."""
    return f"/open/{_part(kind)}/{_part(ident)}"


def subject_page(kind: str, ident: str, details: Mapping[str, Any]) -> str | None:
    """The page of an event's subject; ``details`` often name the version already."""
    if kind in ("dataset", "model"):
        name, version = details.get("name"), details.get("version")
        if isinstance(name, str) and isinstance(version, int):
            return page_of(kind, f"{name}@{version}")
        return opened(kind, ident)
    return page_of(kind, ident)
