"""The dashboard's pages as the benchmark finds them: every GET route of the app,
its path parameters filled with real ids and names from the seeded store, each page
requested N times in process, its server time read from ``Server-Timing``."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from starlette.routing import Route

PARAMETER = re.compile(r"{([^}:]+)(?::[^}]+)?}")
TIMING = re.compile(r"app;dur=([0-9.]+)")

# The first literal segment of a path names what its parameters refer to.
SECTIONS = {
    "runs": "run",
    "experiments": "experiment",
    "datasets": "dataset",
    "models": "model",
    "registry": "model",
    "rollouts": "rollout",
    "monitors": "monitor",
    "monitoring": "monitor",
    "alerts": "alert",
    "incidents": "incident",
    "lineage": "lineage",
    "approvals": "model",
    "overview": "model",
}


@dataclass(frozen=True)
class Page:
    route: str  # the route's path as declared
    path: str  # what is requested
    missing: str | None = None  # why it cannot be requested (a parameter with no value)


@dataclass
class Timing:
    page: Page
    server_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # the process's, all threads
    statuses: set[int] = field(default_factory=set)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.server_ms)
        if not ordered:
            return float("nan")
        index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
        return ordered[index]

    @property
    def p50(self) -> float:
        return statistics.median(self.server_ms) if self.server_ms else float("nan")

    @property
    def cpu_p50(self) -> float:
        return statistics.median(self.cpu_ms) if self.cpu_ms else float("nan")

    @property
    def p95(self) -> float:
        return self.quantile(0.95)


def known_values(engine: sa.Engine) -> dict[str, str]:
    """Real names and ids from the store: the most versioned model, its latest version, a
    run that logged a model, a run with metric history, a dataset, an alert, ..."""
    queries = {
        "model": "SELECT name FROM model_versions GROUP BY name ORDER BY count(*) DESC, name"
        " LIMIT 1",
        "run": "SELECT max(run_id) FROM latest_metrics",
        "model_run": "SELECT run_id FROM model_versions ORDER BY created_at DESC LIMIT 1",
        "experiment": "SELECT experiment FROM runs ORDER BY started_at DESC LIMIT 1",
        "dataset": "SELECT name FROM dataset_versions GROUP BY name ORDER BY count(*) DESC,"
        " name LIMIT 1",
        "alert": "SELECT id FROM alerts ORDER BY state = 'open' DESC, created_at DESC LIMIT 1",
        "incident": "SELECT id FROM incidents ORDER BY state = 'open' DESC, opened_at DESC LIMIT 1",
        "rollout": "SELECT id FROM rollouts ORDER BY updated_at DESC LIMIT 1",
        "monitor": "SELECT model FROM monitors ORDER BY model LIMIT 1",
        "suite": "SELECT name FROM suites LIMIT 1",
        "token": "SELECT name FROM tokens LIMIT 1",
    }
    found: dict[str, str] = {}
    with engine.connect() as connection:
        for key, query in queries.items():
            value = connection.execute(sa.text(query)).scalar()
            if value is not None:
                found[key] = str(value)
        if "model" in found:
            row = connection.execute(
                sa.text("SELECT version, id FROM model_versions WHERE name = :n ORDER BY version"),
                {"n": found["model"]},
            ).all()
            found["model_version"], found["model_id"] = str(row[-1][0]), str(row[-1][1])
            found["model_previous"] = str(row[-2][0] if len(row) > 1 else row[-1][0])
        if "dataset" in found:
            row = connection.execute(
                sa.text(
                    "SELECT version, id FROM dataset_versions WHERE name = :n ORDER BY version"
                ),
                {"n": found["dataset"]},
            ).all()
            found["dataset_version"], found["dataset_id"] = str(row[-1][0]), str(row[-1][1])
            found["dataset_previous"] = str(row[0][0])
        runs = connection.execute(
            sa.text("SELECT id FROM runs ORDER BY started_at DESC LIMIT 2")
        ).all()
        if len(runs) == 2:
            found["run_other"] = str(runs[1][0])
    return found


def value_for(section: str, parameter: str, position: int, known: Mapping[str, str]) -> str | None:
    """The value for one path parameter, from its name and the page's section."""
    name = parameter.lower()
    by_name = {
        "run_id": "run", "alert_id": "alert", "incident_id": "incident",
        "rollout_id": "rollout", "rollout": "rollout", "experiment": "experiment", "suite": "suite",
        "dataset": "dataset", "monitor": "monitor", "token": "token",
        "left": "run", "right": "run_other", "other": "run_other",
    }  # fmt: skip
    if name in by_name:
        return known.get(by_name[name])
    if name in ("model", "model_name"):
        return known.get("monitor" if section == "monitor" else "model")
    if name in ("version", "number", "version_number"):
        if section == "dataset":
            return known.get("dataset_version")
        return known.get("model_version")
    if name in ("previous", "baseline", "against", "old"):
        return known.get("dataset_previous" if section == "dataset" else "model_previous")
    if name in ("candidate", "new"):
        return known.get("dataset_version" if section == "dataset" else "model_version")
    if name == "kind":
        return "model"
    if name == "ref":
        if section == "dataset":
            return f"{known.get('dataset')}@{known.get('dataset_version')}"
        return f"{known.get('model')}@{known.get('model_version')}"
    if name == "ident":
        return known.get("model_id")
    if name in ("name", "id", "key", "subject"):
        if section == "lineage":
            return f"{known.get('model')}@{known.get('model_version')}"
        if section == "model" and name == "id":
            return known.get("model_id")
        if section == "dataset" and name == "id":
            return known.get("dataset_id")
        return known.get(section)
    return None


