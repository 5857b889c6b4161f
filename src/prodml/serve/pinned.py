"""A request that names the version to answer it (``/v2/models/{name}/versions/{v}``):
only a version the gateway serves now (the champion, a rollout's candidate, or the
previous champion kept as a fallback) may be named, and it alone answers. Its rows
are logged with the variant ``pinned`` and no rollout, so they never count toward a
rollout's comparison; when it fails, no fallback answers in its place, since the
client asked for that version's answer."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from prodml.errors import NotFoundError
from prodml.serve import values
from prodml.serve.gateway import Answer, Gateway, UnansweredError
from prodml.serve.inputs import rows_of
from prodml.serve.recorder import Entry
from prodml.serve.routing import Route
from prodml.serve.served import Outcome, Served

VARIANT = "pinned"


def versions(route: Route) -> list[Served]:
    """The versions served under a name: the champion first."""
    return [s for s in (route.champion, route.candidate, route.previous) if s is not None]


def version(route: Route, number: str) -> Served:
    """The served version ``number`` of a route (404 naming those served)."""
    for served in versions(route):
        if str(served.number) == number:
            return served
    shown = ", ".join(str(s.number) for s in versions(route))
    raise NotFoundError(
        f"This gateway does not serve version {number[:20]!r} of model {route.name!r}; "
        f"it serves version(s): {shown}."
    )


def by_number(route: Route, number: int | None) -> Served | None:
    """The served version that gave an answer (None: a rule or the default did)."""
    return next((s for s in versions(route) if s.number == number), None)


async def answer(
    gateway: Gateway, served: Served, body: Any, headers: Mapping[str, str], label: str
) -> Answer:
    name = served.version.name
    request_id = values.request_id(headers.get("x-request-id")) or values.new_request_id()
    rows = rows_of(body)
    served.spec.check(rows)
    started = time.perf_counter()
    try:
        outcome = await served.predict(rows)
    except TimeoutError:
        outcome = Outcome([], f"timed out after {served.timeout * 1000:.0f} ms")
    elapsed = time.perf_counter() - started
    error = outcome.error
    if error is not None:
        gateway.telemetry.errors.labels(name, str(served.number), label).inc()
    if gateway.recorder is not None:
        gateway.recorder.add(
            Entry(
                name, request_id, time.time(), rows, outcome.answers, served,
                None if error else served, None, VARIANT, None, None, None,
                elapsed * 1000.0, error, None,
            )
        )  # fmt: skip
    if error is not None:
        raise UnansweredError(
            f"Model {served.ref} failed ({error}); a request naming a version is answered by "
            f"that version alone and no fallback could answer. Send it to /v2/models/{name}/infer "
            "to have the fallback chain answer."
        )
    return Answer(request_id, name, served.number, VARIANT, outcome.answers, None, None)
