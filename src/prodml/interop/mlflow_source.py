"""An MLflow tracking store opened for reading through MLflow's own client.

A store is named as MLflow names it: ``sqlite:///path/mlflow.db`` (or another database
URL), a file store (``file:///path/mlruns`` or a folder), or a tracking server
(``http(s)://host:port``). Nothing here writes to it: a store that does not exist is
refused rather than created, as MLflow's client would create it.

Metric histories are read a batch of runs at a time from MLflow's own ``metrics`` table
when the store is a database (one query per 500 runs, on an engine of the import's own).
From a server, through the public REST call ``metrics/get-history`` (the client's
``get_metric_history``, which pages through histories of any length), one run and key
per request, several requests at a time. MLflow's batch calls do not fit an import:
``get-history-bulk-interval`` samples a history down to at most 2,500 points per run,
and ``get-history-bulk`` is the web UI's (``ajax-api``), stops at 25,000 points with no
next page, and reads run by run on the server all the same. From a file store, one run
and key at a time."""

from __future__ import annotations

import contextlib
import os
import urllib.parse
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from prodml.errors import InvalidInputError, StoreError

INSTALL = "pip install 'prodml[mlflow]'"
DATABASES = ("sqlite", "postgresql", "mysql", "mssql")
PAGE = 1000  # runs per page of search_runs
REQUESTS = 8  # metric histories asked of a tracking server at a time
SERVERS = ("http", "https", "databricks")
Point = tuple[str, str, int, float, float]  # run id, key, step, value, at (seconds)
# the engine on a database store's own tables, by the client opened on it
_ENGINES: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def mlflow_version() -> str:
    """The installed MLflow's version; its absence is refused naming the extra to install."""
    try:
        import mlflow
    except ImportError:
        raise InvalidInputError(
            f"Importing from MLflow needs MLflow installed: {INSTALL}"
        ) from None
    return str(mlflow.__version__)


def describe(uri: str) -> str:
    """The URI without a password, as it is recorded and printed."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return uri


def _scheme(uri: str) -> str:
    return urllib.parse.urlsplit(uri).scheme.split("+")[0].lower()


def _file_store(uri: str) -> Path | None:
    scheme = _scheme(uri)
    if scheme == "file":
        return Path(urllib.parse.unquote(urllib.parse.urlsplit(uri).path))
    return Path(uri) if scheme == "" else None


def check_uri(uri: str) -> None:
    """Refuse, before MLflow would create an empty store there, a URI naming no store."""
    scheme = _scheme(uri)
    folder = _file_store(uri)
    if folder is not None:
        if not folder.is_dir() or not any(folder.glob("*/meta.yaml")):
            raise InvalidInputError(
                f"No MLflow file store at {folder} (no experiment folders with meta.yaml). "
                "Give the mlruns folder, a sqlite:///PATH.db file or a tracking server URL."
            )
    elif scheme == "sqlite":
        path = Path(urllib.parse.urlsplit(uri).path.removeprefix("/"))
        if not path.is_file():
            raise InvalidInputError(
                f"No MLflow database at {path}. Give the path of an existing mlflow.db as "
                "sqlite:////absolute/path/mlflow.db (four slashes) or sqlite:///relative.db."
            )
        _check_database(uri)
    elif scheme in ("http", "https"):
        _probe(uri)
    elif scheme in DATABASES:
        _check_database(uri)
    elif scheme not in DATABASES and scheme != "databricks":
        raise InvalidInputError(
            f"{describe(uri)!r} is not an MLflow tracking URI. Give a sqlite:///PATH.db file, "
            "a database URL, an mlruns folder or a tracking server's http(s):// URL."
        )


def _check_database(uri: str) -> None:
    """A database holds MLflow's tables (MLflow's client would create them in any other)."""
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(uri)
    except ImportError as error:
        raise InvalidInputError(
            f"No driver for {describe(uri)}: {error}. Install it (for PostgreSQL, "
            "psycopg2-binary, or write postgresql+psycopg://)."
        ) from None
    try:
        with engine.connect() as connection:
            found = sa.inspect(connection).has_table("experiments")
    except sa.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise StoreError(
            f"Cannot read the MLflow database {describe(uri)}: {reason}. Check the URL and "
            "that the database is reachable."
        ) from None
    finally:
        engine.dispose()
    if not found:
        raise InvalidInputError(
            f"No MLflow tables in {describe(uri)}. Give the database MLflow's tracking "
            "server uses (its --backend-store-uri)."
        )


def _probe(uri: str) -> None:
    """One quick request through MLflow's own client (so with the credentials and TLS
    settings it would send: MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_USERNAME/PASSWORD,
    its credentials file, an auth plugin), with no retry: an unreachable server fails
    now and not after MLflow's retries (minutes)."""
    mlflow_version()
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    quick = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
    try:
        with _environment(quick):
            MlflowClient(tracking_uri=uri, registry_uri=uri).search_experiments(max_results=1)
    except MlflowException as error:
        raise _refusal(uri, error) from None


