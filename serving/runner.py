"""Runs `:predict` calls of one model version, batched or not, within the REST timeout."""

from __future__ import annotations

import contextlib
from concurrent.futures import Executor, Future
from concurrent.futures import TimeoutError as FutureTimeout

import numpy as np

from serving.batching import BatchScheduler, SchedulerClosed
from serving.config_files import BatchingOptions
from serving.errors import Code, ServingError
from serving.servable import Servable


class VersionRunner:
    """A servable plus the way its calls are scheduled: the server's shared pool (bounded by
    --rest_api_num_threads) or, with --enable_batching, its own batch scheduler."""

    def __init__(self, servable: Servable, pool: Executor,
                 batching: BatchingOptions | None = None) -> None:
        self.servable = servable
        self._pool = pool
        self._scheduler = (
            BatchScheduler(servable.run, batching, name=f"batch-{servable.version}")
            if batching else None
        )

    def predict(self, signature: str, inputs: dict[str, np.ndarray],
                timeout_seconds: float | None) -> dict[str, np.ndarray]:
        """Waits for the result; past the timeout the caller gets DEADLINE_EXCEEDED (the call
        itself cannot be interrupted and finishes in the background)."""
        future: Future | None = None
        if self._scheduler:
            with contextlib.suppress(SchedulerClosed):  # unloaded meanwhile: still answer
                future = self._scheduler.submit(signature, inputs)
        if future is None:
            future = self._pool.submit(self.servable.run, signature, inputs)
        try:
            return future.result(timeout=timeout_seconds)
        except FutureTimeout:
            future.cancel()
            raise ServingError(Code.DEADLINE_EXCEEDED, "Deadline Exceeded") from None

    def close(self) -> None:
        if self._scheduler:
            self._scheduler.close()
