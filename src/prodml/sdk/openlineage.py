"""OpenLineage: runs, dataset versions, validations and model versions as OpenLineage
events (``pip install prodml[openlineage]``), exported as NDJSON or sent as they
happen to the setting ``openlineage_url``. How prodml's records map onto jobs, runs
and datasets is described in :mod:`prodml.interop.openlineage`."""

from __future__ import annotations

import sys
import warnings
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from prodml import times
from prodml.client import Client, default_client
from prodml.errors import InvalidInputError

if TYPE_CHECKING:  # the client library loads on first use, not with the SDK
    from prodml.interop.openlineage import OpenLineageEvent
    from prodml.interop.openlineage_emitter import OpenLineageEmitter


def _require() -> None:
    try:
        import openlineage.client  # noqa: F401
    except ImportError:
        raise InvalidInputError(
            "OpenLineage events are built with the openlineage-python client, which is "
            "not installed: pip install 'prodml[openlineage]'."
        ) from None


def openlineage_events(
    since: datetime | str | None = None, client: Client | None = None
) -> list[OpenLineageEvent]:
    """The OpenLineage events of what the store recorded since ``since`` (a time, or what
    people type: ``1h``, ``7d``; everything without), oldest first, as the client
    library's ``RunEvent`` and ``DatasetEvent`` objects."""
    _require()
    from prodml.interop.openlineage_source import export

    return export(client or default_client(), times.moment(since, "--since"))


def export_openlineage(
    output: str | Path | TextIO | None = None,
    since: datetime | str | None = None,
    client: Client | None = None,
) -> dict[str, int]:
    """Write the events since ``since`` as NDJSON, one event a line, to the file
    ``output`` (or a stream; stdout when None). Returns how many of each kind were
    written: ``START``, ``RUNNING``, ``COMPLETE``, ``FAIL`` and ``DATASET``."""
    found = openlineage_events(since, client)
    from openlineage.client.serde import Serde

    from prodml.interop.openlineage import kind

    lines = "".join(Serde.to_json(event) + "\n" for event in found)
    if output is None or not isinstance(output, str | Path):
        (output or sys.stdout).write(lines)
    else:
        try:
            Path(output).write_text(lines)
        except OSError as error:
            raise InvalidInputError(
                f"Cannot write OpenLineage events to {output}: {error.strerror}. "
                "Give a file in a folder that exists and can be written."
            ) from None
    return dict(Counter(kind(event) for event in found))


def emit_openlineage(url: str | None = None, client: Client | None = None) -> OpenLineageEmitter:
    """Send this process's OpenLineage events to ``url`` (default: the setting
    ``openlineage_url``) from now on, as they happen, in the background: a run's start
    and end, each dataset version, validation and model version logged. A server that
    is down or slow never blocks or fails a run: what it does not take is counted
    (``.health()``). Calling it again gives the emitter already running."""
    _require()
    from prodml.interop import openlineage_emitter

    chosen = client or default_client()
    target = url or chosen.settings.openlineage_url
    if not target:
        raise InvalidInputError(
            "No OpenLineage URL: set openlineage_url (PRODML_OPENLINEAGE_URL or "
            "prodml.toml) or pass url=, e.g. http://localhost:5000."
        )
    return openlineage_emitter.attach(chosen, target)


def openlineage_health(client: Client | None = None) -> dict[str, Any] | None:
    """The running emitter's counts (sent, dropped, failures, last error, queued), or
    None when this client sends no OpenLineage events."""
    if "prodml.interop.openlineage_emitter" not in sys.modules:
        return None
    from prodml.interop import openlineage_emitter

    running = openlineage_emitter.attached(client or default_client())
    return None if running is None else running.health()


_WARNED: set[str] = set()  # settings already said to be unusable, once a process


def follow_settings(client: Client) -> None:
    """Start the emitter when the setting ``openlineage_url`` names a server (the first
    run or dataset version of a client does this; then it keeps running). Without the
    client library it says so once, and the run goes on."""
    url = client.settings.openlineage_url
    if not url:
        return
    if "prodml.interop.openlineage_emitter" in sys.modules:
        from prodml.interop import openlineage_emitter

        running = openlineage_emitter.attached(client)
        if running is not None and running.url == url:
            return
    try:
        emit_openlineage(url, client)
    except InvalidInputError as error:
        if url not in _WARNED:
            _WARNED.add(url)
            warnings.warn(f"openlineage_url is set, but no events are sent: {error}", stacklevel=3)
