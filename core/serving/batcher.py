"""Dynamic batching across sessions: one worker thread runs each model once over the images that
every caller sent within a few milliseconds, then hands each caller its own rows.

The pattern is TF Serving's and Triton's dynamic batcher. The small PyPI batchers we looked at
(``batched``, ``batch-inference``) have neither a bounded queue nor per-call timeouts, and they
fail a whole batch when one function raises, so this module is ours:

- requests of one *kind* (e.g. "predict", or Grad-CAM of one model) are merged; the worker
  always serves the most urgent kind first (lowest ``priority``), oldest request first, and a
  kind registered with ``after_quiet_s`` starts only ``after_quiet_s`` times the number of more
  urgent requests of the last ``RECENT_S`` seconds after the latest of them was submitted and
  answered (on 2 cores, heatmaps computed while the browser is still drawing answers, this
  session's or others', slow those answers down: counted from the submission alone, a
  prediction that took 0.3 s left the browser 0.1 s before the heatmaps took both cores);
- the queue is bounded (``Overloaded`` at once when full) and every call has a deadline
  (``TimedOut``; a request that has not started by then is dropped, never run);
- a function may return ``{part: rows or exception}``: a failing part (one model) fails only
  that part of every caller's answer, the other parts still arrive.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from itertools import count
from typing import Any, NamedTuple

import numpy as np

BatchFn = Callable[..., Any]  # (*stacked arrays) -> rows, or {part: rows or BaseException}


class Busy(RuntimeError):
    """The shared worker could not answer in time; str(exc) is a user-facing sentence."""


class Overloaded(Busy):
    pass


class TimedOut(Busy):
    pass


class _Kind(NamedTuple):
    fn: BatchFn
    priority: int
    after_quiet_s: float


@dataclass(order=True)
class _Request:
    priority: int
    seq: int
    kind: Hashable = field(compare=False)
    arrays: tuple[np.ndarray, ...] = field(compare=False)
    future: Future = field(compare=False)

    @property
    def rows(self) -> int:
        return len(self.arrays[0])


class DynamicBatcher:
    """Merge concurrent calls of registered functions into batches run by one worker thread."""

    RECENT_S = 2.0

    def __init__(
        self,
        *,
        max_batch: int = 64,
        max_wait_s: float = 0.005,
        max_queue: int = 64,
        timeout_s: float = 30.0,
    ):
        self.max_batch, self.max_wait_s = max_batch, max_wait_s
        self.max_queue, self.timeout_s = max_queue, timeout_s
        self._kinds: dict[Hashable, _Kind] = {}
        self._submitted: list[tuple[float, int]] = []  # (when, priority) of recent requests
        self._answered: dict[int, float] = {}  # priority -> when its last batch was answered
        self._pending: list[_Request] = []
        self._ready = threading.Condition()
        self._seq = count()
        self._worker: threading.Thread | None = None
        self._closed = False
        # A daemon worker still inside TensorFlow when the interpreter exits aborts the process.
        # A weak reference: a batcher nobody uses any more must not live on for the exit hook.
        atexit.register(_close_at_exit, weakref.ref(self))
        self.batches: list[tuple[Hashable, int]] = []  # (kind, rows) of the last 1,000 batches

    def register(
        self, kind: Hashable, fn: BatchFn, priority: int = 0, after_quiet_s: float = 0.0
    ) -> None:
        """``fn(*arrays)`` over stacked rows; lower ``priority`` is served first; run only once
        no more urgent request has been submitted or answered for ``after_quiet_s`` per such
        request of the last RECENT_S."""
        self._kinds[kind] = _Kind(fn, priority, after_quiet_s)

    def submit(self, kind: Hashable, *arrays: np.ndarray) -> Future:
        """Queue one request (arrays with the same number of rows); its Future gets its rows."""
        fn_priority = self._kinds[kind].priority
        arrays = tuple(np.asarray(a) for a in arrays)
        if len({len(a) for a in arrays}) != 1:
            raise ValueError("every array of a request needs the same number of rows")
        future: Future = Future()
        with self._ready:
            if self._closed:
                raise Busy("The server is shutting down.")
            if len(self._pending) >= self.max_queue:
                raise Overloaded(
                    f"The server is answering {self.max_queue} requests already; "
                    "try again in a moment."
                )
            self._pending.append(_Request(fn_priority, next(self._seq), kind, arrays, future))
            now = time.monotonic()
            recent = [(t, p) for t, p in self._submitted if now - t < self.RECENT_S]
            self._submitted = [*recent, (now, fn_priority)]
            self._start_worker()
            self._ready.notify()
        return future

    def __call__(self, kind: Hashable, *arrays: np.ndarray, timeout_s: float | None = None):
        """Submit and wait: this caller's rows of the result (or its parts)."""
        future = self.submit(kind, *arrays)
        wait = self.timeout_s if timeout_s is None else timeout_s
        try:
            return future.result(timeout=wait)
        except (FutureTimeout, CancelledError):
            future.cancel()  # not started yet: the worker will skip it
            raise TimedOut(
                f"No answer within {wait:g} s: the server is busy; try again in a moment."
            ) from None

    def close(self, timeout_s: float = 30.0) -> None:
        """Cancel what is queued, let the batch in progress finish, and stop the worker."""
        with self._ready:
            self._closed = True
            for request in self._pending:
                request.future.cancel()
            self._pending = []
            self._ready.notify_all()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout=timeout_s)

    def _start_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._serve, name="batcher", daemon=True)
            self._worker.start()

    def _serve(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            live = [r for r in batch if r.future.set_running_or_notify_cancel()]
            if live:
                self._run(live)

    def _next_batch(self) -> list[_Request] | None:
        """The most urgent request, plus every request of its kind that arrives within
        ``max_wait_s`` of it, up to ``max_batch`` rows."""
        with self._ready:
            first = self._most_urgent()
            if first is None:
                return None
            deadline = time.monotonic() + self.max_wait_s
            while sum(r.rows for r in self._batch_of(first.kind)) < self.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._ready.wait(timeout=left)  # for more of the same kind
            batch = self._batch_of(first.kind)
            taken = {id(r) for r in batch}
            self._pending = [r for r in self._pending if id(r) not in taken]
            return batch

    def _most_urgent(self) -> _Request | None:
        """Wait for a request whose kind may run now (None once closed); holds the lock."""
        while True:
            while not self._pending and not self._closed:
                self._ready.wait()
            if self._closed:
                return None
            first = min(self._pending)
            quiet = self._kinds[first.kind].after_quiet_s
            now = time.monotonic()
            urgent = [
                t for t, p in self._submitted if p < first.priority and now - t < self.RECENT_S
            ]
            answered = [t for p, t in self._answered.items() if p < first.priority]
            wait = max([*urgent, *answered], default=now) + quiet * len(urgent) - now
            if wait <= 0:
                return first
            self._ready.wait(timeout=wait)  # woken early by any new request

    def _batch_of(self, kind: Hashable) -> list[_Request]:
        """The queued requests of ``kind`` that make its next batch, oldest first, up to
        max_batch rows (the first request always, however many rows it has)."""
        batch, rows = [], 0
        for request in sorted(r for r in self._pending if r.kind == kind):
            if batch and rows + request.rows > self.max_batch:
                break
            batch.append(request)
            rows += request.rows
        return batch

    def _run(self, batch: list[_Request]) -> None:
        fn = self._kinds[batch[0].kind].fn
        stacked = [np.concatenate(parts) for parts in zip(*(r.arrays for r in batch), strict=True)]
        self.batches = [*self.batches[-999:], (batch[0].kind, len(stacked[0]))]
        try:
            result = fn(*stacked)
        except Exception as exc:  # noqa: BLE001 - every caller of the batch gets the error
            for request in batch:
                request.future.set_exception(exc)
            return
        finally:
            with self._ready:
                self._answered[batch[0].priority] = time.monotonic()
        start = 0
        for request in batch:
            rows = slice(start, start + request.rows)
            start = rows.stop
            request.future.set_result(_rows(result, rows))


def _rows(result, rows: slice):
    """One caller's share of a batch result: its rows of every array, exceptions as they are."""
    if isinstance(result, dict):
        return {k: v if isinstance(v, BaseException) else v[rows] for k, v in result.items()}
    return result[rows]


def _close_at_exit(batcher_ref: weakref.ref) -> None:
    batcher = batcher_ref()
    if batcher is not None:
        batcher.close()
