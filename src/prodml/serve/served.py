"""A model version loaded in the gateway: its input spec, and a batcher that runs
its predictions on one thread of its own. While a batch is predicting, requests that
arrive wait and go together in the next one, so under load one model call answers
many requests and at rest a request waits for nothing."""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from prodml.deploy import guardrails as rails
from prodml.deploy.predictor import Predictor, robust
from prodml.serve.inputs import InputSpec


@dataclass(frozen=True)
class Outcome:
    """Answers for a request's rows; ``error`` is set when the model raised on any."""

    answers: list[Any]
    error: str | None


class Served:
    def __init__(self, predictor: Predictor, timeout: float) -> None:
        self.predictor = predictor
        self.version = predictor.version
        self.ref = predictor.ref
        self.number = predictor.version.version
        self.timeout = timeout
        self.spec = InputSpec(predictor.version, predictor.model)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"prodml-{self.ref}")
        # shadow batches run on a thread of their own, never ahead of live requests
        self.shadow_executor = ThreadPoolExecutor(1, thread_name_prefix=f"shadow-{self.ref}")
        self._pending: list[tuple[int, asyncio.Future[Outcome]]] = []
        self._rows: list[Any] = []
        self._busy = False

    @property
    def guardrails_version(self) -> int:
        return self.predictor.guardrails.version if self.predictor.guardrails else 0

    def predict_now(self, rows: list[Any]) -> tuple[list[Any], np.ndarray, str | None]:
        """Answers for rows (None where a rule abstained or the model raised), the rows
        the model raised on, and its first error."""
        frame = self.spec.model_input(rows)
        guardrails = self.predictor.guardrails
        if guardrails is not None and self._wants_confidence(guardrails):
            return self._from_probabilities(rows, frame, guardrails)
        outputs, failed, error = robust(self.predictor.model.predict, frame, len(rows))
        if failed.all() or len(outputs) != len(rows):
            return [None] * len(rows), np.ones(len(rows), bool), error or "wrong output shape"
        answers = rails.Answers(np.asarray(outputs), None, ~failed)
        if guardrails is not None:
            self._guard(rows, answers, guardrails)
        return _listed(answers), failed, error

    def _wants_confidence(self, guardrails: rails.Guardrails) -> bool:
        needed = any(rule.confidence_below is not None for rule in guardrails.rules)
        return needed and callable(getattr(self.predictor.model, "predict_proba", None))

    def _from_probabilities(
        self, rows: list[Any], frame: Any, guardrails: rails.Guardrails
    ) -> tuple[list[Any], np.ndarray, str | None]:
        """One predict_proba call gives both the answer (the likeliest class, as
        classifiers' predict does) and its confidence for confidence rules."""
        model = self.predictor.model
        proba, failed, error = robust(model.predict_proba, frame, len(rows))
        if failed.all() or proba.ndim != 2 or len(proba) != len(rows):
            return [None] * len(rows), np.ones(len(rows), bool), error or "wrong output shape"
        classes = np.asarray(getattr(model, "classes_", np.arange(proba.shape[1])))
        index = np.argmax(proba, axis=1)
        confidence = np.where(failed, np.nan, proba[np.arange(len(index)), index])
        answers = rails.Answers(classes[index], confidence, ~failed)
        self._guard(rows, answers, guardrails)
        return _listed(answers), failed, error

    def _guard(self, rows: list[Any], answers: rails.Answers, rules: rails.Guardrails) -> None:
        table = pa.Table.from_pylist([self.spec.logged(row) for row in rows])
        rails.apply(rules, table, answers)

    async def predict(self, rows: list[Any]) -> Outcome:
        """Answers for one request, batched with the requests waiting beside it;
        raises TimeoutError past the version's timeout."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._pending.append((len(rows), future))
        self._rows.extend(rows)
        if not self._busy:
            self._launch(loop)
        timer = loop.call_later(self.timeout, _expire, future)
        try:
            return await future
        finally:
            timer.cancel()

    def _launch(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, rows = self._pending, self._rows
        self._pending, self._rows = [], []
        self._busy = True
        work = self.executor.submit(self.predict_now, rows)
        work.add_done_callback(lambda done: _deliver(loop, self._finish, loop, batch, done))

    def _finish(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[tuple[int, asyncio.Future[Outcome]]],
        done: Future[tuple[list[Any], np.ndarray, str | None]],
    ) -> None:
        self._busy = False
        try:
            answers, failed, error = done.result()
        except Exception as problem:  # the model input could not be built
            message = f"{type(problem).__name__}: {problem}"
            for _, future in batch:
                if not future.done():
                    future.set_result(Outcome([], message))
        else:
            start = 0
            for count, future in batch:
                stop = start + count
                if not future.done():
                    bad = bool(failed[start:stop].any())
                    future.set_result(Outcome(answers[start:stop], error if bad else None))
                start = stop
        if self._pending:
            self._launch(loop)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.shadow_executor.shutdown(wait=False, cancel_futures=True)


def _listed(answers: rails.Answers) -> list[Any]:
    return [
        v if ok else None
        for v, ok in zip(answers.predicted.tolist(), answers.answered, strict=True)
    ]


def _deliver(loop: asyncio.AbstractEventLoop, callback: Any, *args: Any) -> None:
    """Hand a finished batch back to the event loop, unless the gateway has stopped."""
    with contextlib.suppress(RuntimeError):  # the loop closed while the model predicted
        loop.call_soon_threadsafe(callback, *args)


def _expire(future: asyncio.Future[Outcome]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())
