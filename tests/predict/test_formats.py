"""Native model formats: each model logged in its library's own format, read back by a
new client with the same answers and probabilities, its format recorded, and the
formats that run code refused when ``allow_pickle`` is false."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import prodml
from prodml.client import Client
from prodml.domain.artifact import ModelVersion
from prodml.errors import DataReadError, InvalidInputError
from prodml.predict import loading

COLUMNS = ["a", "b", "c", "d"]
CATBOOST_QUIET = {"iterations": 8, "verbose": 0, "thread_count": 1, "allow_writing_files": False}


def _double(rows: Any) -> Any:
    return rows * 2


@dataclass(frozen=True)
class Case:
    name: str
    format: str
    library: str
    build: Callable[[pd.DataFrame, np.ndarray, np.ndarray], tuple[Any, dict[str, Any]]]


def _xgboost(x: pd.DataFrame, y: np.ndarray, _: np.ndarray) -> tuple[Any, dict[str, Any]]:
    import xgboost

    return xgboost.XGBClassifier(n_estimators=8, max_depth=3).fit(x, y), {}


def _lightgbm(x: pd.DataFrame, y: np.ndarray, _: np.ndarray) -> tuple[Any, dict[str, Any]]:
    import lightgbm

    return lightgbm.LGBMClassifier(n_estimators=8, verbose=-1).fit(x, y), {}


def _catboost(x: pd.DataFrame, y: np.ndarray, _: np.ndarray) -> tuple[Any, dict[str, Any]]:
    import catboost

    return catboost.CatBoostClassifier(**CATBOOST_QUIET).fit(x, y), {}


def _catboost_regressor(
    x: pd.DataFrame, _: np.ndarray, target: np.ndarray
) -> tuple[Any, dict[str, Any]]:
    import catboost

    return catboost.CatBoostRegressor(**CATBOOST_QUIET).fit(x, target), {}


def _sklearn_onnx(x: pd.DataFrame, y: np.ndarray, _: np.ndarray) -> tuple[Any, dict[str, Any]]:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(x, y), {"format": "onnx"}


def _onnx_proto(x: pd.DataFrame, _: np.ndarray, target: np.ndarray) -> tuple[Any, dict[str, Any]]:
    from skl2onnx import to_onnx
    from sklearn.linear_model import Ridge

    return to_onnx(Ridge().fit(x.to_numpy(), target), x.to_numpy()[:1]), {}


def _skops(x: pd.DataFrame, y: np.ndarray, _: np.ndarray) -> tuple[Any, dict[str, Any]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y), {"format": "skops"}


def _torch_module(target: np.ndarray, x: pd.DataFrame) -> Any:
    import torch

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    optimiser = torch.optim.SGD(module.parameters(), lr=0.05)
    inputs = torch.as_tensor(x.to_numpy().copy(), dtype=torch.float32)
    wanted = torch.as_tensor(target.copy(), dtype=torch.float32).reshape(-1, 1)
    for _ in range(20):
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(module(inputs), wanted)
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
    return module.eval()


def _torchscript(x: pd.DataFrame, _: np.ndarray, target: np.ndarray) -> tuple[Any, dict[str, Any]]:
    return _torch_module(target, x), {"example": x.to_numpy()[:5]}


def _torch_onnx(x: pd.DataFrame, _: np.ndarray, target: np.ndarray) -> tuple[Any, dict[str, Any]]:
    return _torch_module(target, x), {"example": x.to_numpy()[:5], "format": "onnx"}


def _pickle(x: pd.DataFrame, y: np.ndarray, _: np.ndarray) -> tuple[Any, dict[str, Any]]:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.tree import DecisionTreeClassifier

    # the default for scikit-learn where pickle is allowed (skops costs seconds to import)
    pipeline = make_pipeline(FunctionTransformer(_double), DecisionTreeClassifier(max_depth=3))
    return pipeline.fit(x, y), {}


CASES = [
    Case("xgb", "xgboost-ubj", "xgboost", _xgboost),
    Case("lgbm", "lightgbm-text", "lightgbm", _lightgbm),
    Case("cat", "catboost-cbm", "catboost", _catboost),
    Case("cat-reg", "catboost-cbm", "catboost", _catboost_regressor),
    Case("sk-onnx", "onnx", "skl2onnx", _sklearn_onnx),
    Case("onnx", "onnx", "onnxruntime", _onnx_proto),
    Case("skops", "skops", "skops", _skops),
    Case("script", "torchscript", "torch", _torchscript),
    Case("torch-onnx", "onnx", "torch", _torch_onnx),
    Case("pickled", "pickle", "scikit-learn", _pickle),
]
TRUSTED = {"xgb", "lgbm", "cat", "cat-reg", "sk-onnx", "onnx", "skops", "torch-onnx"}


@dataclass
class Logged:
    home: Path
    rows: pd.DataFrame
    originals: dict[str, Any]
    versions: dict[str, ModelVersion]


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logged]:
    """Every case fitted on one small table and logged to one store."""
    home = tmp_path_factory.mktemp("formats") / ".prodml"
    rng = np.random.default_rng(7)
    rows = pd.DataFrame(rng.normal(size=(120, 4)), columns=COLUMNS)
    labels = (rows["a"] + rows["b"] - rows["c"] > 0).astype(int).to_numpy()
    target = (rows["a"] * 2 - rows["d"]).to_numpy()
    client = Client(home=str(home), user="tester")
    originals: dict[str, Any] = {}
    versions: dict[str, ModelVersion] = {}
    with prodml.start_run("formats", client=client) as run:
        for case in CASES:
            model, options = case.build(rows, labels, target)
            example = options.pop("example", rows.head(5))
            originals[case.name] = model
            versions[case.name] = run.log_model(model, case.name, example=example, **options)
    client.close()
    yield Logged(home, rows, originals, versions)


def _fresh(logged: Logged, **settings: Any) -> Client:
    return Client(home=str(logged.home), user="tester", **settings)


def _expected(model: Any, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """The original model's answers (and probabilities) as its own library gives them."""
    if hasattr(model, "forward") or type(model).__module__.startswith("onnx"):
        return np.asarray(_run_original(model, rows)), None
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict(rows)), np.asarray(model.predict_proba(rows))
    return np.asarray(model.predict(rows)), None


