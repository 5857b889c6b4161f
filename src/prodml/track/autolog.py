"""``prodml.autolog()``: scikit-learn, XGBoost and LightGBM fits recorded as they
happen, with no logging code in the training script.

Each fit is recorded in the active run (``with prodml.start_run(...)``), or, outside
any run, in a run of its own that it starts and ends (failed, with the error, when the
fit raises). What is recorded: the estimator's own parameters (``get_params``, or the
params given to ``xgboost.train``/``lightgbm.train``); the metrics on every evaluation
set the library kept, with one step per boosting round (XGBoost's ``evals_result``,
LightGBM's ``evals_result_`` or ``record_evaluation``) and, for scikit-learn, the
estimator's ``score`` on the training rows as ``training_score``; and the fitted model,
with a signature from the first rows it was fit on.

Only the outermost fit is recorded (a pipeline's steps and a search's candidates are
part of it). Recording never breaks a fit: a failure to record is a warning."""

from __future__ import annotations

import functools
import re
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from prodml.client import Client
from prodml.domain.run import RunStatus
from prodml.errors import ParamConflictError
from prodml.track import active
from prodml.track.run import ActiveRun

EXAMPLE_ROWS = 5  # rows kept as the model's example, for its signature
PARAM_TEXT = 500  # characters of one param's value
_INSIDE: ContextVar[bool] = ContextVar("prodml_autolog_inside_fit", default=False)


@dataclass
class _Settings:
    client: Client | None = None
    experiment: str = "autolog"
    log_models: bool = True


_SETTINGS = _Settings()
_ORIGINALS: dict[tuple[Any, str], Any] = {}  # (owner, attribute) -> what was there


def enable(client: Client, experiment: str, log_models: bool) -> list[str]:
    """Record fits from now on; the libraries found are returned (those not installed
    are left alone). Calling it again changes the settings, patches nothing twice."""
    _SETTINGS.client, _SETTINGS.experiment, _SETTINGS.log_models = client, experiment, log_models
    found = []
    for name, patch in (("scikit-learn", _sklearn), ("xgboost", _xgboost),
                        ("lightgbm", _lightgbm)):  # fmt: skip
        try:
            patch()
        except ImportError:
            continue
        found.append(name)
    return found


def disable() -> None:
    """Put every patched ``fit`` and ``train`` back."""
    for (owner, attribute), original in _ORIGINALS.items():
        setattr(owner, attribute, original)
    _ORIGINALS.clear()


# --- patching -------------------------------------------------------------------------------


def _sklearn() -> None:
    from sklearn.utils import all_estimators

    for _, estimator in all_estimators():
        _patch_fit(estimator, _sklearn_metrics)


def _xgboost() -> None:
    import xgboost
    import xgboost.sklearn

    for estimator in _family(xgboost.sklearn.XGBModel):
        _patch_fit(estimator, _evals_metrics)
    _patch_train(xgboost, "xgboost", _xgboost_train)


def _lightgbm() -> None:
    import lightgbm

    for estimator in _family(lightgbm.LGBMModel):
        _patch_fit(estimator, _evals_metrics)
    _patch_train(lightgbm, "lightgbm", _lightgbm_train)


def _family(base: type) -> Iterator[type]:
    yield base
    child: type
    for child in base.__subclasses__():
        yield from _family(child)


def _patch_fit(estimator: type, metrics: Callable[[Any, tuple[Any, ...]], dict[str, Any]]) -> None:
    owner = next((k for k in estimator.__mro__ if "fit" in k.__dict__), None)
    if owner is None or (owner, "fit") in _ORIGINALS:
        return
    original = owner.__dict__["fit"]

    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        def record(run: ActiveRun, _: Any) -> None:
            _record(run, self, _params(self), metrics(self, args), _first_rows(args, kwargs))

        return _recorded(lambda: original(self, *args, **kwargs), self, record)

    _ORIGINALS[(owner, "fit")] = original
    owner.fit = fit  # type: ignore[attr-defined]


def _patch_train(module: Any, library: str, train: Callable[..., Any]) -> None:
    if (module, "train") in _ORIGINALS:
        return
    original = module.train

    @functools.wraps(original)
    def patched(*args: Any, **kwargs: Any) -> Any:
        return train(original, library, *args, **kwargs)

    _ORIGINALS[(module, "train")] = original
    module.train = patched


def _xgboost_train(original: Any, library: str, params: Any, *args: Any, **kwargs: Any) -> Any:
    results: dict[str, Any] | None = kwargs.get("evals_result")
    if results is None and not _INSIDE.get():
        results = kwargs["evals_result"] = {}
    rounds = kwargs.get("num_boost_round", args[1] if len(args) > 1 else 10)

    def record(run: ActiveRun, booster: Any) -> None:
        given = {**dict(params or {}), "num_boost_round": rounds}
        _record(run, booster, given, _histories(results or {}), None, f"{library}-booster")

    return _recorded(lambda: original(params, *args, **kwargs), None, record)