def _refusal(uri: str, error: Any) -> StoreError:
    """The probe's failure (an MlflowException) as one line naming the next step."""
    import requests

    cause = error.__cause__ or error.__context__
    if isinstance(cause, requests.exceptions.RequestException):
        return StoreError(
            f"Cannot reach the MLflow tracking server at {describe(uri)}: {_reason(cause)}. "
            "Check the URL and that `mlflow server` is running there."
        )
    status = error.get_http_status_code()
    if status in (401, 403):
        return StoreError(
            f"The MLflow server at {describe(uri)} refused access ({status}). Set "
            "MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD "
            "as for MLflow's own client, and retry."
        )
    first = str(error.message).strip().splitlines()[0] if str(error.message).strip() else ""
    return StoreError(
        f"{describe(uri)} did not answer MLflow's experiments API ({first[:300]}). Check "
        "that the URL is the tracking server's root, as given to set_tracking_uri."
    )


def _reason(error: BaseException) -> str:
    """The innermost reason of a requests error: "[Errno 111] Connection refused", not
    the pool and URL around it."""
    reason = error
    while True:
        inner = getattr(reason, "reason", None)
        if not isinstance(inner, BaseException) and reason.args:
            inner = reason.args[0]
        if not isinstance(inner, BaseException) or inner is reason:
            break
        reason = inner
    text = str(reason)
    return text.split(">: ", 1)[-1] if text.startswith("<") else text


@contextlib.contextmanager
def opened(uri: str) -> Iterator[Any]:
    """An ``MlflowClient`` on ``uri`` (checked first). A file store is read even where
    MLflow refuses new ones (``MLFLOW_ALLOW_FILE_STORE`` set while the import runs), and
    MLflow draws no progress bar per download (where tqdm is installed) unless asked to."""
    check_uri(uri)
    mlflow_version()
    from mlflow.tracking import MlflowClient

    settings = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    if _file_store(uri) is not None:
        settings["MLFLOW_ALLOW_FILE_STORE"] = "true"
    engine = None
    with _environment(settings):
        try:
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            if _scheme(uri) in DATABASES:
                import sqlalchemy as sa

                engine = _ENGINES[client] = sa.create_engine(uri)
            yield client
        finally:
            if engine is not None:
                engine.dispose()


@contextlib.contextmanager
def _environment(settings: dict[str, str]) -> Iterator[None]:
    """``settings`` in the environment while the block runs, each one not set already."""
    added = [name for name in settings if name not in os.environ]
    os.environ.update({name: settings[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def experiments(client: Any) -> list[Any]:
    """Every active experiment."""
    found: list[Any] = []
    token = None
    while True:
        page = client.search_experiments(max_results=PAGE, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def run_pages(client: Any, experiment_ids: Sequence[str]) -> Iterator[list[Any]]:
    """Active runs of the experiments, a page at a time (params, tags, latest metrics)."""
    token = None
    while experiment_ids:
        page = client.search_runs(list(experiment_ids), max_results=PAGE, page_token=token)
        yield list(page)
        token = page.token
        if not token:
            return


def metric_points(client: Any, runs: Sequence[Any]) -> list[Point]:
    """Every logged point of every metric of ``runs``."""
    engine = _ENGINES.get(client)
    if engine is not None:
        return _points_from_table(engine, [run.info.run_id for run in runs])
    wanted = [(run.info.run_id, key) for run in runs for key in run.data.metrics]

    def history(pair: tuple[str, str]) -> list[Any]:
        return list(client.get_metric_history(*pair))

    if len(wanted) > 1 and _scheme(str(client.tracking_uri)) in SERVERS:
        with ThreadPoolExecutor(REQUESTS, thread_name_prefix="prodml-mlflow") as pool:
            histories = list(pool.map(history, wanted))
    else:
        histories = [history(pair) for pair in wanted]
    return [
        (mlflow_id, key, int(metric.step), float(metric.value), metric.timestamp / 1000)
        for (mlflow_id, key), points in zip(wanted, histories, strict=True)
        for metric in points
    ]


def _points_from_table(engine: Any, run_ids: list[str]) -> list[Point]:
    """One query per 500 runs on MLflow's own metrics table (its ORM's definition)."""
    import sqlalchemy as sa
    from mlflow.store.tracking.dbmodels.models import SqlMetric

    table = SqlMetric.__table__
    found: list[Point] = []
    with engine.connect() as connection:
        for start in range(0, len(run_ids), 500):
            columns = ("run_uuid", "key", "step", "value", "timestamp", "is_nan")
            query = sa.select(*(table.c[name] for name in columns)).where(
                table.c.run_uuid.in_(run_ids[start : start + 500])
            )
            found.extend(
                (run, key, int(step), float("nan") if is_nan else float(value), at / 1000)
                for run, key, step, value, at, is_nan in connection.execute(query)
            )
    return found
