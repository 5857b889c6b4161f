"""A model version loaded in the gateway: its input spec, and a batcher that runs
its predictions on one thread of its own. While a batch is predicting, requests that
arrive wait and go together in the next one, so under load one model call answers
many requests and at rest a request waits for nothing.

One request never fails another: a batch whose input cannot be built or guarded is
retried request by request; a batch holds at most ``MAX_BATCH_ROWS`` rows, and a
request that timed out leaves the queue. A model still busy past its timeout has its
thread abandoned (Python cannot stop it) and the next batch runs on a fresh one; with
``MAX_ABANDONED`` threads stuck, the version is hung and its requests go straight to
the fallback chain until one returns."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from prodml.predict import guardrails as rails
from prodml.predict.predictor import Predictor, robust
from prodml.serve.inputs import InputSpec

MAX_BATCH_ROWS = 4096  # rows of one model call; later requests wait for the next
MAX_ABANDONED = 4  # threads a hung model may hold before its requests skip it
SHADOW_PATIENCE = 10  # a shadow batch may take this many request timeouts
Prediction = tuple[list[Any], np.ndarray, str | None]


@dataclass(frozen=True)
class Outcome:
    """Answers for a request's rows; ``error`` is set when the model raised on any."""

    answers: list[Any]
    error: str | None


@dataclass(frozen=True)
class _Waiting:
    rows: list[Any]
    future: asyncio.Future[Outcome]


