"""The settings table: each setting is read from ``PRODML_<NAME>``, then
``prodml.toml`` (in the working directory, key ``[prodml] <name>``), then its default.

One more is the process's, not the store's: ``PRODML_HOST``, the name of the host a
gateway or worker runs on (:func:`host_name`), read from the environment only, as a
shared ``prodml.toml`` would give every host the same name."""

from __future__ import annotations

import getpass
import os
import socket
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodml.errors import InvalidInputError


def host_name() -> str:
    """This process's host: ``PRODML_HOST`` when set (a container's hostname is often a
    random id), else the machine's name; at most 200 characters."""
    return (os.environ.get("PRODML_HOST") or socket.gethostname())[:200]


@dataclass(frozen=True)
class Setting:
    name: str
    default: Callable[[dict[str, Any]], Any]
    parse: Callable[[str], Any]
    help: str

    @property
    def env(self) -> str:
        return f"PRODML_{self.name.upper()}"


def _os_user(_: dict[str, Any]) -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def positive(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise ValueError(text)
    return value


def boolean(text: str) -> bool:
    words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    if text.strip().lower() not in words:
        raise ValueError(text)
    return words[text.strip().lower()]


def auth_mode(text: str) -> str:
    if text not in ("off", "admin", "all"):
        raise ValueError(text)
    return text


def refuse_credentials(name: str, url: str) -> str:
    """``url`` unless it carries credentials (``s3://KEY:SECRET@bucket``), which would be
    shown wherever the URL is: they belong in the environment."""
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    if not rest or "@" not in host:
        return url
    shown = f"{scheme}://***@{host.rsplit('@', 1)[1]}/{path}"
    raise InvalidInputError(
        f"Setting {name!r} has credentials in its URL ({shown}). Remove them and give them "
        "through the environment instead: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
        f"AWS_PROFILE) for s3://. Fix PRODML_{name.upper()} or prodml.toml."
    )


def _default_log_url(values: Mapping[str, Any]) -> str:
    """The log beside the blobs on an object store, so that one URL places every file."""
    artifacts = str(values["artifact_url"])
    if "://" in artifacts and not artifacts.startswith("file://"):
        return f"{artifacts.rstrip('/')}/predictions"
    return str(Path(values["home"]).absolute() / "predictions")


TABLE: tuple[Setting, ...] = (
    Setting("home", lambda _: ".prodml", str, "folder of the embedded store"),
    Setting(
        "metadata_url",
        lambda s: f"sqlite:///{Path(s['home']).absolute() / 'prodml.db'}",
        str,
        "metadata store: sqlite:///PATH or postgresql://USER@HOST/DB",
    ),
    Setting(
        "artifact_url",
        lambda s: str(Path(s["home"]).absolute() / "blobs"),
        lambda text: refuse_credentials("artifact_url", text),
        "blob store: a folder, file://PATH or s3://BUCKET/PREFIX",
    ),
    Setting("user", _os_user, str, "author recorded on every object and event"),
    Setting("flush_interval", lambda _: 0.5, positive, "seconds between metric flushes (> 0)"),
    Setting("busy_timeout", lambda _: 60.0, positive, "seconds to wait for a locked store (> 0)"),
    Setting(
        "log_url",
        _default_log_url,
        lambda text: refuse_credentials("log_url", text),
        "prediction log: a folder or s3://BUCKET/PREFIX (default: predictions/ beside the "
        "blobs when artifact_url is an object store, else in home)",
    ),
    Setting(
        "log_flush_interval", lambda _: 1.0, positive, "seconds between prediction-log segments"
    ),
    Setting(
        "auth",
        lambda _: "off",
        auth_mode,
        "off, admin or all: raises (never lowers) the store's auth mode for this process",
    ),
    Setting("token", lambda _: "", str, "the access token this process presents"),
    Setting(
        "notify_webhook", lambda _: "", str, "URL that alerts are posted to (Slack-style JSON)"
    ),
    Setting(
        "notify_file",
        lambda _: "",
        str,
        "file that alerts are appended to as JSON lines; - is stdout",
    ),
    Setting("ui_url", lambda _: "", str, "URL of the dashboard (prodml ui) that links point to"),
    Setting(
        "alert_link",
        lambda s: f"{s['ui_url'].rstrip('/')}/alerts" if s["ui_url"] else "",
        str,
        "base URL of alert pages; default: the dashboard's /alerts when ui_url is set",
    ),
    Setting(
        "openlineage_url",
        lambda _: "",
        str,
        "OpenLineage endpoint that run, dataset and model events are sent to as they happen",
    ),
    Setting(
        "allow_pickle",
        lambda _: True,
        boolean,
        "true or false: load models stored as pickle or TorchScript, which run code when "
        "loaded (false refuses them at load, serve and evaluate time)",
    ),
)


@dataclass(frozen=True)
class Settings:
    home: str
    metadata_url: str
    artifact_url: str
    user: str
    flush_interval: float
    busy_timeout: float
    log_url: str
    log_flush_interval: float
    auth: str
    token: str
    notify_webhook: str
    notify_file: str
    ui_url: str
    alert_link: str
    openlineage_url: str
    allow_pickle: bool


def _toml_values(path: Path) -> Mapping[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise InvalidInputError(
            f"Cannot read settings file {path}: {error}. Fix or remove it."
        ) from None
    section = document.get("prodml", {})
    return section if isinstance(section, dict) else {}


def load(overrides: Mapping[str, Any] | None = None, toml: Path | None = None) -> Settings:
    """Resolve every setting: explicit overrides, environment, prodml.toml, default."""
    from_file = _toml_values(toml or Path("prodml.toml"))
    values: dict[str, Any] = {}
    for setting in TABLE:
        explicit = (overrides or {}).get(setting.name)
        raw = explicit if explicit is not None else os.environ.get(setting.env)
        if raw is None:
            raw = from_file.get(setting.name)
        try:
            values[setting.name] = (
                setting.default(values) if raw is None else setting.parse(str(raw))
            )
        except ValueError:
            raise InvalidInputError(
                f"Setting {setting.name!r} has the value {raw!r}, which is not valid: "
                f"{setting.help}. Fix {setting.env} or prodml.toml."
            ) from None
    return Settings(**values)
