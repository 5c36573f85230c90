"""Server-side batching of concurrent `:predict` calls, after TF Serving's batching session.

Requests on the same signature whose inputs agree in dtype and in every dimension but the first
wait in one queue; a batch thread takes up to `max_batch_size` rows when the queue is full or its
oldest request has waited `batch_timeout_micros`, runs them as one call, and hands each request
its own rows of the outputs. As in TF Serving, an error in a batched call fails every request of
that batch. Requests that cannot be concatenated (scalars, inputs of unequal first dimension)
run alone, through the same threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from itertools import count

import numpy as np

from serving.config_files import BatchingOptions
from serving.errors import Code, ServingError

log = logging.getLogger(__name__)

RunFunction = Callable[[str, dict[str, np.ndarray]], dict[str, np.ndarray]]


@dataclass
class _Task:
    inputs: dict[str, np.ndarray]
    rows: int
    future: Future = field(default_factory=Future)
    enqueued: float = field(default_factory=time.monotonic)


@dataclass
class _Queue:
    signature: str
    tasks: deque = field(default_factory=deque)
    rows: int = 0


class SchedulerClosed(RuntimeError):
    """The version was unloaded between a request's lookup and its submit."""


class BatchScheduler:
    """Batches `submit` calls for one model version; `close` drains what is queued."""

    def __init__(self, run: RunFunction, options: BatchingOptions, name: str = "batch") -> None:
        self._run = run
        self._options = options
        self._timeout = options.batch_timeout_micros / 1e6
        self._queues: dict[tuple, _Queue] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._solo_ids = count()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(options.num_batch_threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, signature: str, inputs: dict[str, np.ndarray]) -> Future:
        """Queues one request; the future holds its outputs or a ServingError."""
        rows = _batch_rows(inputs)
        max_size = self._options.max_batch_size
        if rows is not None and rows > max_size:
            raise ServingError(Code.INVALID_ARGUMENT, f"Task size {rows} is larger than maximum "
                               f"input batch size {max_size}")
        key = _batch_key(signature, inputs) if rows is not None else ("solo", next(self._solo_ids))
        task = _Task(inputs, rows or 0)
        with self._cond:
            if self._closed:
                raise SchedulerClosed("the batch scheduler is closed")
            queue = self._queues.setdefault(key, _Queue(signature))
            if queue.rows + task.rows > self._options.max_enqueued_batches * max_size:
                raise ServingError(
                    Code.UNAVAILABLE,
                    "The batch scheduling queue to which this task was submitted is full",
                )
            queue.tasks.append(task)
            queue.rows += task.rows
            self._cond.notify()
        return task.future

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        while True:
            with self._cond:
                batch = self._take_batch()
                while batch is None and not (self._closed and not self._queues):
                    self._cond.wait(self._wait_seconds())
                    batch = self._take_batch()
                if batch is None:
                    return
            self._process(*batch)

    def _take_batch(self) -> tuple[str, list[_Task]] | None:
        """The ready queue whose head waited longest: full, timed out, solo or closing."""
        now = time.monotonic()
        ready = [
            (queue.tasks[0].enqueued, key) for key, queue in self._queues.items()
            if self._closed or key[0] == "solo" or queue.rows >= self._options.max_batch_size
            or now - queue.tasks[0].enqueued >= self._timeout
        ]
        if not ready:
            return None
        key = min(ready)[1]
        queue = self._queues[key]
        tasks: list[_Task] = []
        rows = 0
        while queue.tasks and (not tasks or rows + queue.tasks[0].rows
                               <= self._options.max_batch_size):
            task = queue.tasks.popleft()
            rows += task.rows
            queue.rows -= task.rows
            if task.future.set_running_or_notify_cancel():
                tasks.append(task)
        if not queue.tasks:
            del self._queues[key]
        return (queue.signature, tasks) if tasks else self._take_batch()

    def _wait_seconds(self) -> float | None:
        if not self._queues:
            return None
        oldest = min(queue.tasks[0].enqueued for queue in self._queues.values())
        return max(0.0, oldest + self._timeout - time.monotonic())

    def _process(self, signature: str, tasks: list[_Task]) -> None:
        try:
            inputs, total = self._merge(tasks)
            outputs = self._run(signature, inputs)
            results = _split(outputs, [t.rows for t in tasks], total) if len(tasks) > 1 \
                else [outputs]
        except ServingError as error:
            for task in tasks:
                task.future.set_exception(error)
            return
        except Exception as error:  # any failure must reach every waiting caller
            log.exception("batched call on signature %s failed", signature)
            for task in tasks:
                task.future.set_exception(ServingError(Code.INTERNAL, str(error)))
            return
        for task, result in zip(tasks, results, strict=True):
            task.future.set_result(result)

    def _merge(self, tasks: list[_Task]) -> tuple[dict[str, np.ndarray], int]:
        """Concatenates the tasks' rows, input by input."""
        if len(tasks) == 1:
            return tasks[0].inputs, tasks[0].rows
        return ({name: np.concatenate([t.inputs[name] for t in tasks]) for name in tasks[0].inputs},
                sum(t.rows for t in tasks))


def _batch_rows(inputs: dict[str, np.ndarray]) -> int | None:
    """The shared first dimension of all inputs, or None when they cannot be batched."""
    sizes = {v.shape[0] if v.ndim else None for v in inputs.values()}
    if len(sizes) != 1 or None in sizes:
        return None
    return sizes.pop()


def _batch_key(signature: str, inputs: dict[str, np.ndarray]) -> tuple:
    return ("batch", signature,
            tuple(sorted((k, v.dtype.str, v.shape[1:]) for k, v in inputs.items())))


def _split(outputs: dict[str, np.ndarray], rows: list[int], total: int) -> list[dict]:
    for name, value in outputs.items():
        if value.ndim == 0 or value.shape[0] != total:
            raise ServingError(
                Code.FAILED_PRECONDITION,
                f"Batched output tensor {name}'s 0th dimension does not equal the sum of the "
                "0th dimension sizes of the input tensors",
            )
    results, start = [], 0
    for size in rows:
        results.append({k: v[start:start + size] for k, v in outputs.items()})
        start += size
    return results
