"""Dynamic batching for the HTTP server (as Triton's or BentoML's adaptive batching): concurrent requests are
scored together in one model call, and each is answered with its own rows and its own options.

One worker thread owns the model. It takes the oldest waiting request, waits at most `wait_ms` for more to
arrive (stopping early once `max_batch` texts are gathered; a request that would pass `max_batch` waits for
the next batch), scores all their texts in one `Predictor.predict_many` call (the scorer sorts them by token
length and pads each forward pass only to its own longest text: length-aware), and resolves each request's
future. At most `max_pending` texts wait at once; past that `submit` raises `Busy` (the server answers 503),
so a burst cannot grow the queue, and the memory, without bound.
"""
from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Sequence

from trainer.errors import TrainerError


class Busy(TrainerError):
    """More texts are waiting than the batcher accepts; the client should retry later."""


@dataclass
class _Job:
    texts: Sequence[str]
    top_k: int | None
    threshold: float | None
    explain: bool = False
    future: Future = field(default_factory=Future)


@dataclass
class BatchStats:
    batches: int = 0
    requests: int = 0
    texts: int = 0
    largest_batch: int = 0          # texts in the largest model call
    most_requests: int = 0          # requests answered by one model call

    def to_dict(self) -> dict:
        return {"batches": self.batches, "requests": self.requests, "texts": self.texts,
                "largest_batch": self.largest_batch, "most_requests_per_batch": self.most_requests,
                "mean_requests_per_batch": round(self.requests / self.batches, 2) if self.batches else 0.0}


_STOP = object()


class MicroBatcher:
    def __init__(self, predictor, max_batch: int = 64, wait_ms: float = 2.0, max_pending: int = 1024):
        if max_batch < 1 or max_pending < max_batch or wait_ms < 0:
            raise ValueError("need max_batch >= 1, max_pending >= max_batch and wait_ms >= 0")
        self.predictor, self.max_batch, self.wait = predictor, max_batch, wait_ms / 1000.0
        self.max_pending = max_pending
        self.stats = BatchStats()
        self._queue: queue.Queue = queue.Queue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="trainer-batcher", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, texts: Sequence[str], top_k: int | None = None, threshold: float | None = None,
               explain: bool = False) -> Future:
        """Queue one request; the future resolves to its predictions (a list, one per text)."""
        texts = list(texts)
        with self._lock:
            if not self._thread.is_alive():
                raise Busy("the batcher has stopped; the server is shutting down")
            if self._pending + len(texts) > self.max_pending:
                raise Busy(f"{self._pending} texts are waiting (at most {self.max_pending}); retry shortly")
            self._pending += len(texts)
        job = _Job(texts, top_k, threshold, explain)
        self._queue.put(job)
        return job.future

    def close(self, timeout: float = 10.0) -> None:
        """Answer what is queued, then stop the worker."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _gather(self, first: _Job) -> tuple[list[_Job], object]:
        """`first` and the requests that arrive within the wait window, up to max_batch texts; also the
        request (or the stop mark) taken from the queue that did not fit, to start the next batch."""
        jobs, n = [first], len(first.texts)
        deadline = time.monotonic() + self.wait
        while n < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                nxt = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is _STOP or n + len(nxt.texts) > self.max_batch:
                return jobs, nxt
            jobs.append(nxt)
            n += len(nxt.texts)
        return jobs, None

    def _run(self) -> None:
        carry = None
        while True:
            job = carry if carry is not None else self._queue.get()
            carry = None
            if job is _STOP:
                return
            jobs, carry = self._gather(job)
            n = sum(len(j.texts) for j in jobs)
            try:
                results = self.predictor.predict_many([(j.texts, j.top_k, j.threshold, j.explain) for j in jobs])
            except BaseException as exc:  # noqa: BLE001 - every waiting request gets the failure
                for j in jobs:
                    j.future.set_exception(exc)
            else:
                for j, result in zip(jobs, results):
                    j.future.set_result(result)
            finally:
                with self._lock:
                    self._pending -= n
                s = self.stats
                s.batches, s.requests, s.texts = s.batches + 1, s.requests + len(jobs), s.texts + n
                s.largest_batch, s.most_requests = max(s.largest_batch, n), max(s.most_requests, len(jobs))
