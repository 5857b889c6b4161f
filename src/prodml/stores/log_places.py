"""Where the prediction log lives, from its URL: a local folder (the embedded
default, or ``file://``) or any fsspec URL (``s3://bucket/prefix``)."""

from __future__ import annotations

from pathlib import Path

from prodml.stores.log_files import LocalLogFiles, LogFiles


def open_log_files(url: str | Path | LogFiles, cache: Path | None = None) -> LogFiles:
    """The log's files at ``url``: a folder (or ``file://``) or an fsspec URL, whose
    files are read through local copies in ``cache`` (default: a folder in the
    system's temporary folder)."""
    if isinstance(url, LogFiles):
        return url
    text = str(url)
    if "://" not in text:
        return LocalLogFiles(Path(text))
    if text.startswith("file://"):
        return LocalLogFiles(Path(text.removeprefix("file://")))
    from prodml.stores.remote_log_files import RemoteLogFiles

    return RemoteLogFiles(text, cache)