# Pages that are asked with a query string too (or only: no "" among them): the
# searches and comparisons people run, filled from the store like path parameters.
QUERIES = {
    "/runs": ["", "filter=config.depth = 6 and metrics.auc > 0.8&order=metrics.auc&desc=1"],
    "/runs/compare": ["id={run}&id={run_other}"],
    "/lineage": ["", "ref={model}@{model_version}"],
}


def pages(routes: Sequence[Any], known: Mapping[str, str]) -> list[Page]:
    """Every GET page of the app (static files and login excluded), filled in."""
    found: list[Page] = []
    for route in routes:
        if not isinstance(route, Route) or "GET" not in (route.methods or ()):
            continue
        if route.path in ("/login",):
            continue
        literal = [part for part in route.path.split("/") if part and "{" not in part]
        section = SECTIONS.get(literal[0] if literal else "", literal[0] if literal else "")
        path, missing = route.path, None
        for position, match in enumerate(PARAMETER.finditer(route.path)):
            value = value_for(section, match.group(1), position, known)
            if value is None:
                missing = f"no value for {{{match.group(1)}}}"
                break
            path = path.replace(match.group(0), value, 1)
        for query in QUERIES.get(route.path, [""]):
            try:
                asked = query.format(**known)
            except KeyError as error:
                found.append(Page(route.path, path, f"no value for {error}"))
                continue
            target = f"{path}?{quote(asked, safe='=&@')}" if asked else path
            found.append(Page(route.path, target, missing))
    return found


def measure(http: Any, page: Page, requests: int) -> Timing:
    """One untimed request (templates compile, caches warm), then ``requests`` timed."""
    timing = Timing(page)
    if page.missing:
        return timing
    for attempt in range(requests + 1):
        cpu = time.process_time()
        response = http.get(page.path, follow_redirects=False)
        cpu = time.process_time() - cpu
        timing.statuses.add(response.status_code)
        found = TIMING.search(response.headers.get("server-timing", ""))
        if attempt and found:
            timing.server_ms.append(float(found.group(1)))
            timing.cpu_ms.append(cpu * 1000)
    return timing
