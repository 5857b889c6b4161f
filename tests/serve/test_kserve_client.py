"""KServe's own Python client, ``kserve.InferenceRESTClient`` (kserve 0.21), against a
real gateway (``prodml serve`` on uvicorn): protocol v1 (liveness, model readiness,
``:predict``) and v2 (server and model readiness, infer with JSON and binary
tensors, read back with ``as_numpy``), and how it surfaces the gateway's errors.

kserve is not a test dependency (see ``kserve_venv.py``): the client runs in a venv
of its own, installed once into a cache folder (about 75 s), from the script
``kserve_calls.py``, once per module. Where the install fails the tests are skipped
with the reason, except in CI (``CI=true``), where they fail."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from kserve_venv import SERIES, KServeUnavailable, clean_environment, ensure_kserve, venv_folder
from oip_store import rows, served
from serving_helpers import classifier

pytestmark = pytest.mark.kserve

SCRIPT = Path(__file__).resolve().parent / "kserve_calls.py"
DATA = rows(5)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def kserve_python() -> Path:
    """The kserve venv's interpreter, installed on first use."""
    try:
        return ensure_kserve()
    except KServeUnavailable as error:
        reason = f"kserve {SERIES} could not be installed into {venv_folder()}: {error}"
        if _in_ci():
            pytest.fail(f"CI must test KServe's client: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def answers(kserve_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each call of ``kserve_calls.py`` against a fresh gateway: its name to
    ``{"value": ...}`` or ``{"error": {...}}``."""
    command = [str(kserve_python), "-I", str(SCRIPT), "", json.dumps(DATA.tolist())]
    with served(tmp_path_factory.mktemp("kserve-client")) as url:
        command[3] = url
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=300, env=clean_environment()
        )
    assert completed.returncode == 0, completed.stderr
    read: dict[str, Any] = json.loads(completed.stdout)
    return read


def _value(answers: dict[str, Any], call: str) -> Any:
    answer = answers[call]
    assert "error" not in answer, f"{call} raised {answer['error']}"
    return answer["value"]


def _error(answers: dict[str, Any], call: str) -> dict[str, Any]:
    answer = answers[call]
    assert "error" in answer, f"{call} answered {answer.get('value')!r} instead of raising"
    raised: dict[str, Any] = answer["error"]
    return raised


def _expected() -> tuple[list[int], np.ndarray]:
    frame = pd.DataFrame(DATA, columns=["a", "b"])
    labels: list[int] = classifier().predict(frame).tolist()
    assert set(labels) == {0, 1}, "the rows sent should be labelled with both classes"
    return labels, classifier().predict_proba(frame)


def test_v1_the_server_is_live_and_the_served_model_ready(answers: dict[str, Any]) -> None:
    assert _value(answers, "v1_server_live") is True
    assert _value(answers, "v1_model_ready_m") is True


def test_v1_readiness_of_a_model_not_served_raises_the_404_naming_it(
    answers: dict[str, Any],
) -> None:
    # The client answers False only to a 503; any other failure it raises, as it
    # does against KServe's own server, which also answers 404 for a missing model.
    raised = _error(answers, "v1_model_ready_x")

    assert raised["type"] == "HTTPStatusError"
    assert raised["status"] == 404
    assert "does not serve model 'x'" in raised["message"]


def test_v1_predict_answers_sklearn_s_labels(answers: dict[str, Any]) -> None:
    labels, _ = _expected()

    assert _value(answers, "v1_infer") == {"predictions": labels}


def test_v1_a_request_without_instances_raises_the_422_naming_the_field(
    answers: dict[str, Any],
) -> None:
    raised = _error(answers, "v1_infer_without_instances")

    assert raised["type"] == "HTTPStatusError"
    assert raised["status"] == 422
    assert "instances" in raised["message"]  # the gateway's error, in the client's message
    assert "422 Unprocessable" in raised["message"]
    assert json.loads(raised["body"])["field"] == "instances"


def test_v1_predict_of_a_model_not_served_raises_the_404_naming_it(
    answers: dict[str, Any],
) -> None:
    raised = _error(answers, "v1_infer_x")

    assert raised["status"] == 404
    assert "does not serve model 'x'" in raised["message"]


def test_v2_the_server_is_live_and_ready(answers: dict[str, Any]) -> None:
    assert _value(answers, "v2_server_live") is True
    assert _value(answers, "v2_server_ready") is True


def test_v2_the_served_model_is_ready_and_one_not_served_is_not(
    answers: dict[str, Any],
) -> None:
    assert _value(answers, "v2_model_ready_m") is True
    assert _value(answers, "v2_model_ready_x") is False


@pytest.mark.parametrize("form", ["json", "binary"])
def test_v2_infer_answers_sklearn_s_labels_and_probabilities(
    answers: dict[str, Any], form: str
) -> None:
    answer = _value(answers, f"v2_infer_{form}")

    labels, proba = _expected()
    predict, probabilities = answer["outputs"]["predict"], answer["outputs"]["probabilities"]
    assert predict["values"] == labels
    assert (predict["datatype"], predict["dtype"], predict["shape"]) == ("INT64", "int64", [5])
    np.testing.assert_allclose(probabilities["values"], proba)
    assert (probabilities["datatype"], probabilities["shape"]) == ("FP64", [5, 2])
    assert (answer["model_name"], answer["id"]) == ("m", f"kserve-{form}")


@pytest.mark.parametrize("form", ["json", "binary"])
def test_v2_outputs_come_back_in_the_form_requested(answers: dict[str, Any], form: str) -> None:
    answer = _value(answers, f"v2_infer_{form}")

    assert answer["binary_header"] is (form == "binary")
    assert list(answer["outputs"]) == ["predict", "probabilities"]
