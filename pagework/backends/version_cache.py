"""The model version a model server reports AVAILABLE, for the log's versao_modelo: asked at most
every `ttl` seconds, and kept as last known while the server does not answer (the predict call is
what reports an outage)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pagework.backends.base import BackendUnavailable

VERSION_TTL = 10.0  # seconds a model status answer is trusted


class VersionCache:
    def __init__(self, read: Callable[[], str], initial: str = "",
                 ttl: float = VERSION_TTL) -> None:
        self._read = read
        self._version = initial
        self._ttl = ttl
        self._checked = -ttl - 1.0
        self._lock = threading.Lock()

    def get(self) -> str:
        """The cached version; one caller at a time refreshes it when it is older than ttl."""
        now = time.monotonic()
        if now - self._checked > self._ttl and self._lock.acquire(blocking=False):
            try:
                self.set(self._read())
                self._checked = now
            except BackendUnavailable:
                pass
            finally:
                self._lock.release()
        return self._version

    def set(self, version: str) -> None:
        """A version just read elsewhere (e.g. by a readiness check); empty keeps the last."""
        self._version = version or self._version