class Served:
    def __init__(self, predictor: Predictor, timeout: float) -> None:
        self.predictor = predictor
        self.version = predictor.version
        self.ref = predictor.ref
        self.number = predictor.version.version
        self.timeout = timeout
        self.spec = InputSpec(predictor.version, predictor.model)
        self.executor = self._thread("prodml")
        # shadow batches run on a thread of their own, never ahead of live requests
        self.shadow_executor = self._thread("shadow")
        self.abandoned = 0  # threads still running a call that passed the timeout
        self._pending: list[_Waiting] = []
        self._busy = False
        self._generation = 0  # which executor's results are still awaited
        self._watchdog: asyncio.TimerHandle | None = None

    def _thread(self, role: str) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(1, thread_name_prefix=f"{role}-{self.ref}")

    @property
    def hung(self) -> bool:
        return self.abandoned >= MAX_ABANDONED

    @property
    def guardrails_version(self) -> int:
        return self.predictor.guardrails.version if self.predictor.guardrails else 0

    def predict_now(self, rows: list[Any]) -> Prediction:
        """Answers for rows (None where a rule abstained or the model raised), the rows
        the model raised on, and its first error."""
        frame = self.spec.model_input(rows)
        guardrails = self.predictor.guardrails
        if guardrails is not None and self._wants_confidence(guardrails):
            return self._from_probabilities(rows, frame, guardrails)
        outputs, failed, error = robust(self.predictor.model.predict, frame, len(rows))
        if error is None and guardrails is None and len(outputs) == len(rows):
            return outputs.tolist(), failed, None  # every row answered, nothing to guard
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

    def predict_batch(self, requests: list[list[Any]]) -> list[Outcome]:
        """Outcomes of several requests from one model call; when the call cannot be
        made (an input that cannot be built or guarded, a wrong output shape), each
        request is tried on its own, so only the one at fault fails."""
        rows = [row for request in requests for row in request]
        try:
            answers, failed, error = self.predict_now(rows)
        except Exception as problem:
            if len(requests) == 1:
                return [Outcome([], _text(problem))]
            return [self._alone(request) for request in requests]
        if error is None and len(requests) == 1:  # the common case, answered whole
            return [Outcome(answers, None)]
        if len(requests) > 1 and failed.all() and len(answers) == len(rows) and error:
            return [self._alone(request) for request in requests]
        outcomes, start = [], 0
        for request in requests:
            stop = start + len(request)
            bad = error is not None and bool(failed[start:stop].any())
            outcomes.append(Outcome(answers[start:stop], error if bad else None))
            start = stop
        return outcomes

    def _alone(self, rows: list[Any]) -> Outcome:
        try:
            answers, failed, error = self.predict_now(rows)
        except Exception as problem:
            return Outcome([], _text(problem))
        return Outcome(answers, error if failed.any() else None)

    async def predict(self, rows: list[Any]) -> Outcome:
        """Answers for one request, batched with the requests waiting beside it;
        raises TimeoutError past the version's timeout."""
        if self.hung:
            return Outcome([], f"model {self.ref} is hung: {self.abandoned} calls still running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._pending.append(_Waiting(rows, future))
        if not self._busy:
            self._launch(loop)
        timer = loop.call_later(self.timeout, _expire, future)
        try:
            return await future
        finally:
            timer.cancel()

    def _launch(self, loop: asyncio.AbstractEventLoop) -> None:
        batch: list[_Waiting] = []
        size = 0
        waiting = [w for w in self._pending if not w.future.done()]  # expired ones leave
        while waiting and (not batch or size + len(waiting[0].rows) <= MAX_BATCH_ROWS):
            size += len(waiting[0].rows)
            batch.append(waiting.pop(0))
        self._pending = waiting
        if not batch:
            self._busy = False
            return
        self._busy = True
        generation = self._generation
        work = self.executor.submit(self.predict_batch, [w.rows for w in batch])
        work.add_done_callback(
            lambda done: _deliver(loop, self._finish, loop, generation, batch, done)
        )
        self._watchdog = loop.call_later(self.timeout, self._abandon, loop, generation)

    def _abandon(self, loop: asyncio.AbstractEventLoop, generation: int) -> None:
        """The model is still on a batch past its timeout: leave that thread to finish
        on its own and run the next batch on a new one."""
        if generation != self._generation or not self._busy:
            return
        self._generation += 1
        self.abandoned += 1
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self._thread("prodml")
        self._busy = False
        if self._pending:
            self._launch(loop)

    def _finish(
        self,
        loop: asyncio.AbstractEventLoop,
        generation: int,
        batch: list[_Waiting],
        done: Future[list[Outcome]],
    ) -> None:
        if generation != self._generation:  # an abandoned call came back at last
            self.abandoned = max(0, self.abandoned - 1)
            return
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._busy = False
        try:
            outcomes = done.result()
        except (Exception, concurrent.futures.CancelledError) as problem:
            outcomes = [Outcome([], _text(problem))] * len(batch)
        for waiting, outcome in zip(batch, outcomes, strict=True):
            if not waiting.future.done():
                waiting.future.set_result(outcome)
        if self._pending:
            self._launch(loop)

    def shadow(self, rows: list[Any]) -> Prediction:
        """Answers of this version as a shadow, from a thread off the event loop. A
        shadow batch gathers many requests, so it may take ``SHADOW_PATIENCE`` times the
        request timeout (nobody waits on it: the served rows are logged meanwhile); a
        call still running then is hung, and its thread is left behind."""
        if not rows:
            return [], np.zeros(0, bool), None
        patience = self.timeout * SHADOW_PATIENCE
        try:
            return self.shadow_executor.submit(self.predict_now, rows).result(patience)
        except concurrent.futures.TimeoutError:
            self.shadow_executor.shutdown(wait=False, cancel_futures=True)
            self.shadow_executor = self._thread("shadow")
            error = f"timed out after {patience * 1000:.0f} ms"
        except Exception as problem:  # a shadow must never take the gateway down
            error = _text(problem)
        return [None] * len(rows), np.ones(len(rows), bool), error

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.shadow_executor.shutdown(wait=False, cancel_futures=True)


def _listed(answers: rails.Answers) -> list[Any]:
    return [
        v if ok else None
        for v, ok in zip(answers.predicted.tolist(), answers.answered, strict=True)
    ]


def _text(problem: BaseException) -> str:
    return f"{type(problem).__name__}: {problem}"


def _deliver(loop: asyncio.AbstractEventLoop, callback: Any, *args: Any) -> None:
    """Hand a finished batch back to the event loop, unless the gateway has stopped."""
    with contextlib.suppress(RuntimeError):  # the loop closed while the model predicted
        loop.call_soon_threadsafe(callback, *args)


def _expire(future: asyncio.Future[Outcome]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())
