"""The bare anchor of ``serving.py``: the least a Python web service can do to serve a
pickled scikit-learn model, on the same server (uvicorn) and framework (Starlette)
as prodml's gateway.

One async route parses the JSON body (one record of numeric fields), builds a 1-row
numpy array in the fitted column order, calls ``model.predict`` on the event loop
and answers JSON. No validation, logging, routing, metrics or thread hand-off::

    .venv/bin/python benchmarks/serving_bare.py model.pkl --features a,b,c --port 8001
    curl -d '{"a": 1, "b": 2, "c": 3}' localhost:8001/predict
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def create_app(model: Any, features: list[str]) -> Starlette:
    async def predict(request: Request) -> Response:
        record = orjson.loads(await request.body())
        row = np.array([[record[name] for name in features]], dtype=np.float64)
        answer = model.predict(row).tolist()
        return Response(orjson.dumps({"predictions": answer}), media_type="application/json")

    return Starlette(routes=[Route("/predict", predict, methods=["POST"])])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a pickled model with predict()")
    parser.add_argument("--features", required=True, help="comma-separated, in fitted order")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    options = parser.parse_args(argv)
    model = pickle.loads(options.model.read_bytes())
    app = create_app(model, options.features.split(","))
    # The settings prodml's gateway passes to uvicorn; loop and http stay "auto"
    # (uvloop and httptools when installed) in both.
    uvicorn.run(app, host=options.host, port=options.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
