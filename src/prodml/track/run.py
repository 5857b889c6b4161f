"""An active run: the object ``prodml.start_run`` returns.

``log_metric`` is the hot path: it checks the value and appends a tuple to the
client's in-memory queue; a background thread writes batches.

Durability points: the run is in the store (running, with its hypothesis, config,
inputs and code state) when ``start_run`` returns; everything logged before
``flush()`` is stored when it returns; the end of the ``with`` block (normal or by
exception) or ``end()`` stores what is queued and the run's end in one transaction
before it returns; at interpreter exit open runs are ended the same way. Between
these points at most one flush interval (``PRODML_FLUSH_INTERVAL``) of params and
metrics is held in memory.

A process owns the runs it started. A forked child inherits the objects but not
the runs: logging to an inherited run is refused. A run is handed to a worker
(forked, spawned, on another host) explicitly: ``run.handle()`` is a small
picklable value and ``prodml.attach_run(handle)`` in the worker gives a run object
that logs through the worker's own connections and writer
(:mod:`prodml.track.handoff`); leaving it stores what the worker logged and never
ends the run, which stays its owner's to end.
"""

from __future__ import annotations

import atexit
import mimetypes
import os
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from prodml.client import Client
from prodml.domain.artifact import Artifact, ModelVersion
from prodml.domain.ids import new_id, utcnow
from prodml.domain.run import RunStatus, param_text
from prodml.errors import (
    DataReadError,
    InvalidInputError,
    ParamConflictError,
    RunStateError,
)
from prodml.names import check_artifact_name, check_name, storable_text
from prodml.track import model as models
from prodml.track.metrics import as_metric, check_key

if TYPE_CHECKING:
    from prodml.track.formats.native import Saved

_open_runs: set[ActiveRun] = set()  # ended at exit if their owner never ends them
CUT_SHORT = "The process exited while the run's with block was still running (stopped or killed)."
MAX_STEP = 2**63 - 1


@dataclass(frozen=True)
class RunHandle:
    """A run and the store it lives in, as ``run.handle()`` gives it to a worker. The
    store URL may carry a database password, so the handle shows its run id only."""

    run_id: str
    experiment: str
    metadata_url: str = field(repr=False)
    artifact_url: str = field(repr=False)


