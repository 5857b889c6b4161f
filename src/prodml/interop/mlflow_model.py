"""An MLflow model as a prodml model version: the folder MLflow saved (its MLmodel file,
flavor files and environment), served through MLflow's ``python_function`` flavor.

The version's blob is this object pickled, holding the folder as a zip. Unpickling it
only keeps the bytes; the first prediction unpacks the folder and calls
``mlflow.pyfunc.load_model``, which needs MLflow installed (``pip install
'prodml[mlflow]'``) and runs the model's own code (its flavor's pickle or cloudpickle):
such a version needs the same trust as a pickled model."""

from __future__ import annotations

import io
import shutil
import tempfile
import weakref
import zipfile
from pathlib import Path
from typing import Any

from prodml.errors import DataReadError

INSTALL = "pip install 'prodml[mlflow]'"


def pack(folder: Path) -> bytes:
    """The files of a model folder as one zip, in a stable order (same folder, same bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


class MlflowModel:
    """Predicts through ``mlflow.pyfunc``: a DataFrame in, one answer per row out."""

    def __init__(self, files: bytes, flavor: str, ref: str) -> None:
        self.files = files
        self.flavor = flavor  # the MLflow flavor it was saved with: sklearn, python_function
        self.ref = ref  # the MLflow model it came from, NAME/VERSION
        self._pyfunc: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"files": self.files, "flavor": self.flavor, "ref": self.ref}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.files, self.flavor, self.ref = state["files"], state["flavor"], state["ref"]
        self._pyfunc = None

    def __repr__(self) -> str:
        return f"MlflowModel({self.ref}, flavor {self.flavor})"

    @property
    def pyfunc(self) -> Any:
        """The model as ``mlflow.pyfunc.load_model`` gives it (loaded on first use)."""
        if self._pyfunc is None:
            self._pyfunc = self._load()
        return self._pyfunc

    def _load(self) -> Any:
        try:
            import mlflow.pyfunc
        except ImportError:
            raise DataReadError(
                f"Model {self.ref} was imported from MLflow and loads through MLflow's "
                f"{self.flavor} flavor: {INSTALL}"
            ) from None
        folder = Path(tempfile.mkdtemp(prefix="prodml-mlflow-model-"))
        weakref.finalize(self, shutil.rmtree, folder, True)
        with zipfile.ZipFile(io.BytesIO(self.files)) as archive:
            archive.extractall(folder)
        try:
            return mlflow.pyfunc.load_model(str(folder))
        except Exception as error:  # MLflow's and the flavor's own errors
            raise DataReadError(
                f"MLflow could not load model {self.ref} ({self.flavor}): {error}. Install "
                f"what it was saved with: pip install {_requirements(folder)}"
            ) from None

    def predict(self, frame: Any) -> Any:
        import numpy as np

        answers = self.pyfunc.predict(frame)
        if hasattr(answers, "columns") and len(answers.columns) == 1:
            answers = answers.iloc[:, 0]
        return np.asarray(answers)


def _requirements(folder: Path) -> str:
    """The packages of the model's requirements.txt, as pip takes them."""
    path = folder / "requirements.txt"
    return " ".join(path.read_text().split()) if path.is_file() else "mlflow"