def _run_original(model: Any, rows: pd.DataFrame) -> np.ndarray:
    if hasattr(model, "forward"):
        import torch

        with torch.no_grad():
            tensor = torch.as_tensor(rows.to_numpy().copy(), dtype=torch.float32)
            return np.asarray(model(tensor).numpy()).ravel()
    import onnxruntime

    session = onnxruntime.InferenceSession(model.SerializeToString())
    return np.asarray(session.run(None, {"X": rows.to_numpy()})[0]).ravel()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_model_is_logged_in_its_format_with_its_library_version(
    logged: Logged, case: Case
) -> None:
    version = logged.versions[case.name]
    assert version.format == case.format
    assert version.needs_trust == (case.name not in TRUSTED)
    assert case.library in version.environment["packages"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_new_client_predicts_as_the_original_model_with_its_probabilities(
    logged: Logged, case: Case
) -> None:
    client = _fresh(logged)
    predictor = loading.predictor(client, f"{case.name}@1")
    table = pa.Table.from_pandas(logged.rows, preserve_index=False)
    answers, probabilities = _expected(logged.originals[case.name], logged.rows)

    raw = predictor.raw(table, probabilities=True)
    plain = predictor.raw(table, probabilities=False)

    assert not raw.failed.any() and raw.error is None
    assert plain.labels is not None
    if answers.dtype.kind == "f":
        np.testing.assert_allclose(plain.labels, answers, rtol=1e-4, atol=1e-5)
    else:
        np.testing.assert_array_equal(plain.labels, answers)
    if probabilities is not None:
        assert raw.probabilities is not None and list(raw.classes) == [0, 1]
        np.testing.assert_allclose(raw.probabilities, probabilities, rtol=1e-5, atol=1e-6)
    client.close()


def test_a_version_logged_before_formats_were_recorded_reads_as_pickle() -> None:
    from datetime import UTC, datetime

    older = ModelVersion(
        id="m",
        name="old",
        version=1,
        run_id="r",
        digest="d",
        flavor="sklearn",
        author="a",
        created_at=datetime.now(UTC),
        environment={"python": "3.11"},
    )
    assert (older.format, older.needs_trust) == ("pickle", True)


def test_without_allow_pickle_pickle_and_torchscript_are_refused_naming_the_setting(
    logged: Logged, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _fresh(logged, allow_pickle=False)
    for name in ("pickled", "script"):
        with pytest.raises(DataReadError, match=rf"{name}@1 .*allow_pickle is false"):
            loading.predictor(client, f"{name}@1")
    for name in sorted(TRUSTED):
        assert loading.predictor(client, f"{name}@1").predict(logged.rows.head(3))
    with pytest.raises(DataReadError, match=r"script@1 is stored as torchscript.*allow_pickle"):
        prodml.evaluate_model("script@1", client=client)  # refused before any suite is read

    monkeypatch.setenv("PRODML_ALLOW_PICKLE", "false")
    with pytest.raises(DataReadError, match=r"pickled@1 .*allow_pickle"):
        prodml.load_model("pickled@1", client=client)
    assert prodml.load_model("skops@1", client=client).predict(logged.rows.head(3)).shape == (3,)
    client.close()


def test_a_skops_blob_naming_a_type_skops_does_not_trust_is_refused(logged: Logged) -> None:
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    client = _fresh(logged)
    untrusted = skops.io.dumps(FunctionTransformer(_double))  # as if written by someone else
    digest, _ = client.artifacts.put_bytes(untrusted)
    base = logged.versions["skops"]
    forged = client.metadata.add_model_version(
        ModelVersion(
            id="",
            name="forged",
            version=0,
            run_id=base.run_id,
            digest=digest,
            flavor="sklearn",
            author="tester",
            created_at=base.created_at,
            environment={**base.environment, "format": "skops"},
        )
    )

    with pytest.raises(DataReadError, match=r"forged@1 .*does not trust.*_double"):
        loading.predictor(client, forged.ref)
    client.close()


def test_a_format_that_does_not_fit_the_model_is_refused(logged: Logged) -> None:
    client = _fresh(logged)
    with prodml.start_run("wrong", client=client) as run:
        with pytest.raises(InvalidInputError, match="cannot be saved as 'xgboost-ubj'"):
            run.log_model(logged.originals["skops"], "wrong", format="xgboost-ubj")
        with pytest.raises(InvalidInputError, match="no format 'h5'"):
            run.log_model(logged.originals["skops"], "wrong", format="h5")
        with pytest.raises(InvalidInputError, match="example batch"):
            run.log_model(logged.originals["script"], "wrong")
    client.close()


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODML_")}
    return subprocess.run(
        [sys.executable, "-m", "prodml.cli.main", *args],
        env={**env, "PRODML_HOME": str(home), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_models_show_says_the_format_and_whether_it_needs_trust(logged: Logged) -> None:
    onnx = _cli(logged.home, "models", "show", "sk-onnx@1")
    pickled = _cli(logged.home, "models", "show", "pickled@1")

    assert onnx.returncode == 0, onnx.stderr
    assert "format: onnx (loads without running code)" in onnx.stdout
    assert "format: pickle (needs trust" in pickled.stdout
    assert "allow_pickle = false" in pickled.stdout


def test_a_client_that_refuses_pickle_logs_scikit_learn_with_skops(
    logged: Logged, tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    labels = (logged.rows["a"] > 0).astype(int).to_numpy()
    model = LogisticRegression().fit(logged.rows, labels)
    for allow, expected in ((True, "pickle"), (False, "skops")):
        client = Client(home=str(tmp_path / f"{allow}"), user="tester", allow_pickle=allow)
        try:
            with prodml.start_run("formats", client=client) as run:
                version = run.log_model(model, "plain", example=logged.rows.head(5))
            assert version.format == expected
            answers = prodml.load_model("plain@1", client=client).predict(logged.rows.head(5))
            assert list(answers) == list(model.predict(logged.rows.head(5)))
        finally:
            client.close()


def test_load_model_follows_the_allow_pickle_of_the_client_it_is_given(logged: Logged) -> None:
    refusing = _fresh(logged, allow_pickle=False)
    try:
        with pytest.raises(DataReadError, match="allow_pickle"):
            prodml.load_model("pickled@1", client=refusing)
        assert prodml.load_model("xgb@1", client=refusing) is not None
    finally:
        refusing.close()
