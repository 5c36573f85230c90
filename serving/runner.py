"""Runs `:predict` calls of one model version within the REST timeout."""

from __future__ import annotations

from concurrent.futures import Executor
from concurrent.futures import TimeoutError as FutureTimeout

import numpy as np

from serving.errors import Code, ServingError
from serving.servable import Servable


class VersionRunner:
    """A servable and the server's shared pool (bounded by --rest_api_num_threads). Requests are
    not batched: --enable_batching is read and its file checked, as production's TF Serving
    needs them right, but the stand-in runs each call on its own."""

    def __init__(self, servable: Servable, pool: Executor) -> None:
        self.servable = servable
        self._pool = pool

    def predict(self, signature: str, inputs: dict[str, np.ndarray],
                timeout_seconds: float | None) -> dict[str, np.ndarray]:
        """Waits for the result; past the timeout the caller gets DEADLINE_EXCEEDED (the call
        itself cannot be interrupted and finishes in the background)."""
        future = self._pool.submit(self.servable.run, signature, inputs)
        try:
            return future.result(timeout=timeout_seconds)
        except FutureTimeout:
            future.cancel()
            raise ServingError(Code.DEADLINE_EXCEEDED, "Deadline Exceeded") from None

    def close(self) -> None:
        pass