class ActiveRun:
    def __init__(self, client: Client, run_id: str, experiment: str, owned: bool = True) -> None:
        self.client = client
        self.id = run_id
        self.experiment = experiment
        self.owned = owned  # started here: leaving it ends the run; else it was handed here
        self._writer = client.writer
        self._params: dict[str, str] = {}
        self._next_step: dict[str, int] = {}
        self._open = True
        self._ended = False
        self._forked = False
        self._inside = False  # in its ``with`` block, which has not exited yet
        self._lock = threading.Lock()
        _open_runs.add(self)

    def __repr__(self) -> str:
        handed = "" if self.owned else ", handed to this process"
        return f"<ActiveRun {self.id[:12]} of {self.experiment!r}{handed}>"

    def __reduce__(self) -> Any:
        raise RunStateError(
            f"Run {self.id[:12]} cannot be pickled: it writes through this process's "
            "connections. Pass run.handle() to the worker and log there through "
            "prodml.attach_run(handle)."
        )

    def handle(self) -> RunHandle:
        """A small picklable value naming this run and its store, for a worker
        (a forked or spawned process, a Ray task) to log into it through
        ``prodml.attach_run(handle)``."""
        settings = self.client.settings
        return RunHandle(self.id, self.experiment, settings.metadata_url, settings.artifact_url)

    @property
    def is_open(self) -> bool:
        """Whether it still takes params, metrics and models (not ended yet)."""
        return self._open

    def __enter__(self) -> ActiveRun:
        self._inside = True
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inside = False
        if error is None:
            self.end()
        elif not self.owned:
            self._leave_quietly()
        else:
            text = "".join(traceback.format_exception_only(error)).strip()
            self.end(RunStatus.FAILED, text)

    def _check_open(self) -> None:
        if self._forked:
            raise RunStateError(
                f"Run {self.id[:12]} belongs to the process that started it; a forked "
                "worker that merely inherited it cannot log to it. Hand it over: pass "
                "run.handle() to the worker and log there through prodml.attach_run(handle), "
                "or start a run in the worker with prodml.start_run(..., parent=run)."
            )
        if not self._open:
            what = "has ended" if self.owned else "was left by this process"
            raise RunStateError(
                f"Run {self.id[:12]} {what}; nothing more can be logged to it here. "
                "Start a new run with prodml.start_run(...)."
            )

    def log_metric(self, key: str, value: Any, step: int | None = None) -> None:
        if not self._open:
            self._check_open()
        if value.__class__ is not float or key.__class__ is not str or key not in self._next_step:
            value = as_metric(key, value, self.id)
        if step is None:
            step = self._next_step.get(key, 0)
        elif step.__class__ is not int or not -MAX_STEP <= step <= MAX_STEP:
            step = _as_step(key, step)
        self._next_step[key] = step + 1
        self._writer.add_point((self.id, key, step, value, time.time()))

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log several metrics at one step (each its own next step when None); all are
        checked before any is logged."""
        checked = [(key, as_metric(key, value, self.id)) for key, value in metrics.items()]
        if not self._open:
            self._check_open()
        if step is not None and (step.__class__ is not int or not -MAX_STEP <= step <= MAX_STEP):
            step = _as_step(checked[0][0] if checked else "", step)
        now, steps, add = time.time(), self._next_step, self._writer.add_point
        for key, value in checked:
            at = steps.get(key, 0) if step is None else step
            steps[key] = at + 1
            add((self.id, key, at, value, now))

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Params are write-once: the same value again is fine, a different one is refused."""
        self._check_open()
        fresh: dict[str, str] = {}
        for key, value in params.items():
            check_key(key, "param", self.id)
            text = param_text(value)
            if not storable_text(text):
                raise InvalidInputError(
                    f"Param {key!r} of run {self.id[:12]} has a value with NUL or invalid "
                    "UTF-8; store such data as an artifact."
                )
            previous = self._params.get(key, fresh.get(key))
            if previous is not None and previous != text:
                raise ParamConflictError(
                    f"Param {key!r} of run {self.id[:12]} is already {previous!r}; it cannot "
                    f"become {text!r}. Log the new value under another name or start a new run."
                )
            fresh[key] = text
        new = {key: text for key, text in fresh.items() if key not in self._params}
        self._params.update(new)
        self._writer.add_params([(self.id, key, text) for key, text in new.items()])

    def log_artifact(self, data: bytes | str | Path, name: str | None = None) -> Artifact:
        """Store a file, or bytes under ``name``, as an artifact of this run."""
        self._check_open()
        if isinstance(data, bytes | bytearray):
            if not name:
                raise InvalidInputError("log_artifact(bytes) needs a name=, e.g. 'report.html'.")
            check_artifact_name(name)
            digest, size = self.client.artifacts.put_bytes(bytes(data))
        else:
            path = Path(data)
            if path.is_dir():
                raise InvalidInputError(
                    f"{path} is a folder; log its files one by one, or version it as a "
                    "dataset with prodml.log_dataset(name, path) and pass it as an input."
                )
            if not path.is_file():
                raise DataReadError(f"No file at {path} to log as an artifact. Check the path.")
            name = check_artifact_name(name or path.name)
            digest, size = self.client.artifacts.put_file(path)
        artifact = Artifact(
            id=new_id(),
            owner_kind="run",
            owner_id=self.id,
            name=name,
            digest=digest,
            size=size,
            media_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
            created_at=utcnow(),
        )
        self.client.metadata.add_artifact(artifact)
        return artifact

    def log_model(
        self, model: Any, name: str, example: Any = None, format: str | None = None
    ) -> ModelVersion:
        """Store a model as the next version of ``name``, in its library's own format
        where it has one (``format`` chooses another: see ``prodml.track.formats``):
        XGBoost, LightGBM and CatBoost boosters, ONNX models, PyTorch modules (with an
        ``example`` batch), scikit-learn estimators, or anything with ``predict``."""
        self._check_open()
        check_name(name, "model")
        saved = models.save(model, name, example, format, self.client.settings.allow_pickle)
        return self.store_saved_model(model, name, example, saved)

    def store_saved_model(self, model: Any, name: str, example: Any, saved: Saved) -> ModelVersion:
        """Store a model already saved (``prodml.track.model.save``) as the next
        version of ``name``: a step with several models saves them all before storing
        one, so that one that cannot be saved leaves none stored."""
        self._check_open()
        check_name(name, "model")
        digest, _ = self.client.artifacts.put_bytes(saved.payload)
        return self.client.metadata.add_model_version(
            ModelVersion(
                id="",
                name=name,
                version=0,
                run_id=self.id,
                digest=digest,
                flavor=models.flavor(model, saved),
                author=self.client.settings.user,
                created_at=utcnow(),
                signature=models.signature(example),
                environment=models.model_environment(model, saved),
            )
        )

    def flush(self) -> None:
        """Block until every param and metric logged so far is stored."""
        self._writer.flush()

    def end(self, status: RunStatus = RunStatus.FINISHED, error: str | None = None) -> None:
        """End the run: what is queued and its end are stored before this returns. A run
        handed to this process is only left: what it logged here is stored, and the run
        goes on until its owner ends it."""
        with self._lock:
            if self._ended or self._forked:
                return
            self._open = False  # nothing more is logged, even if the write below fails
            if self.owned:
                self._writer.finish((self.id, status, time.time(), error))
            else:
                self._writer.flush()
            self._ended = True  # only now: a failed end can be retried
            _open_runs.discard(self)

    def _leave_quietly(self) -> None:
        """Leave a handed run on the way out of an exception, which is what the worker
        sees; a failure to store its last rows must not hide it."""
        try:
            self.end()
        except Exception as error:
            print(
                f"prodml: run {self.id[:12]}: what this process logged last was not stored: "
                f"{error}",
                file=sys.stderr,
            )


