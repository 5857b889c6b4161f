"""Build the test venvs of their own (see ``throwaway_venv.py``) ahead of the test run.

    python tests/prepare_venvs.py kserve        # any Python 3: stdlib only
    .venv/bin/python tests/prepare_venvs.py mlflow   # needs the dev venv (its series)

Each takes one to two minutes on a fresh machine, most of it pip; inside ``pytest -n 2``
it holds one worker idle meanwhile. ``.ci/run`` builds them beside the dev install and
the lint instead. A venv already complete is left as it is; a failed build is reported
and left to the tests, which retry it and say why when it fails again."""

from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from throwaway_venv import ThrowawayVenv, VenvUnavailable  # noqa: E402


def _venv(name: str) -> ThrowawayVenv:
    if name == "kserve":
        sys.path.insert(0, str(HERE / "serve"))
        import kserve_venv

        venv: ThrowawayVenv = kserve_venv.VENV
        return venv
    if name == "mlflow":
        sys.path.insert(0, str(HERE / "interop"))
        import mlflow_server

        server_venv: ThrowawayVenv = mlflow_server.VENV
        return server_venv
    raise SystemExit(f"prepare_venvs.py: no venv {name!r}; name kserve or mlflow")


def main(names: list[str]) -> int:
    failed = 0
    for name in names or ["kserve"]:
        venv = _venv(name)
        started = time.perf_counter()
        try:
            python = venv.ensure()
        except VenvUnavailable as error:
            print(f"prepare_venvs.py: {name} venv not built: {error}", file=sys.stderr)
            failed = 1
            continue
        took = time.perf_counter() - started
        print(f"prepare_venvs.py: {name} venv ready ({python}) in {took:.0f} s")
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
