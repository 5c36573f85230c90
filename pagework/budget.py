"""A per-worker budget of pixels in flight, so that parallel large pages cannot exhaust memory.

A request holds its page's pixel count while its pixels are decoded, cleaned and encoded; one
that does not fit waits for others to finish, and after `wait` seconds gets code 5 (retry). A
page alone always fits (the limit is raised to it), so nothing valid is refused for good.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pagework.codes import ApiError, Code

BUSY_DETAIL = "o serviço está ocupado com outras páginas grandes; tente novamente"


class PixelBudget:
    def __init__(self, limit: int, wait: float,
                 track: Callable[[int], object] = lambda change: None) -> None:
        self.limit = limit
        self.wait = wait
        self.in_use = 0
        self._track = track  # e.g. a gauge's inc, told of every change
        self._changed = threading.Condition()

    @contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        pixels = min(pixels, self.limit)
        deadline = time.monotonic() + self.wait
        with self._changed:
            while self.in_use + pixels > self.limit:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ApiError(Code.MODEL_UNAVAILABLE, BUSY_DETAIL)
                self._changed.wait(left)
            self.in_use += pixels
        self._track(pixels)
        try:
            yield
        finally:
            self._track(-pixels)
            with self._changed:
                self.in_use -= pixels
                self._changed.notify_all()