def _as_step(key: str, step: Any) -> int:
    if isinstance(step, bool) or not hasattr(step, "__index__"):
        raise InvalidInputError(f"Step {step!r} of metric {key!r} must be an integer.")
    value = int(step.__index__())
    if not -MAX_STEP <= value <= MAX_STEP:
        raise InvalidInputError(
            f"Step {step!r} of metric {key!r} is out of range (|step| < 2**63)."
        )
    return value


def end_open_runs(
    runs: Iterable[ActiveRun] | None = None, error: BaseException | None = None
) -> None:
    """End open runs: finished, or failed with the text of ``error``."""
    text = "".join(traceback.format_exception_only(error)).strip() if error else None
    for run in list(runs if runs is not None else _open_runs):
        if text is None:
            run.end()
        else:
            run.end(RunStatus.FAILED, text)


def _after_fork_in_child() -> None:
    for run in _open_runs:
        run._forked, run._open = True, False
    _open_runs.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


@atexit.register
def _end_at_exit() -> None:
    # A program that died of an uncaught exception leaves it in sys.last_value
    # (an interactive session keeps its last error there too, so it is not a crash).
    crash = None if hasattr(sys, "ps1") else getattr(sys, "last_value", None)
    try:
        # A run whose with block is still running (in a thread the exit cut off, as when
        # a stopped worker's main thread leaves) did not finish: it was cut short.
        for run in [r for r in _open_runs if r._inside and crash is None]:
            run.end(RunStatus.FAILED, CUT_SHORT)
        end_open_runs(error=crash)
    except Exception as error:  # exit must go on; say what was lost
        print(f"prodml: could not end open runs at exit: {error}")
