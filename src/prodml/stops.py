"""Why this process is stopping when a signal other than Ctrl-C asked it to.

``prodml`` turns SIGTERM into what Ctrl-C raises (KeyboardInterrupt, which every
library it runs on stops on: Ray's waits, Tune, a pool of workers), after saying here
that it was SIGTERM, so that what ends runs on the way out names the right cause and
the command exits with the right code."""

from __future__ import annotations

_REASON: list[str] = []


def stopping(reason: str) -> None:
    """Say why the process is stopping (before the KeyboardInterrupt it raises)."""
    _REASON[:] = [reason]


def stopped_by() -> str | None:
    """Why the process is stopping, when a signal other than Ctrl-C asked it to."""
    return _REASON[0] if _REASON else None
