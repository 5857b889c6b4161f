"""A model version loaded in the gateway: its input spec, and a batcher that runs
its predictions on one thread of its own. While a batch is predicting, requests that
arrive wait and go together in the next one, so under load one model call answers
many requests and at rest a request waits for nothing."""

from __future__ import annotations

import asyncio
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
        self._pending: list[tuple[int, asyncio.Future[Outcome]]] = []
        self._rows: list[Any] = []
        self._busy = False

    @property
    def guardrails_version(self) -> int:
        return self.predictor.guardrails.version if self.predictor.guardrails else 0

    def predict_now(self, rows: list[Any]) -> tuple[list[Any], np.ndarray, str | None]:
        """Answers for rows (None where a rule abstained or the model raised), the rows
        the model raised on, and its first error."""
        model = self.predictor.model
        frame = self.spec.model_input(rows)
        outputs, failed, error = robust(model.predict, frame, len(rows))
        if failed.all():
            return [None] * len(rows), failed, error
        if len(outputs) != len(rows):
            shape = getattr(outputs, "shape", None)
            return [None] * len(rows), np.ones(len(rows), bool), f"predict returned {shape}"
        guardrails = self.predictor.guardrails
        if guardrails is None:
            answers = outputs.tolist()
            if failed.any():
                answers = [None if bad else v for v, bad in zip(answers, failed, strict=True)]
            return answers, failed, error
        return self._guarded(rows, outputs, failed, guardrails), failed, error

    def _guarded(
        self, rows: list[Any], outputs: np.ndarray, failed: np.ndarray, rules: rails.Guardrails
    ) -> list[Any]:
        table = pa.Table.from_pylist([self.spec.logged(row) for row in rows])
        answers = rails.Answers(np.asarray(outputs), None, ~failed)
        if any(rule.confidence_below is not None for rule in rules.rules):
            answers.confidence = self.predictor._confidence(table, answers.predicted)
        rails.apply(rules, table, answers)
        return [
            v if ok else None
            for v, ok in zip(answers.predicted.tolist(), answers.answered, strict=True)
        ]

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
        work.add_done_callback(
            lambda done: loop.call_soon_threadsafe(self._finish, loop, batch, done)
        )

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


def _expire(future: asyncio.Future[Outcome]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())