def _lightgbm_train(original: Any, library: str, params: Any, *args: Any, **kwargs: Any) -> Any:
    import lightgbm

    results: dict[str, Any] = {}
    if not _INSIDE.get():
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []),
                               lightgbm.record_evaluation(results)]  # fmt: skip
    rounds = kwargs.get("num_boost_round", args[1] if len(args) > 1 else 100)

    def record(run: ActiveRun, booster: Any) -> None:
        given = {**dict(params or {}), "num_boost_round": rounds}
        _record(run, booster, given, _histories(results), None, f"{library}-booster")

    return _recorded(lambda: original(params, *args, **kwargs), None, record)


# --- one fit --------------------------------------------------------------------------------


def _recorded(
    fit: Callable[[], Any], estimator: Any, record: Callable[[ActiveRun, Any], None]
) -> Any:
    """Run ``fit``; record it when it is the outermost fit and autolog is on."""
    if _INSIDE.get() or _SETTINGS.client is None:
        return fit()
    token = _INSIDE.set(True)
    try:
        run, own = _run_for(estimator)
        try:
            result = fit()
        except BaseException as error:
            if own and run is not None:
                failed = _error_text(error)
                _quietly(lambda: run.end(RunStatus.FAILED, failed))
            raise
        if run is not None:
            _quietly(lambda: record(run, result))
            if own:
                _quietly(run.end)
        return result
    finally:
        _INSIDE.reset(token)


def _run_for(estimator: Any) -> tuple[ActiveRun | None, bool]:
    """The active run, or a new one of its own (``True``); None if none can start."""
    found = active.current()
    if found is not None:
        return found, False
    from prodml.track.start import start_run

    client = _SETTINGS.client
    assert client is not None
    try:
        return start_run(client, _SETTINGS.experiment, hypothesis=_hypothesis(estimator)), True
    except Exception as error:  # the store is down, or refuses: the fit still runs
        warnings.warn(f"prodml autolog: could not start a run ({error}); the fit goes on "
                      "unrecorded.", stacklevel=4)  # fmt: skip
        return None, False


def _hypothesis(estimator: Any) -> str | None:
    return None if estimator is None else f"autolog: {type(estimator).__name__}.fit"


def _record(
    run: ActiveRun, model: Any, params: Mapping[str, Any], metrics: Mapping[str, Any],
    example: Any, name: str | None = None,
) -> None:  # fmt: skip
    texts = {_key(k): _text(v) for k, v in params.items()}
    try:
        run.log_params(texts)
    except ParamConflictError:  # a second fit in the same run: its params under its name
        prefix = _model_name(model, name)
        run.log_params({f"{prefix}.{key}": value for key, value in texts.items()})
    for key, value in metrics.items():
        if isinstance(value, list):
            for step, point in enumerate(value):
                run.log_metric(key, point, step)
        else:
            run.log_metric(key, value)
    if _SETTINGS.log_models and model is not None:
        run.log_model(model, _model_name(model, name), example=example)


def _quietly(action: Callable[[], Any]) -> None:
    try:
        action()
    except Exception as error:  # recording must never break the user's fit
        warnings.warn(f"prodml autolog: could not record the fit: {error}", stacklevel=4)


# --- what to record -------------------------------------------------------------------------


def _params(estimator: Any) -> dict[str, Any]:
    getter = getattr(estimator, "get_params", None)
    return dict(getter(deep=False)) if callable(getter) else {}


def _sklearn_metrics(estimator: Any, args: tuple[Any, ...]) -> dict[str, Any]:
    """The estimator's own score on the rows it was fit on (with labels), if it has one."""
    if len(args) < 2 or args[1] is None or not callable(getattr(estimator, "score", None)):
        return {}
    try:
        return {"training_score": float(estimator.score(args[0], args[1]))}
    except Exception:  # e.g. a transformer or clusterer whose score needs other input
        return {}


def _evals_metrics(estimator: Any, args: tuple[Any, ...]) -> dict[str, Any]:
    """Each evaluation set's metric per boosting round, and the best round's when kept."""
    getter = getattr(estimator, "evals_result", None)
    results = getter() if callable(getter) else getattr(estimator, "evals_result_", None)
    found: dict[str, Any] = _histories(results or {})
    for name in ("best_iteration", "best_score"):
        value = getattr(estimator, name, None)
        if isinstance(value, int | float):
            found[name] = float(value)
    return found


def _histories(results: Mapping[str, Any]) -> dict[str, Any]:
    return {
        _key(f"{dataset}-{metric}"): [float(v) for v in values]
        for dataset, metrics in results.items()
        for metric, values in dict(metrics).items()
    }


def _first_rows(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    rows = args[0] if args else kwargs.get("X")
    if rows is None:
        return None
    try:
        return rows.head(EXAMPLE_ROWS) if hasattr(rows, "head") else rows[:EXAMPLE_ROWS]
    except Exception:  # a sparse matrix or a generator: no example, no signature
        return None


def _model_name(model: Any, given: str | None) -> str:
    if given is not None:
        return given
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", type(model).__name__)
    words = words.lower()  # XGBClassifier: xgb-classifier
    return re.sub(r"[^a-z0-9-]+", "-", words).strip("-") or "model"


def _key(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-/]+", "_", str(text))[:200]


def _text(value: Any) -> str:
    shown = value if isinstance(value, str) else repr(value)
    return shown if len(shown) <= PARAM_TEXT else f"{shown[:PARAM_TEXT]}..."


def _error_text(error: BaseException) -> str:
    return "".join(traceback.format_exception_only(error)).strip()
